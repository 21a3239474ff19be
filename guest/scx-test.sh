#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# In the guest: load the sched_ext scheduler scx_paravirt, start 8 busy
# loops and a busy loop pinned to CPU 5, mark CPUs 2-7 paravirt, check that
# they are drained (but for the pinned task) while 0-1 are busy, clear the
# mask and check that 2-7 run work again. KTAP on stdout. Run by
# scripts/test-scx.sh; busybox sh and awk only.
#
# With the runner of tools/testing/selftests/sched_ext, also runs its
# paravirt_cpumask test (the kfunc is refused to sleepable and syscall
# programs) and its select_cpu_dfl tests with CPUs 2-7 marked.
#
# Usage: scx-test.sh [SCX_PARAVIRT_BINARY [SCX_SELFTESTS_RUNNER]]
bin=${1:-/root/scx_paravirt}
runner=${2:-}
knob=/sys/kernel/debug/sched/paravirt
state=/sys/kernel/sched_ext/state
out=/tmp/scx_paravirt.out
ntests=10 n=0 failed=0

ok() { n=$((n + 1)); echo "ok $n $1"; }
nok() { n=$((n + 1)); echo "not ok $n $1"; failed=1; }
check() { if [ "$2" = 0 ]; then ok "$1"; else nok "$1"; fi; }
note() { echo "$*" | sed 's/^/# /'; }

# busy SECONDS: "CPU BUSY%" per CPU over SECONDS, from /proc/stat.
busy() {
	a=$(grep '^cpu[0-9]' /proc/stat)
	sleep "$1"
	b=$(grep '^cpu[0-9]' /proc/stat)
	printf '%s\n--\n%s\n' "$a" "$b" | awk '
		/^--$/ { part++; next }
		{ t = 0; for (i = 2; i <= 11; i++) t += $i; id = $5 + $6
		  c = substr($1, 4) }
		part == 0 { t0[c] = t; i0[c] = id }
		part == 1 { d = t - t0[c]
			    b = d > 0 ? 100 * (d - (id - i0[c])) / d : 0
			    printf "%s %.0f\n", c, b }'
}

# in_range TABLE CPUS MIN MAX: every CPU of the list CPUS ("2 3 4") has a
# busy% in [MIN, MAX] in TABLE; prints the offenders, fails on a missing CPU.
in_range() {
	echo "$1" | awk -v cpus="$2" -v lo="$3" -v hi="$4" '
		BEGIN { n = split(cpus, l, " "); for (i = 1; i <= n; i++) want[l[i]] = 1 }
		($1 in want) { seen++ }
		($1 in want) && ($2 < lo || $2 > hi) { printf "cpu%s %s%% ", $1, $2; bad = 1 }
		END { if (seen != n) { printf "(%d of %d CPUs measured) ", seen, n; bad = 1 }
		      exit bad }'
}

# stat_field PID N: field N of /proc/PID/stat (the comm has no spaces here).
stat_field() {
	awk -v f="$2" '{ print $f }' "/proc/$1/stat" 2>/dev/null
}

echo "TAP version 13"
echo "1..$ntests"

if [ ! -e $state ] || [ ! -e $knob ]; then
	note "no $state or $knob: not a sched_ext + paravirt kernel"
	i=0; while [ $i -lt $ntests ]; do n=$((n + 1)); echo "ok $n # SKIP"; i=$((i + 1)); done
	exit 4
fi

"$bin" > $out 2>&1 &
scx=$!
i=0
while [ $i -lt 100 ] && [ "$(cat $state)" != enabled ]; do
	sleep 0.1; i=$((i + 1))
done
st=$(cat $state) ops=$(cat /sys/kernel/sched_ext/root/ops 2>/dev/null)
note "state '$st', ops '$ops' after $((i * 100)) ms"
[ "$st" = enabled ] && [ "$ops" = paravirt ]
check scx_paravirt_enabled $?
if [ "$st" != enabled ]; then
	note "$(cat $out)"
	while [ $n -lt $ntests ]; do nok "not_run_scheduler_not_enabled"; done
	exit 1
fi

pids=
i=0
while [ $i -lt 8 ]; do
	sh -c 'while :; do :; done' &
	pids="$pids $!"
	i=$((i + 1))
done
taskset 20 sh -c 'while :; do :; done' &
pinned=$!
sleep 2
t=$(busy 2)
note "before marking:" $t
r=$(in_range "$t" "0 1 2 3 4 5 6 7" 50 100)
check all_cpus_used_before_marking $?
[ -z "$r" ] || note "busy below 50%: $r"

echo 2-7 > $knob
note "$knob: '$(cat $knob)'"
pin_t0=$(($(stat_field $pinned 14) + $(stat_field $pinned 15)))
sleep 2
t=$(busy 2)
note "2 s after marking 2-7:" $t
r=$(in_range "$t" "2 3 4 6 7" 0 10)
check marked_cpus_drained $?
[ -z "$r" ] || note "marked CPUs still busy: $r"
r=$(in_range "$t" "0 1" 80 100)
check unmarked_cpus_busy $?
[ -z "$r" ] || note "unmarked CPUs not busy: $r"

# Where the 8 loops run: field 39 of /proc/PID/stat, sampled 5 times.
bad=
for s in 1 2 3 4 5; do
	for p in $pids; do
		c=$(stat_field $p 39)
		case $c in 0|1) ;; *) bad="$bad pid$p:cpu$c" ;; esac
	done
	sleep 0.2
done
[ -z "$bad" ]
check loops_on_unmarked_cpus $?
[ -z "$bad" ] || note "loops seen on marked CPUs:$bad"

pin_t1=$(($(stat_field $pinned 14) + $(stat_field $pinned 15)))
pin_cpu=$(stat_field $pinned 39)
note "pinned task: cpu $pin_cpu, $((pin_t1 - pin_t0)) ticks while CPU 5 was marked"
[ "$pin_cpu" = 5 ] && [ $((pin_t1 - pin_t0)) -gt 50 ]
check pinned_task_runs_on_marked_cpu $?

echo > $knob
note "$knob cleared: '$(cat $knob)'"
sleep 2
t=$(busy 2)
note "2 s after clearing:" $t
r=$(in_range "$t" "2 3 4 5 6 7" 50 100)
check cleared_cpus_used_again $?
[ -z "$r" ] || note "busy below 50%: $r"

st=$(cat $state)
kill -0 $scx 2>/dev/null
alive=$?
kill $pids $pinned 2>/dev/null
kill -INT $scx 2>/dev/null
wait $scx
i=0
while [ $i -lt 50 ] && [ "$(cat $state)" != disabled ]; do
	sleep 0.1; i=$((i + 1))
done
note "scx_paravirt output (last lines):"
note "$(tail -n 12 $out)"
evicted=$(awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^evicted=/) s += substr($i, 9) } END { print s + 0 }' $out)
note "state during the test '$st', after exit '$(cat $state)'; $evicted evictions"
[ "$st" = enabled ] && [ $alive = 0 ] && [ "$(cat $state)" = disabled ] &&
	[ "$evicted" -gt 0 ] && grep -q '^EXIT: unregistered from user space' $out
check scheduler_enabled_throughout $?

# selftest_case NAME FILTER: one sched_ext selftest run as one KTAP case.
selftest_case() {
	if [ -z "$runner" ]; then
		n=$((n + 1)); echo "ok $n $1 # SKIP no sched_ext selftests runner"
		return
	fi
	"$runner" -t "$2" > /tmp/runner.out 2>&1
	rc=$?
	# (A test's forked children flush the runner's stdout buffer again.)
	note "$(grep -E '^(ok|not ok)|^(PASSED|SKIPPED|FAILED):' /tmp/runner.out |
		awk '!seen[$0]++')"
	[ $rc = 0 ] && grep -q '^FAILED: *0$' /tmp/runner.out &&
		! grep -q '^SKIPPED: *[1-9]' /tmp/runner.out
	r=$?
	[ $r = 0 ] || note "$(tail -n 30 /tmp/runner.out)"
	check "$1" $r
}

selftest_case selftest_paravirt_cpumask paravirt_cpumask
echo 2-7 > $knob
selftest_case selftest_select_cpu_dfl_while_marked select_cpu_dfl
echo > $knob

exit $failed
