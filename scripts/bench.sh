#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Benchmark the series: the ways of taking CPUs 2-7 of an 8-vCPU guest
# away side by side on this (2-core) machine, the series and the parts of
# it alone, against CPU hotplug, a cpuset partition and the unpatched
# kernel.
#
# Configurations, run in turn round by round (A B C H I J K D L E A B ...),
# one guest boot each, every workload once per boot:
#   A baseline  unpatched kernel, 8 vCPUs, nothing taken away
#   B all8      patched kernel, 8 vCPUs, nothing taken away
#   C series    CPUs 2-7 marked paravirt: placement, balancer and push
#   H lb-only   marked, load balancer only (NO_PARAVIRT_PLACE,
#               NO_PARAVIRT_PUSH: the s390 group_parked approach)
#   I no-push   marked, placement and balancer (NO_PARAVIRT_PUSH)
#   J tick-push marked, placement, balancer and a push of the current fair
#               task from the tick only (NO_PARAVIRT_PUSH, experiment 2:
#               the 2026 series' push)
#   K capacity  marked, capacity of the marked CPUs reported as 1 and
#               nothing else (all three features off, experiment 1)
#   D hotplug   CPUs 2-7 offlined by hotplug
#   L cpuset    CPUs 2-7 taken out of the root cpuset partition (an
#               isolated cgroup v2 partition)
#   E 2vcpu     patched kernel, 2 vCPUs (the right-sized guest)
# Each configuration that takes CPUs away gives them back after the
# workloads and reports whether any task's affinity changed, the sched
# domain rebuilds and stopper runs of one switch, and the reaction time
# (take away -> no busy loop left, give back -> loops on every CPU).
# First, for the cost when unused, A and B again on QEMU's instruction
# clock (run-guest.sh ACCEL=icount), where guest time does not depend on
# the host's load: F baseline-icount, G unmarked-icount (hackbench and
# the ping-pongs only), alternated over a few rounds of their own.
#
# Both kernels are non-debug builds of config/guest.config: the patched
# one from build/linux-bench (build/linux's master plus the benchmark-only
# experiment patch of bench/kernel/, synced by scripts/test-tree.sh) into
# build/obj/bench (build/bzImage-bench), the baseline from a worktree of
# tag 'base' (build/bench/linux-base) into build/obj/baseline
# (build/bzImage-baseline). Results go to
# bench/results/latest.{md,json,png} (QUICK=1: quick.{md,json,png}); the
# guests' consoles and the raw samples to build/bench/runs/<date>/.
#
# A run stops starting rounds when the next one would end past its time
# budget (counted from the start, builds included): 29 minutes, QUICK=1
# 4m45s. The report says how many rounds ran.
#
# Usage: bench.sh [-r ROUNDS] [-b SECONDS] [-n]
#   -r ROUNDS   rounds at most (default: 8; QUICK=1: 2); the icount rounds
#               are ICOUNT_ROUNDS (default: 6; QUICK=1: 1)
#   -b SECONDS  time budget (default: 1740; QUICK=1: 285)
#   -n          do not build the kernels, use the existing images
# Environment: QUICK=1 short workloads and fewer rounds, and the existing
# kernel images when there are both; RESULTS=DIR instead of bench/results.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

quick=${QUICK:-0}
[ "$quick" = 0 ] || quick=1
usage="usage: bench.sh [-r ROUNDS] [-b SECONDS] [-n]"
rounds= budget= build=1
while getopts r:b:n opt; do
	case $opt in
	r) rounds=$OPTARG ;;
	b) budget=$OPTARG ;;
	n) build=0 ;;
	*) die "$usage" ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 0 ] || die "$usage"
if [ $quick = 1 ]; then
	rounds=${rounds:-2} budget=${budget:-285} name=quick gflags=-q tmo=240
	irounds=${ICOUNT_ROUNDS:-1}
else
	rounds=${rounds:-8} budget=${budget:-1740} name=latest gflags= tmo=480
	irounds=${ICOUNT_ROUNDS:-6}
fi
[[ $irounds =~ ^[0-9]+$ ]] || die "bad ICOUNT_ROUNDS: $irounds"
[[ $rounds =~ ^[1-9][0-9]*$ ]] || die "bad round count: $rounds"
[[ $budget =~ ^[1-9][0-9]*$ ]] || die "bad time budget: $budget"

results=${RESULTS:-$TOP/bench/results}
base_src=$BUILD/bench/linux-base
patched_img=$BUILD/bzImage-bench
base_img=$BUILD/bzImage-baseline
start=$(date +%s)

"$TOP/scripts/deps.sh" python3-matplotlib

# --- kernels ----------------------------------------------------------------
if [ $quick = 1 ] && [ -f "$patched_img" ] && [ -f "$base_img" ] &&
   [ -f "$BUILD/obj/bench/vmlinux" ] && [ -f "$BUILD/obj/baseline/vmlinux" ]; then
	build=0
fi
if [ $build = 1 ]; then
	if [ ! -f "$base_src/Makefile" ]; then
		log "creating the baseline worktree $base_src (tag base)"
		rm -rf "$base_src"
		git -C "$LINUX" worktree prune
		git -C "$LINUX" worktree add -q --detach "$base_src" base
	fi
	# What the patched image is built from: master, plus the
	# benchmark-only patches, in their own worktree.
	head=$(git -C "$LINUX" rev-parse --short=12 master)
	LINUX_TEST=$BUILD/linux-bench TEST_PATCHES=$TOP/bench/kernel \
	"$TOP/scripts/kernel.sh" -T -O "$BUILD/obj/bench" -o "$patched_img" \
		"$TOP/config/guest.config"
	printf 'patched_head=%s\npatched_commits=%s\n' "$head" \
		"$(git -C "$LINUX" rev-list --count base.."$head")" > "$patched_img.src"
	"$TOP/scripts/kernel.sh" -s "$base_src" -O "$BUILD/obj/baseline" -o "$base_img" \
		"$TOP/config/guest.config"
fi
for f in "$patched_img" "$base_img"; do
	[ -f "$f" ] || die "$f missing (run without -n, or without QUICK=1)"
done
build_s=$(( $(date +%s) - start ))

# --- guest files --------------------------------------------------------------
run=$BUILD/bench/runs/$(date +%Y%m%d-%H%M%S)
[ $quick = 1 ] && run=$run-quick
mkdir -p "$run" "$results"
helper=$BUILD/bench/bench-helper
gcc -static -O2 -Wall -pthread -o "$helper" "$TOP/guest/bench-helper.c"

files=(-f "$helper:/root/bench-helper" -f "$TOP/guest/bench-guest.sh:/root/bench-guest.sh")
declare -A seen=()
for bin in hackbench cyclictest stress-ng; do
	path=$(command -v "$bin") || die "$bin missing (scripts/deps.sh)"
	files+=(-f "$(readlink -f "$path"):/usr/bin/$bin")
	# Shared libraries and the loader, at the paths ldd names them by.
	for lib in $(ldd "$path" | grep -o '/[^ ]*'); do
		[ -n "${seen[$lib]:-}" ] && continue
		seen[$lib]=1
		files+=(-f "$(readlink -f "$lib"):$lib")
	done
done

# --- rounds -----------------------------------------------------------------
# Busy time of all host CPUs (user, nice, system, irq, softirq, steal), in
# USER_HZ ticks.
host_busy() {
	awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat
}

cfgs=(A B C H I J K D L E)
declare -A cname=([A]=baseline [B]=all8 [C]=series [H]=lb-only [I]=no-push [J]=tick-push
		  [K]=capacity [D]=hotplug [L]=cpuset [E]=2vcpu
		  [F]=baseline-icount [G]=unmarked-icount)
declare -A ckern=([A]=$base_img [F]=$base_img)
for c in B C H I J K D L E G; do
	ckern[$c]=$patched_img
done
declare -A ccpus=([A]=8 [B]=8 [C]=8 [H]=8 [I]=8 [J]=8 [K]=8 [D]=8 [L]=8 [E]=2 [F]=8 [G]=8)
declare -A cargs=([A]= [B]= [E]= [F]=-u [G]=-u
		  [C]="-p mark -M"
		  [H]="-p mark -M -F NO_PARAVIRT_PLACE,NO_PARAVIRT_PUSH"
		  [I]="-p mark -M -F NO_PARAVIRT_PUSH"
		  [J]="-p mark -M -F NO_PARAVIRT_PUSH -X 2"
		  [K]="-p mark -M -F NO_PARAVIRT_PLACE,NO_PARAVIRT_BALANCE,NO_PARAVIRT_PUSH -X 1"
		  [D]="-p hotplug -M" [L]="-p cpuset -M")
declare -A cacc=([F]=icount [G]=icount)

run_config() {	# run_config ROUND CONFIG: one guest boot, its results appended
	local r=$1 c=$2 con busy0 t0 rc secs other kver errs n try
	con=$run/r$r-$c-${cname[$c]}.log
	busy0=$(host_busy)
	t0=$(date +%s.%N)
	# A boot that dies before the script's end (multi-threaded TCG now
	# and then runs a stale int3 after jump-label patching at boot, see
	# README.md) is tried again, twice at most; its console is kept as
	# *.failN.log and counted in the report.
	for try in 1 2 3; do
		set +e
		# shellcheck disable=SC2086
		/usr/bin/time -f '%U %S' -o "$run/cpu.tmp" \
		env ACCEL="${cacc[$c]:-${ACCEL:-tcg}}" "$TOP/scripts/run-guest.sh" -q -k "${ckern[$c]}" -c "${ccpus[$c]}" -t $tmo \
			-l "$con" "${files[@]}" -- sh /root/bench-guest.sh ${cargs[$c]} $gflags
		rc=$?
		set -e
		tr -d '\r' < "$con" | grep -aq '^@@T end' && break
		[ $try = 3 ] && break
		log "round $r $c ${cname[$c]}: the boot died ($(grep -a -m1 -o 'Oops: [a-z0-9]*\|BUG:.*\|panic' "$con" || echo "no end")), again"
		mv "$con" "${con%.log}.fail$try.log"
		printf '%s\t%s\t%s\n' "$r" "$c" "$try" >> "$run/retries.tsv"
		busy0=$(host_busy)
		t0=$(date +%s.%N)
	done
	secs=$(echo "$(date +%s.%N) - $t0" | bc)
	# Host CPU used by everything but this boot, in cores: the
	# machine is shared, and TCG guests feel every other job.
	other=$(echo "scale=2; ($(host_busy) - $busy0) / 100 - $(tail -n1 "$run/cpu.tmp" | tr ' ' '+')" | bc)
	other=$(echo "scale=2; if ($other < 0) 0 else $other / $secs" | bc)
	# A boot that died early has no results: keep going, the report
	# lists it.
	{ tr -d '\r' < "$con" | grep -a '^@@R ' || true; } |
		sed -n 's/^@@R workload=\([^ ]*\) metric=\([^ ]*\) value=\([^ ]*\) unit=\([^ ]*\)$/\1\t\2\t\3\t\4/p' |
		sed "s/^/$r\t$c\t/" >> "$samples"
	{ tr -d '\r' < "$con" | sed -n 's/^@@I affinity changed: */'"round $r $c ${cname[$c]}: "'/p' || true; } \
		>> "$run/affinity.txt"
	kver=$(tr -d '\r' < "$con" | sed -n 's/^@@GUEST-START@@ [0-9]* cpus, //p' | head -n1)
	errs=$(tr -d '\r' < "$con" | sed -n 's/^@@E //p' | tr '\t\n' '  ')
	printf '%s\t%s\t%s\t%.1f\t%s\t%s\t%s\n' "$r" "$c" "$rc" "$secs" "$other" "$kver" "$errs" >> "$boots"
	n=$(awk -F'\t' -v r="$r" -v c="$c" '$1 == r && $2 == c' "$samples" | wc -l)
	log "round $r/$rounds $c ${cname[$c]}: exit $rc, ${secs%.*} s, other host load $other, $n results${errs:+, errors: $errs}"
}

samples=$run/samples.tsv
boots=$run/boots.tsv
printf 'round\tconfig\tworkload\tmetric\tvalue\tunit\n' > "$samples"
printf 'round\tconfig\tstatus\tseconds\tother_load\tkernel\terrors\n' > "$boots"
host_load_start=$(cut -d' ' -f1-3 /proc/loadavg)
log "$irounds rounds of F G (icount), then up to $rounds rounds of ${cfgs[*]} within ${budget} s; consoles in $run"
for ((r = 1; r <= irounds; r++)); do
	run_config "$r" F
	run_config "$r" G
done
done_rounds=0 round_s=0
for ((r = 1; r <= rounds; r++)); do
	rstart=$(date +%s)
	# Reserve the last round's duration, and 20 s for the report.
	if [ $r -gt 1 ] && [ $((rstart - start + round_s + 20)) -gt "$budget" ]; then
		log "stopping after $done_rounds rounds: another would pass the ${budget} s budget"
		break
	fi
	for c in "${cfgs[@]}"; do
		run_config "$r" "$c"
	done
	round_s=$(( $(date +%s) - rstart ))
	done_rounds=$r
done
host_load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# --- cost when unused: kernel text ------------------------------------------
bloat=$run/bloat-o-meter.txt
"$LINUX/scripts/bloat-o-meter" -t "$BUILD/obj/baseline/vmlinux" "$BUILD/obj/bench/vmlinux" \
	> "$bloat" 2>&1 || true
size "$BUILD/obj/baseline/vmlinux" "$BUILD/obj/bench/vmlinux" > "$run/size.txt" 2>&1 || true

# --- facts and report -----------------------------------------------------------
{
	echo "quick=$quick"
	echo "rounds=$done_rounds"
	echo "rounds_planned=$rounds"
	echo "icount_rounds=$irounds"
	echo "budget_seconds=$budget"
	echo "nproc=$(nproc)"
	echo "cpu_model=$(lscpu | sed -n 's/^Model name: *//p' | head -n1)"
	echo "memory=$(free -g | awk '/^Mem:/ { print $2 " GiB" }')"
	echo "host_kernel=$(uname -r)"
	echo "host_os=$(. /etc/os-release && echo "$PRETTY_NAME")"
	echo "qemu=$(qemu-system-x86_64 --version | head -n1)"
	echo "accel=${ACCEL:-tcg}"
	echo "hackbench=rt-tests $(dpkg-query -W -f='${Version}' rt-tests)"
	echo "stress_ng=$(dpkg-query -W -f='${Version}' stress-ng)"
	echo "patched_kernel=$(make -s -C "$LINUX" O="$BUILD/obj/bench" kernelrelease 2>/dev/null)"
	echo "baseline_kernel=$(make -s -C "$base_src" O="$BUILD/obj/baseline" kernelrelease 2>/dev/null)"
	cat "$patched_img.src" 2>/dev/null ||
		echo "patched_head=unknown (image not built by bench.sh)"
	echo "base_head=$(git -C "$LINUX" rev-parse --short=12 base)"
	echo "host_load_start=$host_load_start"
	echo "host_load_end=$host_load_end"
	echo "build_seconds=$build_s"
	echo "total_seconds=$(( $(date +%s) - start ))"
	echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "run_dir=${run#"$TOP"/}"
} > "$run/facts.txt"

/usr/bin/python3 "$TOP/scripts/bench-report.py" "$run" "$results/$name"
[ $quick = 1 ] || cp "$results/$name.json" "$results/$(basename "$run").json"
log "total $(( $(date +%s) - start )) s; report: $results/$name.md"
cat "$results/$name.md"
