// SPDX-License-Identifier: GPL-2.0
/*
 * Soak load for scripts/soak.sh, run in the guest (static: busybox has no
 * libc to offer). Built with 'gcc -static -O2 -Wall'.
 *
 * Usage: soak-helper [-t SECONDS] [-b NBUSY] [-g GROUPS] [-l LOOPS]
 *                    [-w WINDOW] [-s SEED]
 *
 * For SECONDS (default 120), with NBUSY busy loops (default 4), one
 * SCHED_FIFO task allowed on every CPU (100 us of work, then 1 ms asleep)
 * and 'hackbench -g GROUPS -l LOOPS' run over and over, the main loop, every
 * 1-5 ms:
 *   - writes a random CPU list to /sys/kernel/debug/sched/paravirt
 *     (sometimes an empty one), and checks the answer: the write must be
 *     refused with EINVAL exactly when the list covers every online CPU,
 *     and an accepted list must read back as written. Skipped, with a note,
 *     when the kernel has no such file (a kernel without the series);
 *   - gives a random CPU mask to one busy loop or hackbench process;
 *   - about every 8th iteration, offlines or onlines one of CPUs 1..N-1.
 * Then it checks that every busy loop and the FIFO task made progress in
 * the last WINDOW seconds (default 10) and a hackbench run completed in the
 * last 3 * WINDOW, clears the mask, onlines every CPU and checks both.
 *
 * Output, on stdout: '@@SOAK' lines, one status line every 10 s, the
 * summary, '@@SOAK-FAIL' per problem and the verdict last. Exit 0 when it
 * passed, 1 when not.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
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

#define KNOB "/sys/kernel/debug/sched/paravirt"
#define MAXBUSY 32
#define MAXHB 512
#define FIFO_PRIO 50
#define NS 1000000000ll

struct shared {
	volatile uint64_t fifo;			/* FIFO task cycles */
	volatile uint64_t busy[MAXBUSY];	/* busy loop iterations / 2^16 */
	volatile uint64_t hb_done;		/* hackbench runs that exited 0 */
	volatile uint64_t hb_failed;		/* ... that did not */
	volatile int hb_last_status;
	volatile int64_t hb_started;		/* start of the current run, or 0 */
	volatile int64_t hb_longest;		/* longest completed run, ns */
	volatile int stop;
};

struct sample {
	int64_t t;
	uint64_t fifo, hb;
	uint64_t busy[MAXBUSY];
};

static struct shared *sh;
static int nbusy = 4, ncpus, failures;
static pid_t busy_pid[MAXBUSY], fifo_pid, hb_pid;
static uint64_t rng;

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * NS + ts.tv_nsec;
}

static uint64_t rnd(void)
{
	/* xorshift64* */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 2685821657736338717ull;
}

static void fail(const char *fmt, ...)
{
	va_list ap;

	failures++;
	printf("@@SOAK-FAIL ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static void note(const char *fmt, ...)
{
	va_list ap;

	printf("@@SOAK note: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static void nap_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static void format_list(uint64_t m, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = 0;
	for (int c = 0; c < MAXCPU && n < len; c++) {
		int e = c;

		if (!(m & (1ull << c)))
			continue;
		while (e + 1 < MAXCPU && (m & (1ull << (e + 1))))
			e++;
		if (e == c)
			n += snprintf(buf + n, len - n, "%s%d", n ? "," : "", c);
		else
			n += snprintf(buf + n, len - n, "%s%d-%d", n ? "," : "", c, e);
		c = e;
	}
}

static uint64_t online_mask(void)
{
	char buf[256];

	if (read_file("/sys/devices/system/cpu/online", buf, sizeof(buf)) < 0)
		return 1;
	return parse_list(buf);
}

static int cpu_online(int c)
{
	char path[64], buf[16];

	snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/online", c);
	if (read_file(path, buf, sizeof(buf)) < 0)
		return -1;
	return buf[0] == '1';
}

static int set_online(int c, int on)
{
	char path[64];

	snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/online", c);
	return write_file(path, on ? "1" : "0");
}

/* --- the load ------------------------------------------------------------ */

static void child_setup(void)
{
	/* Die with the main loop, whatever happens to it. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
}

static void busy_loop(int i)
{
	uint64_t n = 0;

	child_setup();
	while (!sh->stop) {
		if ((++n & 0xffff) == 0)
			sh->busy[i]++;
	}
	_exit(0);
}

static void fifo_loop(void)
{
	struct sched_param sp = { .sched_priority = FIFO_PRIO };

	child_setup();
	if (sched_setscheduler(0, SCHED_FIFO, &sp)) {
		printf("@@SOAK-FAIL sched_setscheduler(SCHED_FIFO): %s\n", strerror(errno));
		fflush(stdout);
		_exit(1);
	}
	while (!sh->stop) {
		int64_t t = now_ns() + 100000;

		while (now_ns() < t)
			;
		sh->fifo++;
		nap_us(1000);
	}
	_exit(0);
}

static void hackbench_loop(const char *groups, const char *loops)
{
	child_setup();
	while (!sh->stop) {
		int64_t t0 = now_ns();
		pid_t p;
		int st;

		sh->hb_started = t0;
		p = fork();
		if (p < 0) {
			nap_us(100000);
			continue;
		}
		if (p == 0) {
			int fd = open("/dev/null", O_WRONLY);

			if (fd >= 0) {
				dup2(fd, 1);
				close(fd);
			}
			execlp("hackbench", "hackbench", "-g", groups, "-l", loops, (char *)NULL);
			_exit(127);
		}
		while (waitpid(p, &st, 0) < 0 && errno == EINTR)
			;
		sh->hb_started = 0;
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
			if (now_ns() - t0 > sh->hb_longest)
				sh->hb_longest = now_ns() - t0;
			sh->hb_done++;
		} else {
			sh->hb_failed++;
			sh->hb_last_status = st;
			if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
				break;	/* no hackbench: do not spin */
		}
	}
	_exit(0);
}

static pid_t spawn(void (*fn)(int), int arg)
{
	pid_t p = fork();

	if (p < 0) {
		perror("fork");
		exit(2);
	}
	if (p == 0)
		fn(arg);
	return p;
}

static void fifo_fn(int unused)
{
	fifo_loop();
}

static const char *hb_groups = "2", *hb_loops = "100";

static void hb_fn(int unused)
{
	hackbench_loop(hb_groups, hb_loops);
}

/* The hackbench processes running now (children of the runner's children). */
static int find_hackbench(pid_t *pids, int max)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)) && n < max) {
		char path[300], comm[32];

		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", e->d_name);
		if (read_file(path, comm, sizeof(comm)) < 0)
			continue;
		if (!strcmp(comm, "hackbench\n"))
			pids[n++] = atoi(e->d_name);
	}
	closedir(d);
	return n;
}

/* --- main loop ------------------------------------------------------------ */

struct stats {
	uint64_t iter;
	uint64_t writes, w_ok, w_einval, w_clear, w_bad;
	uint64_t hp, hp_off, hp_on, hp_refused;
	uint64_t aff, aff_ok, aff_einval, aff_esrch, aff_odd;
	int64_t w_max, hp_max, aff_max;
};

static struct stats st;

static void knob_write(int have_knob)
{
	uint64_t all = (ncpus >= 64) ? ~0ull : (1ull << ncpus) - 1;
	uint64_t m, online;
	char list[256], back[256];
	int64_t t0, dt;
	int r, clear;

	if (!have_knob)
		return;
	clear = rnd() % 16 == 0;
	m = clear ? 0 : rnd() & all;
	format_list(m, list, sizeof(list));
	strcat(list, "\n");
	online = online_mask();
	t0 = now_ns();
	r = write_file(KNOB, list);
	dt = now_ns() - t0;
	if (dt > st.w_max)
		st.w_max = dt;
	st.writes++;
	list[strlen(list) - 1] = 0;
	if (r == -EINVAL) {
		st.w_einval++;
		if ((online & m) != online)
			fail("paravirt write '%s' refused with EINVAL, online CPUs %llx are not all in it",
			     list, (unsigned long long)online);
		return;
	}
	if (r) {
		st.w_bad++;
		fail("paravirt write '%s': %s", list, strerror(-r));
		return;
	}
	st.w_ok++;
	if (!m)
		st.w_clear++;
	if (m && (online & m) == online)
		fail("paravirt write '%s' accepted though it covers every online CPU (%llx)",
		     list, (unsigned long long)online);
	if (read_file(KNOB, back, sizeof(back)) < 0 || parse_list(back) != m) {
		back[strcspn(back, "\n")] = 0;
		fail("paravirt wrote '%s', reads back '%s'", list, back);
	}
}

static void affinity_change(pid_t *hb, int *nhb)
{
	uint64_t all = (ncpus >= 64) ? ~0ull : (1ull << ncpus) - 1;
	uint64_t m, online;
	cpu_set_t set;
	pid_t target;
	int64_t t0, dt;
	int r, k = rnd() % 8;

	if (st.iter % 16 == 1)
		*nhb = find_hackbench(hb, MAXHB);
	if (rnd() % 2 && *nhb > 0)
		target = hb[rnd() % *nhb];
	else
		target = busy_pid[rnd() % nbusy];

	if (k == 0)
		m = all;				/* everywhere */
	else if (k < 3)
		m = 1ull << (rnd() % ncpus);		/* one CPU */
	else
		m = rnd() & all;
	if (!m)
		m = 1;
	CPU_ZERO(&set);
	for (int c = 0; c < ncpus; c++)
		if (m & (1ull << c))
			CPU_SET(c, &set);
	online = online_mask();
	t0 = now_ns();
	r = sched_setaffinity(target, sizeof(set), &set) ? errno : 0;
	dt = now_ns() - t0;
	if (dt > st.aff_max)
		st.aff_max = dt;
	st.aff++;
	switch (r) {
	case 0:
		st.aff_ok++;
		break;
	case EINVAL:
		st.aff_einval++;
		if (m & online)
			st.aff_odd++;
		break;
	case ESRCH:
		st.aff_esrch++;
		break;
	default:
		fail("sched_setaffinity(%d, %llx): %s", target, (unsigned long long)m, strerror(r));
	}
}

static void hotplug_op(void)
{
	int c, on, r;
	int64_t t0, dt;

	if (ncpus < 2)
		return;
	c = 1 + rnd() % (ncpus - 1);
	on = cpu_online(c);
	if (on < 0)
		return;
	t0 = now_ns();
	r = set_online(c, !on);
	dt = now_ns() - t0;
	if (dt > st.hp_max)
		st.hp_max = dt;
	st.hp++;
	if (r) {
		st.hp_refused++;
		if (st.hp_refused <= 5)
			note("cpu%d %s: %s", c, on ? "offline" : "online", strerror(-r));
		return;
	}
	if (on)
		st.hp_off++;
	else
		st.hp_on++;
	if (dt > 5 * NS)
		note("cpu%d %s took %.1f s", c, on ? "offline" : "online", dt / 1e9);
}

static void take_sample(struct sample *s, int64_t t0)
{
	s->t = now_ns() - t0;
	s->fifo = sh->fifo;
	s->hb = sh->hb_done;
	for (int i = 0; i < nbusy; i++)
		s->busy[i] = sh->busy[i];
}

/* Longest time, in s, between two samples in which counter 'k' did not move. */
static double longest_stall(struct sample *s, int n, int k)
{
	double worst = 0;
	int from = 0;

	for (int i = 1; i < n; i++) {
		uint64_t a = k < 0 ? s[from].fifo : s[from].busy[k];
		uint64_t b = k < 0 ? s[i].fifo : s[i].busy[k];

		if (b != a) {
			double d = (s[i - 1].t - s[from].t) / 1e9;

			if (d > worst)
				worst = d;
			from = i;
		}
	}
	if ((s[n - 1].t - s[from].t) / 1e9 > worst)
		worst = (s[n - 1].t - s[from].t) / 1e9;
	return worst;
}

static void status_line(int64_t t0)
{
	char on[64], mask[256] = "n/a";

	format_list(online_mask(), on, sizeof(on));
	if (read_file(KNOB, mask, sizeof(mask)) >= 0)
		mask[strcspn(mask, "\n")] = 0;
	printf("@@SOAK t=%lld iter=%llu writes=%llu hotplug=%llu affinity=%llu hackbench=%llu fifo=%llu busy0=%llu online=%s paravirt='%s'\n",
	       (long long)((now_ns() - t0) / NS), (unsigned long long)st.iter,
	       (unsigned long long)st.writes, (unsigned long long)st.hp,
	       (unsigned long long)st.aff, (unsigned long long)sh->hb_done,
	       (unsigned long long)sh->fifo, (unsigned long long)sh->busy[0], on, mask);
	fflush(stdout);
}

static int wait_exit(pid_t p, int64_t tmo_ns)
{
	int64_t end = now_ns() + tmo_ns;
	int st;

	while (now_ns() < end) {
		pid_t r = waitpid(p, &st, WNOHANG);

		if (r == p || (r < 0 && errno == ECHILD))
			return 0;
		nap_us(20000);
	}
	return -1;
}

int main(int argc, char **argv)
{
	int secs = 120, window = 10, opt, have_knob, nhb = 0, ns = 0, base;
	pid_t *hb = calloc(MAXHB, sizeof(pid_t));
	struct sample *samples, last;
	int64_t t0, end, next_sample, next_status;
	char buf[256];

	rng = (uint64_t)now_ns() ^ ((uint64_t)getpid() << 32);
	while ((opt = getopt(argc, argv, "t:b:g:l:w:s:")) != -1) {
		switch (opt) {
		case 't': secs = atoi(optarg); break;
		case 'b': nbusy = atoi(optarg); break;
		case 'g': hb_groups = optarg; break;
		case 'l': hb_loops = optarg; break;
		case 'w': window = atoi(optarg); break;
		case 's': rng = strtoull(optarg, NULL, 0); break;
		default:
			fprintf(stderr, "usage: soak-helper [-t SECONDS] [-b NBUSY] [-g GROUPS] [-l LOOPS] [-w WINDOW] [-s SEED]\n");
			return 2;
		}
	}
	if (nbusy < 1 || nbusy > MAXBUSY || secs < 1 || window < 1 || !rng) {
		fprintf(stderr, "soak-helper: bad arguments\n");
		return 2;
	}
	ncpus = sysconf(_SC_NPROCESSORS_CONF);
	if (ncpus > MAXCPU)
		ncpus = MAXCPU;
	samples = calloc(secs + 1200, sizeof(*samples));
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (!hb || !samples || sh == MAP_FAILED) {
		perror("soak-helper: memory");
		return 2;
	}
	have_knob = access(KNOB, W_OK) == 0;
	format_list(online_mask(), buf, sizeof(buf));
	printf("@@SOAK start: %d s, %d cpus, online %s, %d busy loops, FIFO prio %d, hackbench -g %s -l %s, seed %llu, %s\n",
	       secs, ncpus, buf,
	       nbusy, FIFO_PRIO, hb_groups, hb_loops, (unsigned long long)rng,
	       have_knob ? "paravirt knob present" : "no paravirt knob: mask writes skipped");
	fflush(stdout);

	for (int i = 0; i < nbusy; i++)
		busy_pid[i] = spawn(busy_loop, i);
	fifo_pid = spawn(fifo_fn, 0);
	hb_pid = spawn(hb_fn, 0);
	/* The control loop must keep its pace among ~80 hackbench tasks. */
	setpriority(PRIO_PROCESS, 0, -10);

	t0 = now_ns();
	end = t0 + secs * NS;
	next_sample = t0;
	next_status = t0 + 10 * NS;
	while (now_ns() < end) {
		st.iter++;
		knob_write(have_knob);
		affinity_change(hb, &nhb);
		if (rnd() % 8 == 0)
			hotplug_op();
		if (now_ns() >= next_sample && ns < secs + 1200) {
			take_sample(&samples[ns++], t0);
			next_sample += NS;
			if (next_sample < now_ns())
				next_sample = now_ns() + NS;
		}
		if (now_ns() >= next_status) {
			status_line(t0);
			next_status += 10 * NS;
		}
		nap_us(1000 + rnd() % 4000);
	}

	/* Progress, under the load, over the last 'window' seconds. */
	take_sample(&last, t0);
	base = 0;
	for (int i = 0; i < ns; i++)
		if (samples[i].t <= last.t - window * NS)
			base = i;
	samples[ns < secs + 1200 ? ns++ : ns - 1] = last;
	printf("@@SOAK progress over the last %.1f s: fifo +%llu",
	       (last.t - samples[base].t) / 1e9,
	       (unsigned long long)(last.fifo - samples[base].fifo));
	for (int i = 0; i < nbusy; i++)
		printf(", busy%d +%llu", i, (unsigned long long)(last.busy[i] - samples[base].busy[i]));
	printf("; longest stall (1 s samples): fifo %.0f s", longest_stall(samples, ns, -1));
	for (int i = 0; i < nbusy; i++)
		printf(", busy%d %.0f s", i, longest_stall(samples, ns, i));
	printf("\n");
	fflush(stdout);
	if (last.fifo == samples[base].fifo)
		fail("the SCHED_FIFO task made no progress in the last %d s", window);
	for (int i = 0; i < nbusy; i++)
		if (last.busy[i] == samples[base].busy[i])
			fail("busy loop %d made no progress in the last %d s", i, window);

	/*
	 * hackbench: some run completed, and the latest in the last 3 windows
	 * or, where one run takes longer (a KCSAN kernel), the current one has
	 * not been going for 3 times the longest so far.
	 */
	{
		int64_t started = sh->hb_started, age = started ? now_ns() - started : 0;
		int64_t limit = 3 * window * NS;
		int hb_base = 0;

		if (3 * sh->hb_longest > limit)
			limit = 3 * sh->hb_longest;
		for (int i = 0; i < ns; i++)
			if (samples[i].t <= last.t - 3 * window * NS)
				hb_base = i;
		printf("@@SOAK hackbench: %llu runs, longest %.1f s, current run going for %.1f s\n",
		       (unsigned long long)last.hb, sh->hb_longest / 1e9, age / 1e9);
		if (!last.hb)
			fail("no hackbench run completed");
		else if (last.hb == samples[hb_base].hb && age > limit)
			fail("no hackbench run completed in the last %d s, the current one has been going for %.0f s",
			     3 * window, age / 1e9);
	}

	/* Stop the load. */
	sh->stop = 1;
	if (wait_exit(hb_pid, 120 * NS)) {
		fail("hackbench did not finish within 120 s of the end");
		kill(hb_pid, SIGKILL);
		nhb = find_hackbench(hb, MAXHB);
		for (int i = 0; i < nhb; i++)
			kill(hb[i], SIGKILL);
		wait_exit(hb_pid, 10 * NS);
	}
	if (sh->hb_failed)
		fail("%llu hackbench runs failed (last wait status 0x%x)",
		     (unsigned long long)sh->hb_failed, sh->hb_last_status);
	for (int i = 0; i < nbusy; i++)
		if (wait_exit(busy_pid[i], 30 * NS)) {
			fail("busy loop %d did not stop within 30 s", i);
			kill(busy_pid[i], SIGKILL);
		}
	if (wait_exit(fifo_pid, 30 * NS)) {
		fail("the FIFO task did not stop within 30 s");
		kill(fifo_pid, SIGKILL);
	}

	/* Back to normal: no paravirt CPU, every CPU online. */
	if (have_knob) {
		int r = write_file(KNOB, "\n");

		if (r)
			fail("clearing the paravirt mask: %s", strerror(-r));
	}
	for (int c = 1; c < ncpus; c++) {
		if (cpu_online(c) == 0) {
			int r = set_online(c, 1);

			if (r)
				fail("onlining cpu%d at the end: %s", c, strerror(-r));
		}
	}
	{
		char on[64], all[64], mask[256] = "n/a";
		uint64_t want = (ncpus >= 64) ? ~0ull : (1ull << ncpus) - 1;

		format_list(online_mask(), on, sizeof(on));
		format_list(want, all, sizeof(all));
		if (have_knob && read_file(KNOB, mask, sizeof(mask)) >= 0)
			mask[strcspn(mask, "\n")] = 0;
		printf("@@SOAK end state: online %s, paravirt '%s'\n", on, mask);
		if (online_mask() != want)
			fail("online CPUs at the end are %s, not %s", on, all);
		if (have_knob && mask[0])
			fail("the paravirt mask is '%s' after clearing it", mask);
	}

	printf("@@SOAK summary: seconds=%d iterations=%llu writes=%llu (accepted=%llu cleared=%llu einval=%llu errors=%llu, max %.1f ms) hotplug=%llu (off=%llu on=%llu refused=%llu, max %.0f ms) affinity=%llu (ok=%llu einval=%llu esrch=%llu, max %.1f ms) hackbench=%llu (failed=%llu) fifo=%llu",
	       secs, (unsigned long long)st.iter, (unsigned long long)st.writes,
	       (unsigned long long)st.w_ok, (unsigned long long)st.w_clear,
	       (unsigned long long)st.w_einval, (unsigned long long)st.w_bad, st.w_max / 1e6,
	       (unsigned long long)st.hp, (unsigned long long)st.hp_off,
	       (unsigned long long)st.hp_on, (unsigned long long)st.hp_refused, st.hp_max / 1e6,
	       (unsigned long long)st.aff, (unsigned long long)st.aff_ok,
	       (unsigned long long)st.aff_einval, (unsigned long long)st.aff_esrch, st.aff_max / 1e6,
	       (unsigned long long)sh->hb_done, (unsigned long long)sh->hb_failed,
	       (unsigned long long)sh->fifo);
	for (int i = 0; i < nbusy; i++)
		printf("%s%llu", i ? "," : " busy=", (unsigned long long)sh->busy[i]);
	printf("\n");
	if (st.aff_odd)
		note("%llu affinity changes refused with EINVAL although the mask had an online CPU",
		     (unsigned long long)st.aff_odd);
	printf("@@SOAK verdict: %s", failures ? "FAIL" : "PASS");
	if (failures)
		printf(" (%d problems, see @@SOAK-FAIL)", failures);
	printf("\n");
	fflush(stdout);
	return failures ? 1 : 0;
}
