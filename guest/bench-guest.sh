#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# One benchmark round for one configuration, in the guest (busybox sh):
# set the configuration up, run every workload once and print one
# '@@R workload=W metric=M value=V unit=U' line per result for
# scripts/bench.sh. '@@I' lines describe the guest, '@@E' lines are errors.
#
# Usage: bench-guest.sh [-p METHOD] [-F FEATURES] [-X N] [-M] [-q] [-u]
#   -p METHOD      take CPUs 2-7 away before the workloads: mark (paravirt
#                  knob), hotplug (offline) or cpuset (a cgroup v2 partition
#                  that takes them out of the root partition)
#   -F FEATURES    scheduler features to write first, comma-separated
#                  (NO_PARAVIRT_PUSH,...)
#   -X N           write N to sched/paravirt_experiment (benchmark kernel)
#   -M             after the workloads, give the CPUs back; then, for one
#                  more take-away and give-back, check whether any thread's
#                  affinity changed and count the kernel's work (sched
#                  domain rebuilds, stopper runs); then time the method's
#                  reaction with busy loops (bench-helper mech)
#   -q             quick: shorter workloads
#   -u             cost when unused: hackbench and the ping-pongs only
knob=/sys/kernel/debug/sched/paravirt
H=/root/bench-helper
CPUS=2-7
cg=/sys/fs/cgroup
method= features= experiment= mech=0 quick=0 cost=0 sleepers=
while getopts p:F:X:Mqu opt; do
	case $opt in
	p) method=$OPTARG ;;
	F) features=$(echo "$OPTARG" | tr , ' ') ;;
	X) experiment=$OPTARG ;;
	M) mech=1 ;;
	q) quick=1 ;;
	u) cost=1 ;;
	*) echo "usage: bench-guest.sh [-p METHOD] [-F FEATURES] [-X N] [-M] [-q] [-u]"; exit 2 ;;
	esac
done
case $method in
''|mark|hotplug|cpuset) ;;
*) echo "@@E unknown method $method"; exit 2 ;;
esac

if [ $quick = 1 ]; then
	hb_loops=30 stress_s=1 lock_iters=100000 pp_rounds=1000 pp_s=1 ct_s=1 mech_reps=1
else
	hb_loops=300 stress_s=3 lock_iters=1000000 pp_rounds=5000 pp_s=4 ct_s=3 mech_reps=2
fi
# How long the reaction may take before it counts as "never" (ms).
mech_tmo=3000
# The mechanism's busy loops, and the background load under cyclictest.
nspin=16 nload=8

r() {
	echo "@@R workload=$1 metric=$2 value=$3 unit=$4"
}

# Phase marks with the guest's uptime, to see where a round's time goes.
t() {
	echo "@@T $1 $(cut -d' ' -f1 /proc/uptime)"
}

err() {
	echo "@@E $*"
	status=1
}
status=0

ms_since() {
	echo $(( ($($H now) - $1) / 1000 ))e-3
}

info() {
	echo "@@I $1 kernel=$(uname -r) online=$(cat /sys/devices/system/cpu/online)" \
		"paravirt=$(cat $knob 2>/dev/null || echo n/a)"
}

# Take CPUs 2-7 away, give them back, by the method.
take_away() {
	case $method in
	mark) echo $CPUS > $knob ;;
	hotplug)
		for c in $(seq "${CPUS%-*}" "${CPUS#*-}"); do
			echo 0 > /sys/devices/system/cpu/cpu$c/online || return 1
		done ;;
	cpuset)
		echo isolated > $cg/pv/cpuset.cpus.partition &&
		[ "$(cat $cg/pv/cpuset.cpus.partition)" = isolated ] ;;
	esac
}

give_back() {
	case $method in
	mark) echo > $knob ;;
	hotplug)
		for c in $(seq "${CPUS%-*}" "${CPUS#*-}"); do
			echo 1 > /sys/devices/system/cpu/cpu$c/online || return 1
		done ;;
	cpuset) echo member > $cg/pv/cpuset.cpus.partition ;;
	esac
}

# Every thread's affinity, one "PID/task/TID comm: CPULIST" line each.
affinities() {
	for t in /proc/[0-9]*/task/[0-9]*; do
		a=$(sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' "$t/status" 2>/dev/null)
		[ -n "$a" ] && echo "${t#/proc/} $(cat "$t/comm" 2>/dev/null | tr ' ' _) $a"
	done
}

# Context switches of the stopper threads (migration/N): stop_machine()
# runs them on every CPU, a push or an active balance on one.
stopper_runs() {
	for p in /proc/[0-9]*; do
		case "$(cat "$p/comm" 2>/dev/null)" in
		migration/*) sed -n 's/^.*ctxt_switches:[[:space:]]*//p' "$p/status" ;;
		esac
	done | awk '{ n += $1 } END { print n + 0 }'
}

info start
t start
# cyclictest wants POSIX shared memory.
mkdir -p /dev/shm && mount -t tmpfs tmpfs /dev/shm
for f in $features; do
	echo "$f" > /sys/kernel/debug/sched/features || { echo "@@E cannot set feature $f"; exit 1; }
done
if [ -n "$experiment" ]; then
	echo "$experiment" > /sys/kernel/debug/sched/paravirt_experiment ||
		{ echo "@@E no paravirt_experiment (not the benchmark kernel?)"; exit 1; }
fi
[ -z "$features$experiment" ] ||
	echo "@@I features=$(tr ' ' , < /sys/kernel/debug/sched/features)" \
		"experiment=$(cat /sys/kernel/debug/sched/paravirt_experiment 2>/dev/null)"
if [ "$method" = cpuset ]; then
	{ grep -q " $cg cgroup2 " /proc/mounts || mount -t cgroup2 none $cg; } &&
	echo +cpuset > $cg/cgroup.subtree_control && mkdir $cg/pv &&
	echo $CPUS > $cg/pv/cpuset.cpus || { echo "@@E cannot set up the cpuset"; exit 1; }
fi
if [ -n "$method" ]; then
	[ "$method" != mark ] || [ -e $knob ] || { echo "@@E $knob missing"; exit 1; }
	t0=$($H now)
	take_away || { echo "@@E cannot take CPUs $CPUS away by $method"; exit 1; }
	r setup take-away-idle "$(ms_since "$t0")" ms
fi
sleep 0.5
info workloads
# What CPUs 2-7 do meanwhile: interrupts (all, local timer, reschedule,
# function call and TLB-shootdown IPIs) and busy ticks, of all ticks.
cpus27() {
	awk '
		FILENAME == "/proc/interrupts" && FNR == 1 {
			for (i = 1; i <= NF; i++) col[i + 1] = substr($i, 4) + 0
			next
		}
		FILENAME == "/proc/interrupts" && $1 ~ /:$/ {
			for (i = 2; i in col; i++) {
				if ($i !~ /^[0-9]+$/ || col[i] < 2 || col[i] > 7) continue
				n[""] += $i
				n[$1] += $i
			}
			next
		}
		FILENAME == "/proc/stat" && $1 ~ /^cpu[0-9]+$/ {
			c = substr($1, 4) + 0
			if (c < 2 || c > 7) next
			for (i = 2; i <= 9; i++) tot += $i
			idle += $5 + $6
		}
		END {
			printf "%d %d %d %d %d %d %d\n", n[""], n["LOC:"], n["RES:"], n["CAL:"],
				n["TLB:"], tot - idle, tot
		}' /proc/interrupts /proc/stat
}

t hackbench
hb_t0=$($H now)
hb_c0=$(cpus27)
# hackbench: 4 groups of 10 senders and 10 receivers (160 tasks).
hb() {
	name=$1
	shift
	t=$(hackbench "$@" -g 4 -f 10 -l $hb_loops 2>&1 | awk '/^Time:/ { print $2 }')
	if [ -n "$t" ]; then r "$name" time "$t" s; else err "$name failed"; fi
}
hb hackbench-proc-pipe -p
hb hackbench-proc-sock
hb hackbench-thread-pipe -T -p
hb hackbench-thread-sock -T
hb_c1=$(cpus27)
hb_s=$(( ($($H now) - hb_t0) / 1000000 ))
# Only when CPUs 2-7 are online (not in the hotplug or 2-vCPU guests).
echo "$hb_c0 $hb_c1 $hb_s" | awk '$14 > $7 && $15 > 0 {
	s = $15 / 1000
	printf "@@R workload=hackbench-cpus2-7 metric=irq-per-s value=%.1f unit=1/s\n", ($8 - $1) / s
	printf "@@R workload=hackbench-cpus2-7 metric=timer-per-s value=%.1f unit=1/s\n", ($9 - $2) / s
	printf "@@R workload=hackbench-cpus2-7 metric=resched-ipi-per-s value=%.1f unit=1/s\n", ($10 - $3) / s
	printf "@@R workload=hackbench-cpus2-7 metric=call-tlb-ipi-per-s value=%.1f unit=1/s\n", ($11 - $4 + $12 - $5) / s
	printf "@@R workload=hackbench-cpus2-7 metric=busy-pct value=%.2f unit=%%\n", 100 * ($13 - $6) / ($14 - $7)
}'

if [ $cost = 0 ]; then
	t stress-ng
	# stress-ng STRESSOR N: bogo ops per second of wall time.
	sng() {
		rm -f /tmp/sng.yaml
		stress-ng --"$1" "$2" $3 -t "$stress_s" --metrics-brief --temp-path /tmp \
			-Y /tmp/sng.yaml >/tmp/sng.log 2>&1
		rc=$?
		# A non-zero exit can come with good metrics (a worker slow to stop).
		v=$(awk '/bogo-ops-per-second-real-time:/ { print $2; exit }' /tmp/sng.yaml 2>/dev/null)
		if [ -n "$v" ]; then
			r "$4" ops-per-s "$v" ops/s
			[ $rc = 0 ] || echo "@@I stress-ng --$1 exited $rc: $(grep -v metrc /tmp/sng.log | tr '\n' ' ')"
		else
			err "stress-ng --$1 failed ($rc): $(tail -n 3 /tmp/sng.log | tr '\n' ' ')"
		fi
	}
	# Pure CPU-bound throughput: 8 integer workers, one per vCPU of the big guest.
	sng cpu 8 "--cpu-method int64" cpu-throughput

	t lock
	# Lock contention: 8 threads through one pthread mutex, fixed work.
	$H lock 8 $lock_iters || err "lock failed"
fi

t pingpong
# Wake-up latency with an idle machine: pipe ping-pong round trips (at
# most pp_s seconds of them: a round trip takes 0.1 to 10 ms here).
$H pingpong $pp_rounds $pp_s || err "pingpong failed"
# The same with both ends on CPU 0: no cross-CPU wake-up, the steadiest
# view of the wake-up and context-switch path.
taskset -c 0 $H pingpong $pp_rounds $pp_s | sed 's/workload=pingpong/workload=pingpong-cpu0/' ||
	err "pingpong on CPU 0 failed"

if [ $cost = 0 ]; then
	t cyclictest
	# Wake-up latency of timer wake-ups (SCHED_FIFO, 4 threads, 1 ms period)
	# with 8 busy loops in the background. The loops stop a second after the
	# measurement should have ended: cyclictest's main thread (at nice -20)
	# then prints its histogram without them, which under load took seconds.
	$H spin $nload $((ct_s + 1)) &
	load=$!
	sleep 0.3
	if $H nice -20 cyclictest -q -m -p 80 -t 4 -i 1000 -D "$ct_s" -h 50000 --json=/tmp/ct.json \
		>/dev/null 2>/tmp/ct.err; then
		# Sum the per-thread histograms; overflows (beyond 50 ms) count as the max.
		awk '
			/"histogram"/ { inh = !/}/; next }
			inh && /}/ { inh = 0; next }
			inh { gsub(/[",:]/, ""); h[$1 + 0] += $2 + 0; n += $2 + 0; next }
			/"cycles"/ { gsub(/,/, ""); cycles += $2 + 0 }
			/"max"/ { gsub(/,/, ""); v = $2 + 0; if (v > max) max = v }
			END {
				max += 0
				if (cycles > n) { h[max] += cycles - n; n = cycles }
				split("50 99 99.9", ps, " ")
				for (k = 1; k <= 3; k++) {
					want = n * ps[k] / 100; c = 0
					for (us = 0; us <= max; us++) {
						c += h[us]
						if (c >= want) break
					}
					printf "@@R workload=cyclictest-load metric=p%s value=%d unit=us\n", ps[k], us
				}
				printf "@@R workload=cyclictest-load metric=max value=%d unit=us\n", max
				printf "@@R workload=cyclictest-load metric=samples value=%d unit=count\n", n
			}' /tmp/ct.json
	else
		err "cyclictest failed: $(tr '\n' ' ' </tmp/ct.err)"
	fi
	wait $load
fi

if [ -n "$method" ] && [ $mech = 1 ]; then
	give_back || err "cannot give CPUs $CPUS back"
	sleep 0.5

	t switch
	# One more take-away and give-back, in the otherwise idle guest, with
	# tasks of affinities of all kinds that wake up every 20 ms (a task
	# that sleeps throughout keeps its affinity even through hotplug):
	# whether any thread's affinity changed, and the kernel's own work,
	# sched domain builds (counted by their debug output) and stopper
	# runs. The tasks run only now: tasks confined to CPUs 2-7 would
	# keep them busy during the workloads.
	for a in $CPUS 3 0,5 0-1; do
		taskset -c $a sh -c 'while :; do usleep 20000; done' &
		sleepers="$sleepers $!"
	done
	sleep 0.2
	affinities > /tmp/aff.before
	echo Y > /sys/kernel/debug/sched/verbose
	dmesg -c > /dev/null
	s0=$(stopper_runs)
	take_away || err "cannot take CPUs $CPUS away by $method"
	sleep 0.5
	give_back || err "cannot give CPUs $CPUS back"
	sleep 0.5
	s1=$(stopper_runs)
	r switch domain-rebuilds "$(dmesg | grep -c 'CPU0 attaching sched-domain')" count
	r switch stopper-runs $((s1 - s0)) count
	echo N > /sys/kernel/debug/sched/verbose
	affinities > /tmp/aff.after
	kill $sleepers 2>/dev/null
	# Threads alive before and after whose affinity differs.
	awk 'NR == FNR { a[$1] = $3; c[$1] = $2; next }
	     ($1 in a) { n++; if (a[$1] != $3) { d++; list = list " " c[$1] ":" a[$1] "->" $3 } }
	     END {
		printf "@@R workload=switch metric=affinity-changed value=%d unit=count\n", d
		printf "@@R workload=switch metric=affinity-tasks value=%d unit=count\n", n
		if (d) print "@@I affinity changed:" list
	     }' /tmp/aff.before /tmp/aff.after

	t mech
	case $method in
	mark) spec=file:$knob:$CPUS: ;;
	hotplug) spec=hotplug ;;
	cpuset) spec=file:$cg/pv/cpuset.cpus.partition:isolated:member ;;
	esac
	$H mech "$spec" $CPUS $nspin $mech_reps $mech_tmo || err "mech failed"
fi
t end
info end
exit $status
