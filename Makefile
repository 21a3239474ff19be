# SPDX-License-Identifier: GPL-2.0
#
# Front end for the paravirt scheduling series. Each target delegates to
# one script in scripts/; 'make help' lists them.
#
#   KERNEL_SRC=<dir>  build the series on another kernel tree
#   JOBS=<n>          parallel kernel build jobs (default: nproc)

SHELL := /bin/bash
BUILD ?= $(CURDIR)/build
export BUILD KERNEL_SRC JOBS

CONFIG_TEST := config/guest.config config/debug.config config/steal.config config/virtio-net.config
CONFIG_BENCH := config/guest.config

.PHONY: help deps tree ensure-tree series kernel test test-scx check demo bench soak clean

help:
	@sed -n 's/^## \{0,1\}//p' $(MAKEFILE_LIST)

## demo     boot the patched 8-vCPU guest, mark CPUs 2-7 under load, show /proc/stat
demo: kernel
	scripts/demo.sh

## test     build everything needed, run the selftests in 8-vCPU guests, then
##          the sched_ext test (make test-scx: a second kernel with BTF)
test: kernel
	rc=0; scripts/test.sh || rc=1; scripts/test-scx.sh || rc=1; exit $$rc

## test-scx build the sched_ext kernel (build/bzImage-scx) and the example BPF
##          scheduler scx_paravirt, run them in an 8-vCPU guest (scripts/test-scx.sh)
test-scx: deps ensure-tree
	scripts/test-scx.sh

## check    checkpatch --strict, per-patch build, W=1/sparse, SMP=n, DEBUG_FS=n
check: deps ensure-tree
	scripts/check.sh

## bench    benchmarks against CPU hotplug and the unpatched kernel, then the
##          steal-time governor on real steal (QUICK=1: short; SECTION=main or
##          SECTION=governor: only one of them)
SECTION ?= all
bench: deps ensure-tree
	@case "$(SECTION)" in all|main|governor) ;; \
	*) echo "SECTION must be all, main or governor" >&2; exit 2 ;; esac
	$(if $(filter all main,$(SECTION)),scripts/bench.sh)
	$(if $(filter all governor,$(SECTION)),scripts/bench-governor.sh)

## soak     random paravirt writes, affinity changes and hotplug under load (BASE=1, KCSAN=1)
soak: $(if $(filter-out 0,$(KCSAN) $(BASE)),deps ensure-tree,kernel)
	scripts/soak.sh $(if $(filter-out 0,$(BASE)),-b)

## kernel   build the test kernel (lockdep and friends) into build/bzImage
##          from build/linux-test: master + the test-only patches of guest/kernel/
kernel: deps ensure-tree
	scripts/kernel.sh -T -O $(BUILD)/obj/test -o $(BUILD)/bzImage $(CONFIG_TEST)

## tree     (re)create build/linux: pristine source tagged 'base' + patches/
tree: deps
	scripts/tree.sh

## series   export base..HEAD of build/linux into patches/
series:
	scripts/series.sh

## deps     install the Debian packages the other targets need
deps:
	scripts/deps.sh

ensure-tree: deps
	scripts/tree.sh --ensure

## clean    remove build/ except the downloaded source package
clean:
	rm -rf $(BUILD)/obj $(BUILD)/selftests $(BUILD)/bzImage $(BUILD)/*.log
