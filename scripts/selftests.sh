#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build the paravirt kselftests of the kernel tree, statically linked so
# that they run in the busybox guest, into build/selftests/.
#
# Usage: selftests.sh [-s SRC] [-o OUTDIR]
set -euo pipefail
. "$(dirname "$0")/lib.sh"

src=$LINUX out=$BUILD/selftests
while getopts s:o: opt; do
	case $opt in
	s) src=$OPTARG ;;
	o) out=$OPTARG ;;
	*) die "usage: selftests.sh [-s SRC] [-o OUTDIR]" ;;
	esac
done
dir=$src/tools/testing/selftests/sched/paravirt
[ -d "$dir" ] || die "no $dir: the tree lacks the series' selftests"
mkdir -p "$out"
out=$(cd "$out" && pwd)
make -s -C "$dir" OUTPUT="$out" LDFLAGS=-static >&2
# The scripts among them are run from the source directory: copy them.
for p in $(make -s -C "$dir" --no-print-directory -f Makefile -f - print-scripts <<'MK'
print-scripts:
	@echo $(TEST_PROGS)
MK
); do
	cp "$dir/$p" "$out/"
done
# The programs kselftest would run, in the Makefile's order.
make -s -C "$dir" OUTPUT="$out" --no-print-directory \
	-f Makefile -f - print-progs <<'MK'
print-progs:
	@for p in $(TEST_GEN_PROGS) $(TEST_PROGS); do echo $$p; done
MK
