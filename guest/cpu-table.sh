#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Print per-CPU utilisation over an interval, from /proc/stat, with the
# number of tasks on each runqueue (from the scheduler's debugfs file).
# Runs in the guest (busybox sh and awk).
#
# Usage: cpu-table.sh [SECONDS]
interval=${1:-1}
a=$(grep '^cpu[0-9]' /proc/stat)
sleep "$interval"
b=$(grep '^cpu[0-9]' /proc/stat)
nr=$(awk '/^cpu#/ { cpu = $1; gsub(/cpu#|,/, "", cpu) }
	  /^  \.nr_running/ && cpu != "" { print cpu, $3; cpu = "" }' \
	/sys/kernel/debug/sched/debug 2>/dev/null)
printf '%s\n--\n%s\n--\n%s\n' "$a" "$b" "$nr" | awk '
	/^--$/ { part++; next }
	part == 0 { for (i = 2; i <= 11; i++) t0[$1] += $i; i0[$1] = $5 + $6 }
	part == 1 { for (i = 2; i <= 11; i++) t1[$1] += $i; i1[$1] = $5 + $6
		    u[$1] = $2 + $3; s[$1] = $4; cpus[n++] = $1 }
	part == 2 { running["cpu" $1] = $2 }
	END {
		printf "  %-6s %6s  %-20s %s\n", "cpu", "busy%", "", "tasks"
		for (k = 0; k < n; k++) {
			c = cpus[k]
			d = t1[c] - t0[c]
			busy = d > 0 ? 100 * (d - (i1[c] - i0[c])) / d : 0
			bar = ""
			for (j = 0; j < int(busy / 5 + 0.5); j++) bar = bar "#"
			printf "  %-6s %6.1f  %-20s %s\n", c, busy, bar, \
				(c in running) ? running[c] : "?"
		}
	}'
