#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Quick check of the test guest's real steal time (test infrastructure, see
# README.md "Real steal in the test guest"). Runs in the guest; from the
# host:
#
#   scripts/run-guest.sh -S -k build/bzImage -c 8 -t 300 \
#       -f guest/steal/check.sh -- "sh /root/check.sh"
#
# Measures the share of steal in /proc/stat (column 8 over the sum of the
# first 8 columns, all CPUs; in parentheses, over the wall time of all
# CPUs, which tick-based accounting does not fully account: it loses the
# user time of host slices shorter than a tick) idle, with one busy loop per CPU, with the
# vCPU threads confined to one host CPU (ivshmem_steal/host_cpus = 1) and
# back on all host CPUs (0). Prints KTAP; checks, on the share of the wall
# time (the /proc/stat share is inflated and noisy, see README.md): idle
# < 10%, busy > 40%, one host CPU > busy on all host CPUs, back on all < one
# host CPU, and the per-CPU steal clock never going backwards. SECONDS_PER_STEP (default 4)
# sets the length of each measurement.
d=/sys/kernel/debug/ivshmem_steal
t=${SECONDS_PER_STEP:-4}
n=$(nproc)
fail=0 num=0

ok() {	# ok COND DESCRIPTION
	num=$((num + 1))
	if [ "$1" = 1 ]; then echo "ok $num $2"; else echo "not ok $num $2"; fail=1; fi
}

stat_line() { sed -n 's/^cpu  *//p' /proc/stat; }

# steal_pct SECONDS: percent of the accounted CPU time that was steal;
# sets $wall to the percent of the wall time of all CPUs
uptime_cs() { awk '{ printf "%d\n", $1 * 100 }' /proc/uptime; }
steal_pct() {
	a=$(stat_line) ua=$(uptime_cs)
	sleep "$1"
	b=$(stat_line) ub=$(uptime_cs)
	wall=$(echo "$a $b" | awk -v n="$n" -v w=$((ub - ua)) '{
		printf "%.1f\n", 100 * ($(18) - $8) / (n * w) }')
	echo "$a $b" | awk '{
		for (i = 1; i <= 8; i++) { ta += $i; tb += $(i + 10) }
		printf "%.1f\n", 100 * ($(18) - $8) / (tb - ta) }'
}

# Per-CPU clock values ("cpu clock_ns" lines).
clocks() { awk 'NR > 2 { print $1, $4 }' $d/steal; }

echo "TAP version 13"
echo "1..6"
if [ ! -r $d/steal ]; then
	echo "# no $d: kernel without CONFIG_IVSHMEM_STEAL or guest without -S"
	ok 0 "ivshmem_steal present"
	exit 1
fi
ok 1 "ivshmem_steal present"
head -n1 $d/steal | sed 's/^/# /'
threads=$(head -n1 $d/steal | sed -n 's/.*vcpu_threads \([0-9]*\).*/\1/p')
if [ "${threads:-0}" = 0 ]; then
	echo "# the host agent found no per-vCPU thread (ACCEL=icount?): skipping"
	exit 0
fi

steal_pct "$t" > /tmp/pct; idle=$(cat /tmp/pct)
echo "# idle: steal ${idle}% (${wall}% of wall)"
idle=$wall
ok "$(awk -v s="$idle" 'BEGIN { print (s < 10) }')" "idle steal < 10%"

pids=
i=0
while [ $i -lt "$n" ]; do
	sh -c 'while :; do :; done' &
	pids="$pids $!"
	i=$((i + 1))
done
sleep 1
steal_pct "$t" > /tmp/pct; busy=$(cat /tmp/pct)
echo "# $n busy loops, all host CPUs: steal ${busy}% (${wall}% of wall)"
busy=$wall
ok "$(awk -v s="$busy" 'BEGIN { print (s > 40) }')" "busy steal > 40%"

clocks > /tmp/clock0
if echo 1 > $d/host_cpus; then
	sleep 1
	steal_pct "$t" > /tmp/pct; one=$(cat /tmp/pct)
	echo "# $n busy loops, 1 host CPU: steal ${one}% (${wall}% of wall)"
	one=$wall
else
	one=0
fi
ok "$(awk -v a="$one" -v b="$busy" 'BEGIN { print (a > b) }')" "1 host CPU: more steal"

if echo 0 > $d/host_cpus; then
	sleep 1
	steal_pct "$t" > /tmp/pct; all=$(cat /tmp/pct)
	echo "# $n busy loops, all host CPUs again: steal ${all}% (${wall}% of wall)"
	all=$wall
else
	all=100
fi
ok "$(awk -v a="$all" -v b="$one" 'BEGIN { print (a < b) }')" "all host CPUs again: less steal"
clocks > /tmp/clock1
kill $pids
wait 2>/dev/null
ok "$(awk 'NR == FNR { a[$1] = $2; next } $2 < a[$1] { bad = 1 } END { print !bad }' \
	/tmp/clock0 /tmp/clock1)" "per-CPU steal clock monotonic"
sed 's/^/# /' $d/steal
exit $fail
