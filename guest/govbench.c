// SPDX-License-Identifier: GPL-2.0
/*
 * Steal-time governor benchmark, run in the guest by guest/govbench-guest.sh
 * for scripts/bench-governor.sh. Static: 'gcc -static -O2 -pthread'.
 *
 * Usage:
 *   govbench run -p POLICY -w WORKLOAD [-P PHASE_MS] [-s HOSTCPUS,...]
 *                [-i SAMPLE_MS] [-c CONTROL_MS] [-H HIGH_PCT] [-L LOW_PCT]
 *     Runs WORKLOAD from t=0 while the host capacity follows the schedule
 *     (default 2,1,2 host CPUs, PHASE_MS each, written to
 *     /sys/kernel/debug/ivshmem_steal/host_cpus) and POLICY decides which
 *     vCPUs the guest uses:
 *       all8      nothing marked
 *       static    the oracle: the paravirt mask set to the host's size at
 *                 each phase change (CPUs N-7 marked with N host CPUs)
 *       governor  the in-kernel steal-time governor, switched on at t=0
 *       anchor    the upstream 5%/2% rule, emulated here: every CONTROL_MS
 *                 the steal share of the /proc/stat total (all CPUs);
 *                 above HIGH_PCT mark the highest-numbered unmarked CPU,
 *                 at or below LOW_PCT unmark the lowest-numbered marked
 *                 one, through the debugfs mask
 *       hotplug   the same rule, offlining the highest-numbered online
 *                 CPU and onlining the lowest-numbered offline one
 *     Workloads:
 *       hackbench hackbench's pattern (-p -g 4 -f 10: 4 groups of 10
 *                 sender and 10 receiver processes, 100-byte messages
 *                 over pipes) run continuously; work = loops, one loop
 *                 being one message from every sender to every receiver
 *                 (400 messages), counted as the receivers get them
 *       cpu       8 busy processes; work = loop iterations (millions)
 *     Prints, every SAMPLE_MS (default 250):
 *       @@GB s t=SEC ph=I host=N usable=N online=N work=W st=TICKS
 *              tot=TICKS idle=TICKS hst=NS
 *     (usable: online and not paravirt; st/tot/idle: the 'cpu' line of
 *     /proc/stat, cumulative; hst: the host's steal of all vCPUs from
 *     the ivshmem driver, cumulative ns), and on each event:
 *       @@GB phase i=I t=SEC host=N ack_ms=MS
 *       @@GB m t=SEC usable=N list=CPULIST   (usable set changed)
 *       @@GB c t=SEC steal_pct=P action=mark|unmark|offline|online|hold cpu=C ms=MS
 *
 *   govbench cost PAIRS PP_ROUNDS HB_LOOPS
 *     The cost of the governor with no steal (meant for QEMU's instruction
 *     clock): PAIRS times, in ABBA order, the governor off and on: a pipe
 *     ping-pong between CPU 0 and CPU 1 (PP_ROUNDS round trips, mean in
 *     us) and hackbench -p -g 4 -f 10 -l HB_LOOPS (the binary, its time):
 *       @@GB cost pair=I gov=0|1 pp_us=X hb_s=Y
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

#define PV_KNOB "/sys/kernel/debug/sched/paravirt"
#define PV_SYSFS "/sys/devices/system/cpu/paravirt"
#define GOV_DIR "/sys/kernel/debug/sched/paravirt_governor"
#define HOST_CPUS "/sys/kernel/debug/ivshmem_steal/host_cpus"
#define STEAL_FILE "/sys/kernel/debug/ivshmem_steal/steal"

#define HB_GROUPS 4
#define HB_FDS 10
#define HB_MSG 100
#define HB_LOOP_MSGS (HB_GROUPS * HB_FDS * HB_FDS)
#define CPU_WORKERS 8
#define CPU_CHUNK (1 << 16)

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stdout, "@@GB error %s: %s\n", what, strerror(errno));
	fflush(stdout);
	exit(1);
}

static uint64_t t0;
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

static double tsec(uint64_t t)
{
	return ((int64_t)(t - t0)) / 1e9;
}

#define out(...) do {					\
	pthread_mutex_lock(&out_lock);			\
	printf(__VA_ARGS__);				\
	fflush(stdout);					\
	pthread_mutex_unlock(&out_lock);		\
} while (0)

static void fmt_list(uint64_t m, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = 0;
	for (int c = 0; c < MAXCPU; c++) {
		int e = c;

		if (!(m & (1ull << c)))
			continue;
		while (e + 1 < MAXCPU && (m & (1ull << (e + 1))))
			e++;
		o += snprintf(buf + o, len - o, "%s%d", o ? "," : "", c);
		if (e > c)
			o += snprintf(buf + o, len - o, "-%d", e);
		c = e;
	}
	if (!o)
		snprintf(buf, len, "-");
}

static uint64_t mask_of(const char *path)
{
	char buf[512];

	if (read_file(path, buf, sizeof(buf)) < 0)
		return 0;
	return parse_list(buf);
}

static uint64_t online_mask(void)
{
	return mask_of("/sys/devices/system/cpu/online");
}

static uint64_t usable_mask(void)
{
	return online_mask() & ~mask_of(PV_SYSFS);
}

static void set_fifo(int prio)
{
	struct sched_param sp = { .sched_priority = prio };

	pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
}

static void sleep_until(uint64_t t)
{
	struct timespec ts = { t / 1000000000ull, t % 1000000000ull };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* /proc/stat 'cpu' line: steal, total, idle (+iowait), in USER_HZ ticks. */
struct pstat {
	unsigned long long steal, total, idle;
};

static void read_pstat(struct pstat *p)
{
	char buf[512];
	unsigned long long v[8] = { 0 };

	memset(p, 0, sizeof(*p));
	if (read_file("/proc/stat", buf, sizeof(buf)) < 0)
		return;
	sscanf(buf, "cpu %llu %llu %llu %llu %llu %llu %llu %llu",
	       &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
	for (int i = 0; i < 8; i++)
		p->total += v[i];
	p->idle = v[3] + v[4];
	p->steal = v[7];
}

/* The host's steal of all vCPUs from the ivshmem driver (ns), 0 if none. */
static unsigned long long host_steal(void)
{
	static char buf[8192];
	unsigned long long sum = 0, raw, base, clk;
	char *p;
	int cpu;

	if (read_file(STEAL_FILE, buf, sizeof(buf)) < 0)
		return 0;
	p = strchr(buf, '\n');
	while (p && *p) {
		p++;
		if (sscanf(p, "%d %llu %llu %llu", &cpu, &raw, &base, &clk) == 4)
			sum += clk;
		p = strchr(p, '\n');
	}
	return sum;
}

/* --- workloads ----------------------------------------------------------- */

/* One counter per cache line, shared with the workers. */
struct counters {
	struct {
		volatile uint64_t v;
		char pad[56];
	} slot[HB_GROUPS * HB_FDS + CPU_WORKERS];
};
static struct counters *ctr;
static int nslots;
static pid_t workers[HB_GROUPS * HB_FDS * 2 + CPU_WORKERS];
static int nworkers;

static pid_t spawn(void (*fn)(int, int *), int arg, int *fds)
{
	pid_t p = fork();

	if (p < 0)
		die("fork");
	if (p == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		fn(arg, fds);
		_exit(0);
	}
	workers[nworkers++] = p;
	return p;
}

static void hb_receiver(int slot, int *fds)
{
	char buf[HB_MSG * 4];

	for (;;) {
		ssize_t n = read(fds[0], buf, sizeof(buf));

		if (n <= 0)
			_exit(n < 0);
		ctr->slot[slot].v += n;
	}
}

static void hb_sender(int unused, int *fds)
{
	char buf[HB_MSG];

	memset(buf, 's', sizeof(buf));
	for (;;)
		for (int r = 0; r < HB_FDS; r++)
			if (write(fds[r], buf, HB_MSG) != HB_MSG)
				_exit(1);
}

static void cpu_worker(int slot, int *unused)
{
	for (;;) {
		for (volatile int i = 0; i < CPU_CHUNK; i++)
			;
		ctr->slot[slot].v += CPU_CHUNK;
	}
}

static void start_workload(const char *w)
{
	ctr = mmap(NULL, sizeof(*ctr), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ctr == MAP_FAILED)
		die("mmap");
	if (!strcmp(w, "hackbench")) {
		for (int g = 0; g < HB_GROUPS; g++) {
			int rfd[HB_FDS][2], wfds[HB_FDS];

			for (int r = 0; r < HB_FDS; r++) {
				if (pipe(rfd[r]))
					die("pipe");
				wfds[r] = rfd[r][1];
			}
			for (int r = 0; r < HB_FDS; r++)
				spawn(hb_receiver, g * HB_FDS + r, rfd[r]);
			for (int s = 0; s < HB_FDS; s++)
				spawn(hb_sender, 0, wfds);
			for (int r = 0; r < HB_FDS; r++) {
				close(rfd[r][0]);
				close(rfd[r][1]);
			}
		}
		nslots = HB_GROUPS * HB_FDS;
	} else if (!strcmp(w, "cpu")) {
		for (int i = 0; i < CPU_WORKERS; i++)
			spawn(cpu_worker, i, NULL);
		nslots = CPU_WORKERS;
	} else {
		fprintf(stderr, "govbench: unknown workload %s\n", w);
		exit(2);
	}
}

static double work_now(int hackbench)
{
	uint64_t sum = 0;

	for (int i = 0; i < nslots; i++)
		sum += ctr->slot[i].v;
	/* hackbench: loops (400 messages); cpu: millions of iterations */
	return hackbench ? (double)sum / HB_MSG / HB_LOOP_MSGS : sum / 1e6;
}

static void stop_workload(void)
{
	for (int i = 0; i < nworkers; i++)
		kill(workers[i], SIGKILL);
	for (int i = 0; i < nworkers; i++)
		waitpid(workers[i], NULL, 0);
}

/* --- policies ------------------------------------------------------------- */

static const char *policy;
static int control_ms = 1000, high_pct = 5, low_pct = 2;
static volatile int stopping;

static int set_mask(uint64_t m)
{
	char buf[256];

	fmt_list(m, buf, sizeof(buf));
	if (!m)
		snprintf(buf, sizeof(buf), "\n");
	else
		strcat(buf, "\n");
	return write_file(PV_KNOB, buf);
}

static int set_online(int cpu, int on)
{
	char path[64];

	snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/online", cpu);
	return write_file(path, on ? "1" : "0");
}

/* The anchor/hotplug rule: every control_ms, steal share of /proc/stat. */
static void *controller(void *arg)
{
	int hot = !strcmp(policy, "hotplug");
	int ncpu = sysconf(_SC_NPROCESSORS_CONF);
	struct pstat a, b;
	uint64_t next = now_ns();

	set_fifo(80);
	read_pstat(&a);
	while (!stopping) {
		unsigned long long dt, ds;
		uint64_t used, ts;
		const char *act = "hold";
		int cpu = -1, err = 0;
		double pct;

		next += (uint64_t)control_ms * 1000000;
		sleep_until(next);
		if (stopping)
			break;
		read_pstat(&b);
		dt = b.total - a.total;
		ds = b.steal - a.steal;
		a = b;
		pct = dt ? 100.0 * ds / dt : 0;
		used = hot ? online_mask() : ~mask_of(PV_KNOB) & ((1ull << ncpu) - 1);
		ts = now_ns();
		if (pct > high_pct && __builtin_popcountll(used) > 1) {
			cpu = 63 - __builtin_clzll(used);	/* highest in use */
			if (cpu == 0)
				cpu = -1;
		} else if (pct <= low_pct && __builtin_popcountll(used) < ncpu) {
			for (cpu = 0; cpu < ncpu && (used & (1ull << cpu)); cpu++)
				;			/* lowest not in use */
			if (cpu >= ncpu)
				cpu = -1;
		}
		if (cpu >= 0) {
			int grow = !(used & (1ull << cpu));

			if (hot) {
				act = grow ? "online" : "offline";
				err = set_online(cpu, grow);
			} else {
				act = grow ? "unmark" : "mark";
				err = set_mask(~(used ^ (1ull << cpu)) & ((1ull << ncpu) - 1));
			}
		}
		out("@@GB c t=%.3f steal_pct=%.2f action=%s cpu=%d ms=%.1f%s%s\n", tsec(ts), pct,
		    act, cpu, (now_ns() - ts) / 1e6, err ? " error=" : "", err ? strerror(-err) : "");
	}
	return NULL;
}

/* Log every change of the usable CPUs, as soon as it is seen. */
static void *watcher(void *arg)
{
	uint64_t last = usable_mask();
	char buf[512], list[256];
	int fd = open(PV_SYSFS, O_RDONLY);

	set_fifo(85);
	fmt_list(last, list, sizeof(list));
	out("@@GB m t=%.3f usable=%d list=%s\n", tsec(now_ns()), __builtin_popcountll(last), list);
	while (!stopping) {
		struct pollfd pfd = { .fd = fd, .events = POLLPRI | POLLERR };
		uint64_t m;

		if (fd >= 0) {
			lseek(fd, 0, SEEK_SET);
			if (read(fd, buf, sizeof(buf) - 1) < 0)
				break;
			/* sysfs notifies the paravirt mask; hotplug is polled. */
			poll(&pfd, 1, 50);
		} else {
			usleep(50000);
		}
		m = usable_mask();
		if (m != last) {
			last = m;
			fmt_list(m, list, sizeof(list));
			out("@@GB m t=%.3f usable=%d list=%s\n", tsec(now_ns()),
			    __builtin_popcountll(m), list);
		}
	}
	return NULL;
}

static int set_host(int n, double *ack_ms)
{
	char buf[16];
	uint64_t t = now_ns();
	int err;

	snprintf(buf, sizeof(buf), "%d\n", n);
	err = write_file(HOST_CPUS, buf);
	*ack_ms = (now_ns() - t) / 1e6;
	return err;
}

static void sample(int ph, int host, int hb)
{
	struct pstat p;
	uint64_t um, om;

	read_pstat(&p);
	om = online_mask();
	um = om & ~mask_of(PV_SYSFS);
	out("@@GB s t=%.3f ph=%d host=%d usable=%d online=%d work=%.3f st=%llu tot=%llu"
	    " idle=%llu hst=%llu\n", tsec(now_ns()), ph, host, __builtin_popcountll(um),
	    __builtin_popcountll(om), work_now(hb), p.steal, p.total, p.idle, host_steal());
}

static int run(int argc, char **argv)
{
	const char *workload = "hackbench";
	int phase_ms = 8000, sample_ms = 250, sched[16], nph = 0, opt;
	int ncpu = sysconf(_SC_NPROCESSORS_CONF);
	char spec[64] = "2,1,2";
	pthread_t ctl, wat;
	int hb, err = 0;

	policy = "all8";
	while ((opt = getopt(argc, argv, "p:w:P:s:i:c:H:L:")) != -1) {
		switch (opt) {
		case 'p': policy = optarg; break;
		case 'w': workload = optarg; break;
		case 'P': phase_ms = atoi(optarg); break;
		case 's': snprintf(spec, sizeof(spec), "%s", optarg); break;
		case 'i': sample_ms = atoi(optarg); break;
		case 'c': control_ms = atoi(optarg); break;
		case 'H': high_pct = atoi(optarg); break;
		case 'L': low_pct = atoi(optarg); break;
		default: return 2;
		}
	}
	for (char *s = spec; *s && nph < 16; s = strchr(s, ',') ? strchr(s, ',') + 1 : "")
		sched[nph++] = atoi(s);
	if (!nph || phase_ms < sample_ms || sample_ms < 10)
		return 2;
	hb = !strcmp(workload, "hackbench");
	if (strcmp(policy, "all8") && strcmp(policy, "static") && strcmp(policy, "governor") &&
	    strcmp(policy, "anchor") && strcmp(policy, "hotplug")) {
		fprintf(stderr, "govbench: unknown policy %s\n", policy);
		return 2;
	}

	/* The host at its first phase's size before anything starts. */
	{
		double ms;

		if (set_host(sched[0], &ms))
			die(HOST_CPUS);
	}
	start_workload(workload);	/* before any thread: plain forks */
	set_fifo(90);
	t0 = now_ns();
	/* t=0: the workload runs, the policy starts now. */
	sample(0, sched[0], hb);
	out("@@GB info policy=%s workload=%s phase_ms=%d sample_ms=%d schedule=%s cpus=%d"
	    " t0_mono=%.6f control_ms=%d high=%d low=%d\n", policy, workload, phase_ms,
	    sample_ms, spec, ncpu, t0 / 1e9, control_ms, high_pct, low_pct);
	if (!strcmp(policy, "governor"))
		err = write_file(GOV_DIR "/enabled", "1\n");
	else if (!strcmp(policy, "static"))
		err = set_mask(((1ull << ncpu) - 1) & ~((1ull << sched[0]) - 1));
	if (err) {
		errno = -err;
		die("policy setup");
	}
	stopping = 0;
	pthread_create(&wat, NULL, watcher, NULL);
	if (!strcmp(policy, "anchor") || !strcmp(policy, "hotplug"))
		pthread_create(&ctl, NULL, controller, NULL);
	out("@@GB phase i=0 t=%.3f host=%d ack_ms=0\n", tsec(now_ns()), sched[0]);

	for (uint64_t k = 1;; k++) {
		uint64_t t = t0 + k * sample_ms * 1000000ull;
		int ph = (int)(k * sample_ms / phase_ms);

		sleep_until(t);
		if (k * sample_ms % phase_ms == 0 && ph < nph) {
			double ms;

			err = set_host(sched[ph], &ms);
			if (!strcmp(policy, "static"))
				set_mask(((1ull << ncpu) - 1) & ~((1ull << sched[ph]) - 1));
			out("@@GB phase i=%d t=%.3f host=%d ack_ms=%.1f%s\n", ph, tsec(now_ns()),
			    sched[ph], ms, err ? " error=1" : "");
		}
		sample(ph < nph ? ph : nph - 1, sched[ph < nph ? ph : nph - 1], hb);
		if (ph >= nph)
			break;
	}
	stopping = 1;
	stop_workload();
	pthread_join(wat, NULL);
	if (!strcmp(policy, "anchor") || !strcmp(policy, "hotplug"))
		pthread_join(ctl, NULL);
	/*
	 * The guest powers off next: leave the mask, the governor and the
	 * host as they are. Switching the governor off or clearing the mask
	 * would flip the static key, and patching kernel text on
	 * multi-threaded TCG sometimes leaves a vCPU running a stale int3
	 * (README.md, Benchmarks), which would lose the trace dump.
	 */
	out("@@GB end t=%.3f\n", tsec(now_ns()));
	return 0;
}

/* --- cost with no steal ---------------------------------------------------- */

static void pin(int cpu)
{
	cpu_set_t s;

	CPU_ZERO(&s);
	CPU_SET(cpu, &s);
	sched_setaffinity(0, sizeof(s), &s);
}

static double pingpong(long rounds)
{
	int ab[2], ba[2];
	uint64_t t;
	char c = 0;
	pid_t p;

	if (pipe(ab) || pipe(ba))
		die("pipe");
	p = fork();
	if (p < 0)
		die("fork");
	if (p == 0) {
		pin(1);
		close(ab[1]);
		close(ba[0]);
		while (read(ab[0], &c, 1) == 1)
			if (write(ba[1], &c, 1) != 1)
				break;
		_exit(0);
	}
	pin(0);
	close(ab[0]);
	close(ba[1]);
	for (int i = 0; i < 100; i++)
		if (write(ab[1], &c, 1) != 1 || read(ba[0], &c, 1) != 1)
			die("pingpong");
	t = now_ns();
	for (long i = 0; i < rounds; i++)
		if (write(ab[1], &c, 1) != 1 || read(ba[0], &c, 1) != 1)
			die("pingpong");
	t = now_ns() - t;
	close(ab[1]);
	close(ba[0]);
	waitpid(p, NULL, 0);
	return t / 1e3 / rounds;
}

static double hackbench(int loops)
{
	char arg[16], buf[4096] = "";
	int fd[2], st;
	ssize_t n, o = 0;
	pid_t p;
	char *s;

	snprintf(arg, sizeof(arg), "%d", loops);
	if (pipe(fd))
		die("pipe");
	p = fork();
	if (p == 0) {
		dup2(fd[1], 1);
		close(fd[0]);
		execlp("hackbench", "hackbench", "-p", "-g", "4", "-f", "10", "-l", arg, NULL);
		_exit(127);
	}
	close(fd[1]);
	while (o < (ssize_t)sizeof(buf) - 1 && (n = read(fd[0], buf + o, sizeof(buf) - 1 - o)) > 0)
		o += n;
	buf[o] = 0;
	close(fd[0]);
	waitpid(p, &st, 0);
	s = strstr(buf, "Time:");
	return s ? atof(s + 5) : -1;
}

static int cost(int pairs, long rounds, int loops)
{
	cpu_set_t all;

	sched_getaffinity(0, sizeof(all), &all);
	for (int i = 0; i < pairs; i++) {
		for (int k = 0; k < 2; k++) {
			/* ABBA: off,on then on,off */
			int gov = (i & 1) ? !k : k;
			double pp, hb;

			if (write_file(GOV_DIR "/enabled", gov ? "1\n" : "0\n"))
				die(GOV_DIR "/enabled");
			usleep(200000);
			pp = pingpong(rounds);
			sched_setaffinity(0, sizeof(all), &all);
			hb = hackbench(loops);
			printf("@@GB cost pair=%d gov=%d pp_us=%.4f hb_s=%.4f\n", i, gov, pp, hb);
			fflush(stdout);
		}
	}
	write_file(GOV_DIR "/enabled", "0\n");
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 2 && !strcmp(argv[1], "run"))
		return run(argc - 1, argv + 1);
	if (argc == 5 && !strcmp(argv[1], "cost"))
		return cost(atoi(argv[2]), atol(argv[3]), atoi(argv[4]));
	fprintf(stderr, "usage: govbench run -p POLICY -w WORKLOAD [...] | govbench cost PAIRS PP_ROUNDS HB_LOOPS\n");
	return 2;
}
