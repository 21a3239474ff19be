#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The demo, in the guest: 16 busy tasks, per-CPU utilisation before
# marking CPUs 2-7 paravirt, after marking them and after clearing.
knob=/sys/kernel/debug/sched/paravirt
mark=${DEMO_MARK:-2-7}
nbusy=${DEMO_TASKS:-16}

[ -e $knob ] || { echo "demo: $knob missing: not a paravirt kernel"; exit 1; }
echo "demo: $(nproc) CPUs online, starting $nbusy busy tasks"
i=0
while [ $i -lt "$nbusy" ]; do
	sh -c 'while :; do :; done' &
	i=$((i + 1))
done
sleep 2

step() {
	echo
	echo "== $1"
	echo "   $knob: '$(cat $knob)'"
	/root/cpu-table.sh 1
}

step "1. before marking (all CPUs in use)"
echo "$mark" > $knob
sleep 0.5
step "2. half a second after 'echo $mark > $knob'"
echo > $knob
sleep 0.5
step "3. half a second after 'echo > $knob' (cleared)"
kill $(jobs -p) 2>/dev/null
echo
echo "demo: done"
