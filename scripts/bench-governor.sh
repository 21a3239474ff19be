#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Benchmark the steal-time governor on real steal: an 8-vCPU TCG guest with
# the ivshmem steal clock (run-guest.sh -S) runs work continuously while
# the host's capacity for it follows a schedule, 2 -> 1 -> 2 host CPUs
# (PHASE seconds each; the guest asks the steal agent through
# /sys/kernel/debug/ivshmem_steal/host_cpus), under five policies:
#   all8      nothing marked
#   static    the oracle: the mask set to the host's size at each phase
#             change (2-7 marked on 2 host CPUs, 1-7 on 1)
#   governor  the in-kernel steal-time governor (defaults), on from t=0
#   anchor    the upstream 5%/2% rule on the /proc/stat steal share,
#             emulated from guest userspace through the debugfs mask
#   hotplug   the same rule, offlining/onlining CPUs
# and two workloads (hackbench's pattern run continuously; 8 busy loops),
# one boot per policy and workload, the policies alternated round by round
# (forward, then backward). guest/govbench.c samples every 250 ms.
#
# First, the cost with no steal: one boot on QEMU's instruction clock
# (ACCEL=icount), the governor off and on alternated (ABBA) for a
# cross-CPU pipe ping-pong and hackbench.
#
# The kernel is a non-debug build of config/guest.config +
# config/steal.config from its own worktree build/linux-govbench (master +
# guest/kernel/*.patch, synced by scripts/test-tree.sh) into
# build/obj/govbench (build/bzImage-govbench). Results go to
# bench/results/governor.{md,json,png} (QUICK=1: governor-quick.*), the
# consoles to build/bench/runs/<date>-governor/.
#
# Usage: bench-governor.sh [-r ROUNDS] [-b SECONDS] [-P PHASE] [-n]
#   -r ROUNDS   rounds at most (default 4; QUICK=1: 1)
#   -b SECONDS  time budget: no round starts that would end past it
#               (default 780; QUICK=1: 300); the first always runs
#   -P PHASE    seconds per capacity phase (default 20; QUICK=1: 6)
#   -n          do not build the kernel, use build/bzImage-govbench
# Environment: QUICK=1, RESULTS=DIR, COST_PAIRS (default 4; QUICK=1: 2),
# POLICIES, WORKLOADS (subsets, for development), REVERSE=1 (start with
# the backward order: a second run's rounds then continue the alternation;
# scripts/bench-governor-report.py RUN_DIR RUN_DIR PREFIX reports them
# together).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

quick=${QUICK:-0}
[ "$quick" = 0 ] || quick=1
usage="usage: bench-governor.sh [-r ROUNDS] [-b SECONDS] [-P PHASE] [-n]"
rounds= budget= phase= build=1
while getopts r:b:P:n opt; do
	case $opt in
	r) rounds=$OPTARG ;;
	b) budget=$OPTARG ;;
	P) phase=$OPTARG ;;
	n) build=0 ;;
	*) die "$usage" ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 0 ] || die "$usage"
if [ $quick = 1 ]; then
	rounds=${rounds:-1} budget=${budget:-300} phase=${phase:-6} name=governor-quick
	pairs=${COST_PAIRS:-2} pp_rounds=3000 hb_loops=100
else
	rounds=${rounds:-4} budget=${budget:-780} phase=${phase:-20} name=governor
	pairs=${COST_PAIRS:-4} pp_rounds=10000 hb_loops=200
fi
[[ $rounds =~ ^[1-9][0-9]*$ ]] || die "bad round count: $rounds"
[[ $budget =~ ^[1-9][0-9]*$ ]] || die "bad time budget: $budget"
[[ $phase =~ ^[1-9][0-9]*$ ]] || die "bad phase length: $phase"
[[ $pairs =~ ^[0-9]+$ ]] || die "bad COST_PAIRS: $pairs"
read -r -a policies <<< "${POLICIES:-all8 static governor anchor hotplug}"
read -r -a workloads <<< "${WORKLOADS:-hackbench cpu}"
schedule=2,1,2
nphases=3

results=${RESULTS:-$TOP/bench/results}
img=$BUILD/bzImage-govbench
obj=$BUILD/obj/govbench
wt=$BUILD/linux-govbench
start=$(date +%s)

"$TOP/scripts/deps.sh" python3-matplotlib

# --- kernel -------------------------------------------------------------------
# Its own worktree: 'make kernel' resyncs build/linux-test, and must not
# do so under this build.
if [ $quick = 1 ] && [ -f "$img" ] && [ -f "$obj/vmlinux" ]; then
	build=0
fi
if [ $build = 1 ]; then
	LINUX_TEST=$wt "$TOP/scripts/kernel.sh" -T -O "$obj" -o "$img" \
		"$TOP/config/guest.config" "$TOP/config/steal.config"
	printf 'head=%s\nmaster=%s\n' "$(git -C "$wt" rev-parse --short=12 HEAD)" \
		"$(git -C "$LINUX" rev-parse --short=12 master)" > "$img.src"
fi
[ -f "$img" ] || die "$img missing (run without -n)"
build_s=$(( $(date +%s) - start ))

# --- guest files --------------------------------------------------------------
run=$BUILD/bench/runs/$(date +%Y%m%d-%H%M%S)-governor
[ $quick = 1 ] && run=$run-quick
mkdir -p "$run" "$results"
helper=$BUILD/bench/govbench
gcc -static -O2 -Wall -pthread -o "$helper" "$TOP/guest/govbench.c"
files=(-f "$helper:/root/govbench" -f "$TOP/guest/govbench-guest.sh:/root/govbench-guest.sh")
declare -A seen=()
path=$(command -v hackbench) || die "hackbench missing (scripts/deps.sh)"
files+=(-f "$(readlink -f "$path"):/usr/bin/hackbench")
for lib in $(ldd "$path" | grep -o '/[^ ]*'); do
	[ -n "${seen[$lib]:-}" ] && continue
	seen[$lib]=1
	files+=(-f "$(readlink -f "$lib"):$lib")
done

# Busy time of all host CPUs, in USER_HZ ticks.
host_busy() {
	awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat
}

boots=$run/boots.tsv
printf 'round\tpolicy\tworkload\tstatus\tseconds\tother_load\n' > "$boots"
# boot ROUND POLICY WORKLOAD ACCEL STEAL TIMEOUT -- GUEST ARGS...
# A boot that died before its results were out (multi-threaded TCG now
# and then runs a stale int3 after jump-label patching at boot; README.md,
# Benchmarks) is tried again, twice at most; its console is kept as
# r*-*.failN.log and listed in retries.tsv.
boot() {
	local try
	for try in 1 2 3; do
		boot_once "$@"
		grep -aq '@@GB end\|@@GB cost pair=[0-9]* gov=[01].*$' "$run/r$1-$2-$3.log" && return 0
		[ $try = 3 ] && break
		mv "$run/r$1-$2-$3.log" "$run/r$1-$2-$3.fail$try.log"
		mv "$run/r$1-$2-$3.err" "$run/r$1-$2-$3.fail$try.err"
		printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$try" \
			"$(grep -a -m1 'Oops\|BUG:\|panic\|timed out\|stopped before' "$run/r$1-$2-$3.fail$try.err" |
			   tr -d '\r\t')" >> "$run/retries.tsv"
		log "round $1 $2 $3: no results, trying again"
	done
}
boot_once() {
	local r=$1 p=$2 w=$3 acc=$4 st=$5 tmo=$6 con busy0 t0 rc secs other
	shift 7
	con=$run/r$r-$p-$w.log
	busy0=$(host_busy)
	t0=$(date +%s.%N)
	set +e
	/usr/bin/time -f '%U %S' -o "$run/cpu.tmp" \
	env ACCEL="$acc" "$TOP/scripts/run-guest.sh" -q $st -k "$img" -c 8 -t "$tmo" \
		-l "$con" "${files[@]}" -- sh /root/govbench-guest.sh "$@" 2> "$run/r$r-$p-$w.err"
	rc=$?
	set -e
	secs=$(echo "$(date +%s.%N) - $t0" | bc)
	# Host CPU used by everything but this boot, in cores.
	other=$(echo "scale=2; ($(host_busy) - $busy0) / 100 - $(tail -n1 "$run/cpu.tmp" | tr ' ' '+')" | bc)
	other=$(echo "scale=2; if ($other < 0) 0 else $other / $secs" | bc)
	printf '%s\t%s\t%s\t%s\t%.1f\t%s\n' "$r" "$p" "$w" "$rc" "$secs" "$other" >> "$boots"
	log "round $r $p $w: exit $rc, ${secs%.*} s, other host load $other"
}

host_load_start=$(cut -d' ' -f1-3 /proc/loadavg)
log "cost on the instruction clock ($pairs pairs), then up to $rounds rounds of" \
	"${policies[*]} x ${workloads[*]}, $phase s phases ($schedule host CPUs), within $budget s; logs in $run"
if [ "$pairs" -gt 0 ]; then
	boot 0 cost icount icount "" $((60 + pairs * 60)) -- cost "$pairs" "$pp_rounds" "$hb_loops"
fi
done_rounds=0 round_s=0
tmo=$((phase * nphases + 90))
for ((r = 1; r <= rounds; r++)); do
	rstart=$(date +%s)
	if [ $r -gt 1 ] && [ $((rstart - start + round_s + 20)) -gt "$budget" ]; then
		log "stopping after $done_rounds rounds: another would pass the $budget s budget"
		break
	fi
	order=("${policies[@]}")
	if [ $(((r + ${REVERSE:-0}) % 2)) = 0 ]; then
		order=()
		for ((i = ${#policies[@]} - 1; i >= 0; i--)); do order+=("${policies[i]}"); done
	fi
	for p in "${order[@]}"; do
		for w in "${workloads[@]}"; do
			boot "$r" "$p" "$w" tcg -S "$tmo" -- run -p "$p" -w "$w" \
				-P $((phase * 1000)) -s "$schedule"
		done
	done
	round_s=$(( $(date +%s) - rstart ))
	done_rounds=$r
done
host_load_end=$(cut -d' ' -f1-3 /proc/loadavg)

{
	echo "quick=$quick"
	echo "rounds=$done_rounds"
	echo "rounds_planned=$rounds"
	echo "cost_pairs=$pairs"
	echo "cost_pp_rounds=$pp_rounds"
	echo "cost_hb_loops=$hb_loops"
	echo "phase_seconds=$phase"
	echo "schedule=$schedule"
	echo "budget_seconds=$budget"
	echo "nproc=$(nproc)"
	echo "cpu_model=$(lscpu | sed -n 's/^Model name: *//p' | head -n1)"
	echo "host_kernel=$(uname -r)"
	echo "qemu=$(qemu-system-x86_64 --version | head -n1)"
	echo "kernel=$(make -s -C "$wt" O="$obj" kernelrelease 2>/dev/null || echo unknown)"
	cat "$img.src" 2>/dev/null || echo "head=unknown (image not built by bench-governor.sh)"
	echo "host_load_start=$host_load_start"
	echo "host_load_end=$host_load_end"
	echo "build_seconds=$build_s"
	echo "total_seconds=$(( $(date +%s) - start ))"
	echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "run_dir=${run#"$TOP"/}"
} > "$run/facts.txt"

/usr/bin/python3 "$TOP/scripts/bench-governor-report.py" "$run" "$results/$name"
log "total $(( $(date +%s) - start )) s; report: $results/$name.md"
cat "$results/$name.md"
