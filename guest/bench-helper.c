// SPDX-License-Identifier: GPL-2.0
/*
 * Static helper for scripts/bench.sh, run in the guest (busybox has no
 * nanosecond clock). Built with 'gcc -static -O2 -pthread'.
 *
 * Usage: bench-helper now
 *          print CLOCK_MONOTONIC in ns
 *        bench-helper spin N [SECONDS]
 *          fork N busy loops, stop them after SECONDS (default: when
 *          killed)
 *        bench-helper pingpong ROUNDS [SECONDS]
 *          pipe ping-pong between two processes, ROUNDS round trips or
 *          for SECONDS, whichever ends first; prints the round-trip time
 *          p50, p99 and mean in us and the round trips done as @@R lines
 *        bench-helper lock THREADS ITERATIONS
 *          THREADS threads share ITERATIONS passes through one pthread
 *          mutex (a short critical section, a little more work outside);
 *          prints the wall time in s as an @@R line
 *        bench-helper nice N COMMAND...
 *          run COMMAND at nice N (busybox here has no nice)
 *        bench-helper mech METHOD CPULIST NSPIN REPS TIMEOUT_MS
 *          with NSPIN busy loops, REPS times: take CPULIST away by METHOD
 *          and time until no busy loop is on those CPUs (apply-*), give
 *          them back and time until the busy loops are on every online CPU
 *          and on all but one (remove-*). METHOD is "hotplug" (offline,
 *          online) or file:PATH:APPLY:REMOVE, which writes APPLY or REMOVE
 *          to PATH (the paravirt knob, a cpuset partition). The spread is
 *          timed twice: until the loops are placed on the CPUs (polled
 *          through /proc), and until they have run there, as each loop
 *          notes when it first runs on a CPU; the second does not depend on
 *          when the observer's own vCPU gets to run on an overcommitted
 *          host. A drain or spread not reached in TIMEOUT_MS is "timeout".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

#define MAXSPIN 256

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void die(const char *what)
{
	perror(what);
	exit(1);
}

/*
 * Where the busy loops have run, shared with the observer: first[c] is the
 * first time (CLOCK_MONOTONIC ns) at or after 'since' that a loop ran on
 * CPU c. NULL when nobody watches.
 */
static struct spin_log {
	uint64_t since;
	uint64_t first[MAXCPU];
} *slog;

static void spin_forever(void)
{
	volatile unsigned long x = 0;

	for (;;) {
		/* A few microseconds of work between looks at the CPU. */
		for (int i = 0; i < 1000; i++)
			x++;
		if (slog) {
			int c = sched_getcpu();
			uint64_t since = __atomic_load_n(&slog->since, __ATOMIC_ACQUIRE);
			uint64_t old;

			if (c < 0 || c >= MAXCPU)
				continue;
			old = __atomic_load_n(&slog->first[c], __ATOMIC_RELAXED);
			if (old < since)
				__atomic_compare_exchange_n(&slog->first[c], &old, now_ns(), 0,
							    __ATOMIC_RELAXED, __ATOMIC_RELAXED);
		}
	}
}

static int spawn_spinners(pid_t *pids, int n)
{
	for (int i = 0; i < n; i++) {
		pid_t p = fork();

		if (p < 0)
			die("fork");
		if (p == 0) {
			/* Die with the parent. */
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			spin_forever();
		}
		pids[i] = p;
	}
	return n;
}

static void kill_spinners(pid_t *pids, int n)
{
	for (int i = 0; i < n; i++)
		kill(pids[i], SIGKILL);
	for (int i = 0; i < n; i++)
		waitpid(pids[i], NULL, 0);
}

/* Field 39 of /proc/PID/stat: the CPU the task is on (or queued on). */
static int task_cpu(pid_t pid)
{
	char path[64], buf[1024];
	int fd, n, field = 3;
	char *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	p = strrchr(buf, ')');
	if (!p)
		return -1;
	p += 2;			/* field 3, the state */
	while (field < 39 && *p) {
		if (*p++ == ' ')
			field++;
	}
	return atoi(p);
}

static void nap_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

	nanosleep(&ts, NULL);
}

/* Bitmap of the CPUs the spinners are on. */
static uint64_t where(pid_t *pids, int n)
{
	uint64_t m = 0;

	for (int i = 0; i < n; i++) {
		int c = task_cpu(pids[i]);

		if (c >= 0 && c < MAXCPU)
			m |= 1ull << c;
	}
	return m;
}

#define POLL_US 100

/* ns until no spinner is on a CPU in 'mask'; -1 on timeout. */
static int64_t wait_off(pid_t *pids, int n, uint64_t mask, uint64_t t0, int64_t tmo)
{
	for (;;) {
		uint64_t t = now_ns();

		if (!(where(pids, n) & mask))
			return t - t0;
		if ((int64_t)(t - t0) > tmo)
			return -1;
		nap_us(POLL_US);
	}
}

/* Start timing the spread at t0: forget where the loops ran before. */
static void spread_start(uint64_t t0)
{
	__atomic_store_n(&slog->since, t0, __ATOMIC_RELEASE);
}

/* The latest and the second latest of n times. */
static void two_latest(const uint64_t *ts, int n, uint64_t *last, uint64_t *second)
{
	*last = *second = 0;
	for (int i = 0; i < n; i++) {
		if (ts[i] > *last) {
			*second = *last;
			*last = ts[i];
		} else if (ts[i] > *second) {
			*second = ts[i];
		}
	}
}

/*
 * How the busy loops spread over 'want' from t0, in ns, -1 for what timed
 * out: until they are placed on all of its CPUs (placed[1]) and on all but
 * one (placed[0]), as polled through /proc/PID/stat; and until a loop has
 * run on all of them (ran[1]) and on all but one (ran[0]), as the loops
 * noted it themselves. spread_start(t0) must have been called.
 */
static void wait_spread(pid_t *pids, int n, uint64_t want, uint64_t t0,
			int64_t tmo, int64_t placed[2], int64_t ran[2])
{
	int nwant = __builtin_popcountll(want);
	uint64_t ts[MAXCPU], last, second;

	placed[0] = placed[1] = ran[0] = ran[1] = -1;
	for (;;) {
		uint64_t t = now_ns();
		int got;

		if (placed[1] < 0) {
			got = __builtin_popcountll(where(pids, n) & want);
			if (placed[0] < 0 && got >= nwant - 1)
				placed[0] = t - t0;
			if (got >= nwant)
				placed[1] = t - t0;
		}
		if (ran[1] < 0) {
			got = 0;
			for (int c = 0; c < MAXCPU; c++) {
				uint64_t f = __atomic_load_n(&slog->first[c], __ATOMIC_RELAXED);

				if ((want & (1ull << c)) && f >= t0)
					ts[got++] = f - t0;
			}
			two_latest(ts, got, &last, &second);
			if (ran[0] < 0 && got == nwant - 1)
				ran[0] = last;
			else if (ran[0] < 0 && got == nwant)
				ran[0] = nwant > 1 ? second : last;
			if (got == nwant)
				ran[1] = last;
		}
		if (placed[1] >= 0 && ran[1] >= 0)
			return;
		if ((int64_t)(now_ns() - t0) > tmo)
			return;
		nap_us(POLL_US);
	}
}

static uint64_t online_mask(void)
{
	char buf[256] = "";
	int fd = open("/sys/devices/system/cpu/online", O_RDONLY);

	if (fd < 0 || read(fd, buf, sizeof(buf) - 1) < 0)
		die("/sys/devices/system/cpu/online");
	close(fd);
	return parse_list(buf);
}

static void result(const char *workload, const char *metric, double v, const char *unit)
{
	printf("@@R workload=%s metric=%s value=%.6f unit=%s\n", workload, metric, v, unit);
	fflush(stdout);
}

static void result_ns(const char *workload, const char *metric, int64_t ns)
{
	if (ns < 0)
		printf("@@R workload=%s metric=%s value=timeout unit=ms\n", workload, metric);
	else
		result(workload, metric, ns / 1e6, "ms");
	fflush(stdout);
}

static int hotplug(uint64_t mask, const char *val)
{
	char path[64];

	for (int c = 0; c < MAXCPU; c++) {
		if (!(mask & (1ull << c)))
			continue;
		snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/online", c);
		if (write_file(path, val)) {
			fprintf(stderr, "bench-helper: %s <- %s failed\n", path, val);
			return -1;
		}
	}
	return 0;
}

/* Wait for the loops to spread over 'want' from t0; report as WHAT-{spread,ran}-{most,all}. */
static void spread_results(const char *what, pid_t *pids, int n, uint64_t want,
			   uint64_t t0, int64_t tmo)
{
	int64_t placed[2], ran[2];
	char m[64];

	wait_spread(pids, n, want, t0, tmo, placed, ran);
	for (int i = 0; i < 2; i++) {
		snprintf(m, sizeof(m), "%s-spread-%s", what, i ? "all" : "most");
		result_ns("mech", m, placed[i]);
		snprintf(m, sizeof(m), "%s-ran-%s", what, i ? "all" : "most");
		result_ns("mech", m, ran[i]);
	}
}

/*
 * How a method takes CPUs away and gives them back: by writing 'apply' and
 * 'remove' to a file (the paravirt knob, a cpuset partition), or, for
 * "hotplug", by offlining and onlining them.
 */
struct method {
	const char *path;	/* NULL: hotplug */
	char apply[64], remove[64];
};

static int method_parse(struct method *m, char *spec)
{
	char *apply, *remove;

	if (!strcmp(spec, "hotplug")) {
		m->path = NULL;
		return 0;
	}
	/* file:PATH:APPLY:REMOVE, APPLY and REMOVE possibly empty */
	if (strncmp(spec, "file:", 5))
		return -1;
	m->path = spec + 5;
	apply = strchr(m->path, ':');
	if (!apply)
		return -1;
	*apply++ = '\0';
	remove = strchr(apply, ':');
	if (!remove)
		return -1;
	*remove++ = '\0';
	snprintf(m->apply, sizeof(m->apply), "%s\n", apply);
	snprintf(m->remove, sizeof(m->remove), "%s\n", remove);
	return 0;
}

static int method_do(const struct method *m, uint64_t mask, bool apply)
{
	if (!m->path)
		return hotplug(mask, apply ? "0" : "1");
	if (write_file(m->path, apply ? m->apply : m->remove)) {
		fprintf(stderr, "bench-helper: %s <- %s failed\n", m->path,
			apply ? m->apply : m->remove);
		return -1;
	}
	return 0;
}

static int mech(char *spec, const char *list, int nspin, int reps, int tmo_ms)
{
	pid_t pids[MAXSPIN];
	uint64_t mask = parse_list(list), all = online_mask(), t0;
	int64_t tmo = (int64_t)tmo_ms * 1000000, placed[2], ran[2];
	struct sched_param sp = { .sched_priority = 50 };
	struct method m;

	if (method_parse(&m, spec)) {
		fprintf(stderr, "bench-helper: bad method %s\n", spec);
		return 2;
	}
	if (nspin > MAXSPIN)
		nspin = MAXSPIN;
	slog = mmap(NULL, sizeof(*slog), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (slog == MAP_FAILED)
		die("mmap");
	t0 = now_ns();
	spread_start(t0);
	spawn_spinners(pids, nspin);
	/*
	 * Poll at a real-time priority (after the fork: the busy loops stay
	 * SCHED_OTHER) so they do not delay the observer; it sleeps between
	 * polls and takes little CPU.
	 */
	if (sched_setscheduler(0, SCHED_FIFO, &sp))
		perror("sched_setscheduler");
	wait_spread(pids, nspin, all, t0, 5000000000ll, placed, ran);
	nap_us(300000);

	for (int r = 0; r < reps; r++) {
		t0 = now_ns();
		if (method_do(&m, mask, true))
			return 1;
		result_ns("mech", "apply-write", now_ns() - t0);
		result_ns("mech", "apply-drain", wait_off(pids, nspin, mask, t0, tmo));
		nap_us(300000);
		t0 = now_ns();
		spread_start(t0);
		if (method_do(&m, mask, false))
			return 1;
		result_ns("mech", "remove-write", now_ns() - t0);
		spread_results("remove", pids, nspin, all, t0, tmo);
		nap_us(300000);
	}
	kill_spinners(pids, nspin);
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int pingpong(long rounds, double max_s)
{
	uint64_t deadline;
	int ab[2], ba[2];
	uint64_t *rtt = calloc(rounds, sizeof(*rtt)), t0, sum = 0;
	char c = 0;
	pid_t p;

	if (!rtt || pipe(ab) || pipe(ba))
		die("pingpong");
	p = fork();
	if (p < 0)
		die("fork");
	if (p == 0) {
		close(ab[1]);
		close(ba[0]);
		while (read(ab[0], &c, 1) == 1)
			if (write(ba[1], &c, 1) != 1)
				break;
		_exit(0);
	}
	close(ab[0]);
	close(ba[1]);
	/* A few warm-up trips. */
	for (long i = 0; i < 100; i++)
		if (write(ab[1], &c, 1) != 1 || read(ba[0], &c, 1) != 1)
			die("pingpong");
	deadline = now_ns() + (uint64_t)(max_s * 1e9);
	for (long i = 0; i < rounds; i++) {
		t0 = now_ns();
		if (write(ab[1], &c, 1) != 1 || read(ba[0], &c, 1) != 1)
			die("pingpong");
		rtt[i] = now_ns() - t0;
		sum += rtt[i];
		if (t0 + rtt[i] > deadline) {
			rounds = i + 1;
			break;
		}
	}
	close(ab[1]);
	waitpid(p, NULL, 0);
	qsort(rtt, rounds, sizeof(*rtt), cmp_u64);
	result("pingpong", "rtt-p50", rtt[rounds / 2] / 1e3, "us");
	result("pingpong", "rtt-p99", rtt[rounds * 99 / 100] / 1e3, "us");
	result("pingpong", "rtt-mean", (double)sum / rounds / 1e3, "us");
	result("pingpong", "round-trips", rounds, "count");
	return 0;
}

static pthread_mutex_t lock_mutex = PTHREAD_MUTEX_INITIALIZER;
static volatile unsigned long lock_counter;

static void burn(int n)
{
	for (volatile int i = 0; i < n; i++)
		;
}

static void *lock_thread(void *arg)
{
	long n = (long)arg;

	for (long i = 0; i < n; i++) {
		pthread_mutex_lock(&lock_mutex);
		lock_counter++;
		burn(50);
		pthread_mutex_unlock(&lock_mutex);
		burn(200);
	}
	return NULL;
}

static int lock_bench(int nthreads, long iters)
{
	pthread_t th[MAXSPIN];
	uint64_t t0;

	if (nthreads < 1 || nthreads > MAXSPIN)
		nthreads = 8;
	t0 = now_ns();
	for (int i = 0; i < nthreads; i++)
		if (pthread_create(&th[i], NULL, lock_thread, (void *)(iters / nthreads)))
			die("pthread_create");
	for (int i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);
	result("lock-contention", "time", (now_ns() - t0) / 1e9, "s");
	return lock_counter == (unsigned long)(iters / nthreads) * nthreads ? 0 : 1;
}

int main(int argc, char **argv)
{
	const char *usage = "usage: bench-helper now | spin N [SECONDS] | pingpong ROUNDS [SECONDS] |"
			    " lock THREADS ITERATIONS | nice N COMMAND... |"
			    " mech METHOD CPULIST NSPIN REPS TIMEOUT_MS\n";

	if (argc >= 2 && !strcmp(argv[1], "now")) {
		printf("%llu\n", (unsigned long long)now_ns());
		return 0;
	}
	if ((argc == 3 || argc == 4) && !strcmp(argv[1], "spin")) {
		pid_t pids[MAXSPIN];
		int n = atoi(argv[2]);

		n = n > MAXSPIN ? MAXSPIN : n;
		spawn_spinners(pids, n);
		if (argc == 3)
			for (;;)
				pause();
		nap_us((long)(atof(argv[3]) * 1e6));
		kill_spinners(pids, n);
		return 0;
	}
	if ((argc == 3 || argc == 4) && !strcmp(argv[1], "pingpong"))
		return pingpong(atol(argv[2]) > 0 ? atol(argv[2]) : 1000,
				argc == 4 ? atof(argv[3]) : 3600);
	if (argc == 4 && !strcmp(argv[1], "lock"))
		return lock_bench(atoi(argv[2]), atol(argv[3]));
	if (argc >= 4 && !strcmp(argv[1], "nice")) {
		if (setpriority(PRIO_PROCESS, 0, atoi(argv[2])))
			perror("setpriority");
		execvp(argv[3], argv + 3);
		die(argv[3]);
	}
	if (argc == 7 && !strcmp(argv[1], "mech"))
		return mech(argv[2], argv[3], atoi(argv[4]), atoi(argv[5]), atoi(argv[6]));
	fputs(usage, stderr);
	return 2;
}
