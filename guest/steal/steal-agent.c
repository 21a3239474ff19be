// SPDX-License-Identifier: GPL-2.0
/*
 * steal-agent: the host side of the test guest's steal clock.
 *
 * QEMU TCG gives a guest no steal clock, but the host knows each vCPU's
 * steal: QEMU runs one thread per vCPU (comm "CPU <n>/TCG" with
 * -name NAME,debug-threads=on), and the second field of
 * /proc/<pid>/task/<tid>/schedstat is that thread's run delay in ns, the
 * time it was runnable but not running, which is what KVM reports as
 * steal. Every period (default 2 ms) this agent writes each vCPU's
 * cumulative run delay into a file that QEMU shares with the guest through
 * an ivshmem-plain device; the guest's test-only driver
 * (guest/kernel/ patch, drivers/misc/ivshmem-steal.c) makes
 * it the paravirt steal clock.
 *
 * It also changes the host capacity on request: the guest (debugfs
 * ivshmem_steal/host_cpus, host_hogs) or a command-line schedule (-s) asks
 * for the vCPU threads to be confined to the first N host CPUs QEMU may
 * use (0: all of them, the affinity each thread had when found) and for H
 * busy threads on the host; the agent applies it with sched_setaffinity()
 * and acknowledges. The busy threads are threads of the agent and end with
 * it.
 *
 * Shared layout (little endian, offsets in bytes; see struct steal_shm):
 *   0 magic "STEL" (0x4c455453)   4 version 1   8 nr_cpus   12 nr_threads
 *  16 period_ns  24 seq (update count)
 *  32 req_seq, 36 req_host_cpus, 40 req_hogs       (written by the guest)
 *  44 ack_seq, 48 ack_status, 52 cur_host_cpus, 56 cur_hogs, 60 host_ncpus
 *  64 u64 steal_ns[nr_cpus]                         (one aligned store each)
 *
 * Usage:
 *   steal-agent -I -f FILE -n NR [-z SIZE]   create FILE with the header
 *   steal-agent -f FILE (-p PID | -w PIDFILE) [-P USEC] [-H HOGS]
 *               [-s T:cN|T:hN,...] [-v]
 * -s applies at T seconds after attaching: cN restricts the vCPUs to N host
 * CPUs (c0: all), hN runs N busy threads. The agent exits when QEMU does
 * (or on SIGTERM/SIGINT) and prints its own CPU cost and the final steal.
 *
 * Test infrastructure for the paravirt scheduling series, not part of it.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define STEAL_MAGIC	0x4c455453u
#define STEAL_VERSION	1
#define MAX_VCPUS	1024
#define MAX_HOGS	64
#define MAX_SCHED	64

struct steal_shm {
	uint32_t magic, version, nr_cpus, nr_threads;
	uint64_t period_ns, seq;
	uint32_t req_seq, req_host_cpus, req_hogs;
	uint32_t ack_seq;
	int32_t ack_status;
	uint32_t cur_host_cpus, cur_hogs, host_ncpus;
	uint64_t steal_ns[];
};
_Static_assert(__builtin_offsetof(struct steal_shm, steal_ns) == 64, "layout");

struct vcpu {
	int tid, fd;		/* fd: schedstat, kept open */
	int index;		/* n of "CPU n/TCG", -1: not a per-vCPU thread */
	cpu_set_t orig;		/* affinity when found */
};

static struct vcpu vcpus[MAX_VCPUS + 1];
static int nr_vcpus;
static struct steal_shm *shm;
static uint32_t slots;
static int qpid, verbose;
static volatile sig_atomic_t stop;
static volatile int hogs_run[MAX_HOGS];
static pthread_t hog_thr[MAX_HOGS];
static int nr_hogs, cur_cpus;
static cpu_set_t host_set;	/* CPUs the vCPU threads were allowed */
static int host_list[CPU_SETSIZE], host_n;

static void die(const char *msg)
{
	fprintf(stderr, "steal-agent: %s: %s\n", msg, strerror(errno));
	exit(1);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void *hog(void *arg)
{
	volatile int *run = arg;

	while (*run && !stop)
		;
	return NULL;
}

static int set_hogs(int n)
{
	if (n < 0 || n > MAX_HOGS)
		return -EINVAL;
	while (nr_hogs > n) {
		nr_hogs--;
		hogs_run[nr_hogs] = 0;
		pthread_join(hog_thr[nr_hogs], NULL);
	}
	while (nr_hogs < n) {
		hogs_run[nr_hogs] = 1;
		if (pthread_create(&hog_thr[nr_hogs], NULL, hog,
				   (void *)&hogs_run[nr_hogs]))
			return -EAGAIN;
		nr_hogs++;
	}
	return 0;
}

/* Confine every vCPU thread to the first n host CPUs (0: as found). */
static int set_host_cpus(int n)
{
	cpu_set_t set;
	int i, ret = 0;

	if (n < 0 || n > host_n)
		return -EINVAL;
	CPU_ZERO(&set);
	for (i = 0; i < n; i++)
		CPU_SET(host_list[i], &set);
	for (i = 0; i < nr_vcpus; i++) {
		if (sched_setaffinity(vcpus[i].tid, sizeof(cpu_set_t),
				      n ? &set : &vcpus[i].orig) && errno != ESRCH)
			ret = -errno;
	}
	if (!ret)
		cur_cpus = n;
	return ret;
}

static void publish_state(void)
{
	__atomic_store_n(&shm->cur_host_cpus, cur_cpus, __ATOMIC_RELAXED);
	__atomic_store_n(&shm->cur_hogs, nr_hogs, __ATOMIC_RELAXED);
}

static int vcpu_cmp(const void *a, const void *b)
{
	return ((const struct vcpu *)a)->index - ((const struct vcpu *)b)->index;
}

/* Find QEMU's vCPU threads; returns how many per-vCPU threads there are. */
static int scan_threads(void)
{
	char path[128], comm[64];
	struct dirent *de;
	int i, per_vcpu = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", qpid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((de = readdir(d)) && nr_vcpus < MAX_VCPUS) {
		int tid = atoi(de->d_name), fd, n, index;
		ssize_t len;

		if (tid <= 0)
			continue;
		for (i = 0; i < nr_vcpus && vcpus[i].tid != tid; i++)
			;
		if (i < nr_vcpus)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%d/comm", qpid, tid);
		fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		len = read(fd, comm, sizeof(comm) - 1);
		close(fd);
		if (len <= 0)
			continue;
		comm[len] = 0;
		/* "CPU 3/TCG" (or /KVM); one TCG thread for all: "ALL CPUs/TCG". */
		if (sscanf(comm, "CPU %d/%n", &index, &n) == 1 && n > 0)
			;
		else if (!strncmp(comm, "ALL CPUs/", 9))
			index = -1;
		else
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%d/schedstat", qpid, tid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		vcpus[nr_vcpus].tid = tid;
		vcpus[nr_vcpus].fd = fd;
		vcpus[nr_vcpus].index = index;
		if (sched_getaffinity(tid, sizeof(cpu_set_t), &vcpus[nr_vcpus].orig))
			vcpus[nr_vcpus].orig = host_set;
		if (verbose)
			fprintf(stderr, "steal-agent: thread %d '%.*s' index %d\n",
				tid, (int)strcspn(comm, "\n"), comm, index);
		nr_vcpus++;
		if (cur_cpus)	/* a restriction in force covers new threads */
			set_host_cpus(cur_cpus);
	}
	closedir(d);
	qsort(vcpus, nr_vcpus, sizeof(vcpus[0]), vcpu_cmp);
	for (i = 0; i < nr_vcpus; i++)
		per_vcpu += vcpus[i].index >= 0;
	return per_vcpu;
}

/* One pass: read every vCPU's run delay and store it. 0, or -1 if QEMU is gone. */
static int update(void)
{
	char buf[96];
	int i, gone = 0;

	for (i = 0; i < nr_vcpus; i++) {
		unsigned long long exec, delay;
		ssize_t len = pread(vcpus[i].fd, buf, sizeof(buf) - 1, 0);

		if (len <= 0) {
			gone++;
			continue;
		}
		buf[len] = 0;
		if (sscanf(buf, "%llu %llu", &exec, &delay) != 2)
			continue;
		if (vcpus[i].index >= 0 && (uint32_t)vcpus[i].index < slots)
			__atomic_store_n(&shm->steal_ns[vcpus[i].index], delay,
					 __ATOMIC_RELAXED);
	}
	__atomic_store_n(&shm->seq, shm->seq + 1, __ATOMIC_RELEASE);
	if (nr_vcpus ? gone == nr_vcpus : kill(qpid, 0) && errno == ESRCH)
		return -1;
	return 0;
}

static void handle_request(void)
{
	uint32_t seq = __atomic_load_n(&shm->req_seq, __ATOMIC_ACQUIRE);
	int ret;

	if (seq == __atomic_load_n(&shm->ack_seq, __ATOMIC_RELAXED))
		return;
	ret = set_host_cpus(__atomic_load_n(&shm->req_host_cpus, __ATOMIC_RELAXED));
	if (!ret)
		ret = set_hogs(__atomic_load_n(&shm->req_hogs, __ATOMIC_RELAXED));
	if (verbose)
		fprintf(stderr, "steal-agent: request %u: host_cpus %u hogs %u: %d\n",
			seq, shm->req_host_cpus, shm->req_hogs, ret);
	publish_state();
	__atomic_store_n(&shm->ack_status, ret, __ATOMIC_RELAXED);
	__atomic_store_n(&shm->ack_seq, seq, __ATOMIC_RELEASE);
}

static void *map_file(const char *file, size_t *size)
{
	struct stat st;
	void *p;
	int fd = open(file, O_RDWR | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st))
		die(file);
	if ((size_t)st.st_size < sizeof(struct steal_shm))
		errno = EINVAL, die(file);
	p = mmap(NULL, st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		die("mmap");
	close(fd);
	*size = st.st_size;
	return p;
}

static int init_file(const char *file, unsigned int nr, size_t size)
{
	int fd = open(file, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0 || ftruncate(fd, size))
		die(file);
	close(fd);
	shm = map_file(file, &size);
	if (nr > (size - sizeof(*shm)) / 8 || nr > MAX_VCPUS)
		errno = EINVAL, die("too many vCPUs for the file size");
	shm->version = STEAL_VERSION;
	shm->nr_cpus = nr;
	__atomic_store_n(&shm->magic, STEAL_MAGIC, __ATOMIC_RELEASE);
	msync(shm, size, MS_SYNC);
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: steal-agent -I -f FILE -n NR_VCPUS [-z SIZE]\n"
		"       steal-agent -f FILE (-p PID | -w PIDFILE) [-P USEC] [-H HOGS]\n"
		"                   [-s T:cN|T:hN,...] [-v]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *file = NULL, *pidfile = NULL, *sched_arg = NULL;
	unsigned long period_us = 2000, size = 1 << 20;
	int opt, init = 0, nr = 0, hogs = 0, per_vcpu = 0, i;
	double sched_t[MAX_SCHED];
	char sched_k[MAX_SCHED];
	int sched_v[MAX_SCHED], nr_sched = 0, next_sched = 0;
	uint64_t start, next, period, loops = 0, scan_until;
	struct timespec ts;
	struct rusage ru;
	cpu_set_t self;

	while ((opt = getopt(argc, argv, "If:n:z:p:w:P:H:s:v")) != -1) {
		switch (opt) {
		case 'I': init = 1; break;
		case 'f': file = optarg; break;
		case 'n': nr = atoi(optarg); break;
		case 'z': size = strtoul(optarg, NULL, 0); break;
		case 'p': qpid = atoi(optarg); break;
		case 'w': pidfile = optarg; break;
		case 'P': period_us = strtoul(optarg, NULL, 0); break;
		case 'H': hogs = atoi(optarg); break;
		case 's': sched_arg = optarg; break;
		case 'v': verbose = 1; break;
		default: usage();
		}
	}
	if (!file || (init && nr <= 0) || (!init && !qpid && !pidfile) ||
	    !period_us)
		usage();
	if (init)
		return init_file(file, nr, size);

	while (sched_arg && *sched_arg && nr_sched < MAX_SCHED) {
		int n;

		if (sscanf(sched_arg, "%lf:%c%d%n", &sched_t[nr_sched],
			   &sched_k[nr_sched], &sched_v[nr_sched], &n) != 3 ||
		    (sched_k[nr_sched] != 'c' && sched_k[nr_sched] != 'h'))
			usage();
		nr_sched++;
		sched_arg += n + (sched_arg[n] == ',');
	}

	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGPIPE, SIG_IGN);

	/* Wait up to 30 s for QEMU to write its pid file. */
	for (i = 0; pidfile && !qpid && i < 3000 && !stop; i++) {
		FILE *f = fopen(pidfile, "r");

		if (f) {
			if (fscanf(f, "%d", &qpid) != 1)
				qpid = 0;
			fclose(f);
		}
		if (!qpid)
			usleep(10000);
	}
	if (!qpid) {
		fprintf(stderr, "steal-agent: no QEMU pid in %s\n", pidfile);
		return 1;
	}

	shm = map_file(file, &size);
	if (shm->magic != STEAL_MAGIC || shm->version != STEAL_VERSION)
		errno = EINVAL, die("file not initialized (steal-agent -I)");
	slots = shm->nr_cpus;
	if (slots > (size - sizeof(*shm)) / 8)
		slots = (size - sizeof(*shm)) / 8;
	period = period_us * 1000;
	shm->period_ns = period;

	/* "All host CPUs" is what the agent (started like QEMU) may use. */
	if (sched_getaffinity(0, sizeof(self), &self))
		die("sched_getaffinity");
	host_set = self;
	for (i = 0; i < CPU_SETSIZE; i++)
		if (CPU_ISSET(i, &host_set))
			host_list[host_n++] = i;
	shm->host_ncpus = host_n;
	/* Timely updates matter more than the few us they cost. */
	setpriority(PRIO_PROCESS, 0, -5);

	if (set_hogs(hogs))
		die("hog threads");
	publish_state();

	start = now_ns();
	/* vCPU threads appear while QEMU initializes: rescan for a while. */
	scan_until = start + 10000000000ull;
	next = start;
	while (!stop) {
		uint64_t now = now_ns();

		if ((uint32_t)per_vcpu < slots && now < scan_until &&
		    (loops % 16) == 0) {
			per_vcpu = scan_threads();
			if (per_vcpu < 0)
				break;
			__atomic_store_n(&shm->nr_threads, per_vcpu, __ATOMIC_RELAXED);
		}
		if (update())
			break;
		handle_request();
		while (next_sched < nr_sched &&
		       now - start >= sched_t[next_sched] * 1e9) {
			int ret = sched_k[next_sched] == 'c' ?
				set_host_cpus(sched_v[next_sched]) :
				set_hogs(sched_v[next_sched]);

			if (verbose || ret)
				fprintf(stderr, "steal-agent: t=%.1f %s %d: %d\n",
					(now - start) / 1e9,
					sched_k[next_sched] == 'c' ? "host_cpus" : "hogs",
					sched_v[next_sched], ret);
			publish_state();
			next_sched++;
		}
		loops++;
		next += period;
		if (next < now)		/* fell behind: do not catch up */
			next = now + period;
		ts.tv_sec = next / 1000000000ull;
		ts.tv_nsec = next % 1000000000ull;
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR &&
		       !stop)
			;
	}
	stop = 1;
	set_hogs(0);

	/* The cost of the updates alone: this thread, not the hogs. */
	getrusage(RUSAGE_THREAD, &ru);
	{
		double wall = (now_ns() - start) / 1e9;
		double cpu = ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
			(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;

		fprintf(stderr, "steal-agent: %.1f s, %llu updates, %d vCPU threads (%d per-vCPU), cpu %.3f s (%.2f%% of one host CPU)\n",
			wall, (unsigned long long)loops, nr_vcpus, per_vcpu, cpu,
			wall > 0 ? 100 * cpu / wall : 0);
		fprintf(stderr, "steal-agent: steal ms:");
		for (i = 0; i < (int)slots && i < MAX_VCPUS; i++)
			fprintf(stderr, " %llu", (unsigned long long)shm->steal_ns[i] / 1000000);
		fprintf(stderr, "\n");
	}
	return 0;
}
