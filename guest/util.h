/* SPDX-License-Identifier: GPL-2.0 */
/*
 * File and CPU-list helpers shared by the guest programs (bench-helper,
 * govbench, soak-helper). Include after the system headers.
 */
#ifndef GUEST_UTIL_H
#define GUEST_UTIL_H

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef MAXCPU
#define MAXCPU 64
#endif

/* Read @path into @buf, NUL-terminated: the bytes read, or -errno. */
static inline int read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	return n;
}

/* Write @s to @path in one write: 0, or -errno. */
static inline int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	n = n < 0 ? -errno : 0;
	close(fd);
	return n;
}

/* CPU list "2-7,9" (or "" / "\n") to a bitmap of CPUs below MAXCPU. */
static inline uint64_t parse_list(const char *s)
{
	uint64_t m = 0;

	while (*s) {
		char *e;
		long a, b;

		while (*s && !isdigit((unsigned char)*s))
			s++;
		if (!*s)
			break;
		a = b = strtol(s, &e, 10);
		if (*e == '-')
			b = strtol(e + 1, &e, 10);
		for (long i = a; i <= b && i < MAXCPU; i++)
			m |= 1ull << i;
		s = e;
	}
	return m;
}

#endif
