#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# sched_ext test: build the sched_ext kernel (config/scx.config on top of
# the test kernel's fragments) into build/bzImage-scx from its own worktree
# build/linux-scx (build/linux's master + guest/kernel/*.patch, synced by
# scripts/test-tree.sh), build the example BPF scheduler
# tools/sched_ext/scx_paravirt against that kernel's BTF with clang-16,
# linked statically for the busybox guest, and run guest/scx-test.sh in an
# 8-vCPU guest: scx_paravirt loaded, CPUs 2-7 marked paravirt under load
# are drained and used again once cleared, a task pinned to a marked CPU
# keeps running there; with the sched_ext selftests of the tree, their
# paravirt_cpumask test (the kfunc is refused to sleepable and syscall
# programs) and select_cpu_dfl tests with CPUs 2-7 marked. Prints
# 'N passed, N failed' last (scripts/ktap.py);
# a kernel WARNING/BUG/lockdep report fails the run.
#
# Usage: test-scx.sh [-c CPUS] [-t TIMEOUT] [-n]
#   -n   do not build: use build/bzImage-scx and build/scx_paravirt as they are
# LINUX_TEST (default build/linux-scx), TEST_PATCHES and
# TEST_TREE_UNCOMMITTED are passed on to scripts/test-tree.sh.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

cpus=8 tmo=600 build=1
while getopts c:t:n opt; do
	case $opt in
	c) cpus=$OPTARG ;;
	t) tmo=$OPTARG ;;
	n) build=0 ;;
	*) die "usage: test-scx.sh [-c CPUS] [-t TIMEOUT] [-n]" ;;
	esac
done

export LINUX_TEST=${LINUX_TEST:-$BUILD/linux-scx}
kernel=$BUILD/bzImage-scx
obj=$BUILD/obj/scx
tools=$BUILD/obj/scx-tools
bin=$BUILD/scx_paravirt
stobj=$BUILD/obj/scx-selftests
runner=$BUILD/scx-selftests-runner
jobs=${JOBS:-$(nproc)}
clang=${CLANG:-clang-16}

if [ $build = 1 ]; then
	"$TOP/scripts/kernel.sh" -T -O "$obj" -o "$kernel" \
		"$TOP/config/guest.config" "$TOP/config/debug.config" \
		"$TOP/config/steal.config" "$TOP/config/scx.config"
	src=$LINUX_TEST/tools/sched_ext
	[ -f "$src/scx_paravirt.bpf.c" ] || die "$src has no scx_paravirt"
	command -v "$clang" >/dev/null || die "$clang missing (scripts/deps.sh)"
	log "building scx_paravirt against $obj/vmlinux's BTF"
	mkdir -p "$tools"
	# libbpf and bpftool are built from the tree; the vmlinux.h comes from
	# the BTF of the kernel just built.
	make -s -C "$src" -j"$jobs" O="$tools" CLANG="$clang" \
		VMLINUX_BTF="$obj/vmlinux" scx_paravirt
	# The guest has no libc: link the same object statically.
	gcc -static -o "$bin" "$tools/build/obj/sched_ext/scx_paravirt.o" \
		"$tools/build/obj/libbpf/libbpf.a" -lelf -lz -lzstd -lpthread
	# The sched_ext selftests (their paravirt_cpumask test and the
	# select_cpu_dfl ones), if the tree has the paravirt one.
	st=$LINUX_TEST/tools/testing/selftests/sched_ext
	rm -f "$runner"
	if [ -f "$st/paravirt_cpumask.c" ]; then
		log "building the sched_ext selftests"
		mkdir -p "$stobj"
		make -s -C "$st" -j"$jobs" O="$stobj" CLANG="$clang" \
			VMLINUX_BTF="$obj/vmlinux" >/dev/null
		o=$stobj/build/obj/sched_ext
		gcc -static -o "$runner" $(ls "$o"/*.o | grep -v '\.bpf\.') \
			"$stobj/build/obj/libbpf/libbpf.a" \
			-lelf -lz -lzstd -lpthread
	fi
fi
[ -f "$kernel" ] || die "no $kernel"
[ -x "$bin" ] || die "no $bin"
files=(-f "$bin:/root/scx_paravirt" -f "$TOP/guest/scx-test.sh:/root/scx-test.sh")
rarg=
if [ -x "$runner" ]; then
	files+=(-f "$runner:/root/scx-selftests-runner")
	rarg=/root/scx-selftests-runner
fi

log=$BUILD/test-scx-console.log
log "running guest/scx-test.sh in a $cpus-vCPU guest (console: $log)"
set +e
"$TOP/scripts/run-guest.sh" -k "$kernel" -c "$cpus" -t "$tmo" -l "$log" -q \
	"${files[@]}" -- \
	"echo '@@TEST-BEGIN@@ scx_paravirt_test'; sh /root/scx-test.sh /root/scx_paravirt $rarg;"' rc=$?; echo "@@TEST-END@@ scx_paravirt_test $rc"; exit $rc'
grc=$?
set -e
python3 "$TOP/scripts/ktap.py" "$LINUX" "$log:$grc"
