#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Run the paravirt kselftests in an 8-vCPU guest booted from build/bzImage
# and print 'N passed, N failed' (', N skipped' when any) last. Exits
# non-zero on any failure, including a kernel WARNING/BUG/lockdep report
# or RCU stall during the run.
#
# Usage: test.sh [-k KERNEL] [-c CPUS] [-t TIMEOUT]
set -euo pipefail
. "$(dirname "$0")/lib.sh"

kernel=$BUILD/bzImage cpus=8 tmo=1200
while getopts k:c:t: opt; do
	case $opt in
	k) kernel=$OPTARG ;;
	c) cpus=$OPTARG ;;
	t) tmo=$OPTARG ;;
	*) die "usage: test.sh [-k KERNEL] [-c CPUS] [-t TIMEOUT]" ;;
	esac
done

out=$BUILD/selftests
rm -rf "$out"
mapfile -t progs < <("$TOP/scripts/selftests.sh" -o "$out" | xargs -n1 basename)
[ ${#progs[@]} -gt 0 ] || die "no selftest programs"

{
	echo 'cd /root/selftests'
	echo 'for p in "$@"; do'
	echo '	name=${p%% *}'
	echo '	echo "@@TEST-BEGIN@@ $name"'
	echo '	./$p'
	echo '	echo "@@TEST-END@@ $name $?"'
	echo 'done'
} > "$out/run.sh"

# The whole suite, then the nohz_full test, the governor's tests on real
# steal and its SMT test in guests booted for them.
log=$BUILD/test-console.log
log_nohz=$BUILD/test-console-nohz.log
log_smt=$BUILD/test-console-smt.log
log_steal=$BUILD/test-console-steal.log
log "running ${#progs[@]} selftest programs in a $cpus-vCPU guest (console: $log)"
set +e
# -N: a virtio-net NIC whose interrupts the irq test watches.
"$TOP/scripts/run-guest.sh" -N -k "$kernel" -c "$cpus" -t "$tmo" -l "$log" -q \
	-f "$out:/root/selftests" -- sh /root/selftests/run.sh "${progs[@]}"
grc=$?
nohz_prog=paravirt_push_test
log "running the nohz_full test with nohz_full=2-$((cpus - 1)) (console: $log_nohz)"
"$TOP/scripts/run-guest.sh" -k "$kernel" -c "$cpus" -t "$tmo" -l "$log_nohz" -q \
	-a "nohz_full=2-$((cpus - 1))" -f "$out:/root/selftests" -- \
	sh /root/selftests/run.sh "'$nohz_prog -t nohz_full_task_leaves'" \
	"'paravirt_features_test -t push_on_nohz_full'"
grc_nohz=$?
# -S: the guest's steal clock reports the host's real run delay of each
# vCPU (README.md, "Real steal in the test guest"). Only the governor's
# tests run on it: the base kernel counts steal against a CPU's capacity
# (NONTASK_CAPACITY) and may move a task that runs alone on a CPU to an
# idle one, which the placement tests do not expect.
log "running the governor tests on real steal (console: $log_steal)"
"$TOP/scripts/run-guest.sh" -S -k "$kernel" -c "$cpus" -t "$tmo" -l "$log_steal" -q \
	-f "$out:/root/selftests" -- \
	sh /root/selftests/run.sh "'paravirt_governor_test'"
grc_steal=$?
smp="$cpus,sockets=2,cores=$((cpus / 4)),threads=2"
log "running the SMT governor test with -smp $smp (console: $log_smt)"
"$TOP/scripts/run-guest.sh" -S -k "$kernel" -c "$smp" -t "$tmo" -l "$log_smt" -q \
	-f "$out:/root/selftests" -- \
	sh /root/selftests/run.sh "'paravirt_governor_test -t whole_cores'"
grc_smt=$?
set -e
python3 "$TOP/scripts/ktap.py" "$LINUX" "$log:$grc" "$log_nohz:$grc_nohz" \
	"$log_steal:$grc_steal" "$log_smt:$grc_smt"
