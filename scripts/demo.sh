#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Boot the patched 8-vCPU guest, load it with 16 busy tasks and print
# per-CPU utilisation before marking CPUs 2-7 paravirt, after marking and
# after clearing.
#
# Usage: demo.sh [-k KERNEL]
set -euo pipefail
. "$(dirname "$0")/lib.sh"

kernel=$BUILD/bzImage
while getopts k: opt; do
	case $opt in
	k) kernel=$OPTARG ;;
	*) die "usage: demo.sh [-k KERNEL]" ;;
	esac
done
exec "$TOP/scripts/run-guest.sh" -k "$kernel" -c 8 -t 300 \
	-l "$BUILD/demo-console.log" \
	-f "$TOP/guest/demo.sh:/root/demo.sh" \
	-f "$TOP/guest/cpu-table.sh:/root/cpu-table.sh" \
	-- sh /root/demo.sh
