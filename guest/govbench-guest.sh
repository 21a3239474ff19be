#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# One boot of the steal-time governor benchmark, in the guest (busybox sh),
# for scripts/bench-governor.sh: run /root/govbench with the arguments
# given, then print the governor's trace events and stats as '@@GB trace'
# and '@@GB gstats' lines.
#
# Usage: govbench-guest.sh run -p POLICY -w WORKLOAD [...]
#        govbench-guest.sh cost PAIRS PP_ROUNDS HB_LOOPS
gov=/sys/kernel/debug/sched/paravirt_governor
tr=/sys/kernel/tracing
echo "@@GB guest kernel=$(uname -r) online=$(cat /sys/devices/system/cpu/online)" \
	"steal=$(head -n1 /sys/kernel/debug/ivshmem_steal/steal 2>/dev/null | tr ' ' '_')"
[ -d $gov ] || { echo "@@GB error no $gov"; exit 1; }
if [ "$1" = run ] && [ -d $tr/events/sched/sched_paravirt_governor ]; then
	echo mono > $tr/trace_clock
	echo 1 > $tr/events/sched/sched_paravirt_governor/enable
	echo 1 > $tr/tracing_on
fi
/root/govbench "$@"
rc=$?
if [ "$1" = run ]; then
	echo 0 > $tr/events/sched/sched_paravirt_governor/enable 2>/dev/null
	grep sched_paravirt_governor: $tr/trace 2>/dev/null | sed 's/^ *\([^ ]*\) .* \([0-9]*\.[0-9]*\): sched_paravirt_governor: /@@GB trace ts=\2 /'
	echo "@@GB gstats $(tr '\n' ' ' < $gov/stats | sed 's/\([a-z_]*\) \([0-9]*\) /\1=\2 /g')"
fi
exit $rc
