#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Boot a kernel under QEMU with a busybox initramfs, run one shell command
# in the guest and return its exit status.
#
# The console is streamed to stdout (and to LOG with -l). The run fails
# when the kernel log shows a WARNING, BUG, Oops, panic, lockdep report,
# hung task or RCU stall, even if the command succeeded.
#
# Usage: run-guest.sh [options] [--] COMMAND...
#   -k KERNEL   bzImage to boot            (default: build/bzImage)
#   -c CPUS     number of vCPUs, or a QEMU -smp topology such as
#               8,sockets=2,cores=2,threads=2 (default: 8)
#   -m MEM      guest memory in MiB        (default: 1024)
#   -t SECONDS  timeout for the whole run  (default: 600)
#   -a ARGS     extra kernel command line
#   -f SRC[:DST] copy a file or directory into the guest (default DST:
#               /root/<name>); may be repeated
#   -l LOG      also write the console to LOG
#   -q          do not stream the console to stdout
#   -v          full kernel log level on the console (default: warnings)
#   -S          real steal time (test infrastructure, see README.md "Real
#               steal in the test guest"): share a memory file with the
#               guest through an ivshmem-plain device and run
#               guest/steal/steal-agent (built into build/) beside QEMU, which
#               writes each vCPU thread's host run delay there for the
#               guest's ivshmem-steal driver (config/steal.config).
#               STEAL_AGENT_ARGS adds agent options (e.g. "-P 4000 -H 1
#               -s 5:c1,10:c0"); the agent's summary goes to stderr.
#   -N          a virtio-net NIC on QEMU's user network with restrict=on:
#               traffic only between the guest and QEMU's gateway 10.0.2.2
#               (config/virtio-net.config)
#
# Exit status: the command's; 124 on timeout; 125 when the kernel log
# shows a problem or the guest died before the command finished.
#
# QEMU uses TCG, multi-threaded. ACCEL=kvm forces KVM; ACCEL=auto uses KVM
# only when a probe boot under KVM really reaches userspace. ACCEL=icount
# runs every vCPU in one TCG thread on a virtual clock driven by the
# instruction count (-icount shift=0,sleep=off: 1 ns per instruction, idle
# time skipped): guest timings then depend on the instructions executed,
# not on the load of the host.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

kernel=$BUILD/bzImage cpus=8 mem=1024 tmo=600 append= log= quiet=0 loglevel=5
steal=0 net=0
files=()
while getopts k:c:m:t:a:f:l:qvSN opt; do
	case $opt in
	k) kernel=$OPTARG ;;
	c) cpus=$OPTARG ;;
	m) mem=$OPTARG ;;
	t) tmo=$OPTARG ;;
	a) append=$OPTARG ;;
	f) files+=("$OPTARG") ;;
	l) log=$OPTARG ;;
	q) quiet=1 ;;
	v) loglevel=8 ;;
	S) steal=1 ;;
	N) net=1 ;;
	*) sed -n 's/^# \{0,1\}//; /^Usage/,/^$/p' "$0" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || die "no command given (see the usage in $0)"
[ -f "$kernel" ] || die "no kernel at $kernel (run 'make kernel')"
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 missing (scripts/deps.sh)"
[ -x /bin/busybox ] || die "busybox-static missing (scripts/deps.sh)"
# A dynamic busybox (Debian's 'busybox') would find no libc in the guest.
! ldd /bin/busybox >/dev/null 2>&1 ||
	die "/bin/busybox is dynamically linked: install busybox-static"

work=$(mktemp -d)
agent_pid= shmfile=
cleanup() {
	# The agent's busy threads, if any, end with it.
	if [ -n "$agent_pid" ]; then
		kill "$agent_pid" 2>/dev/null || true
		wait "$agent_pid" 2>/dev/null || true
	fi
	[ -n "$shmfile" ] && rm -f "$shmfile"
	rm -rf "$work"
}
trap cleanup EXIT

# --- initramfs --------------------------------------------------------------
root=$work/root
mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,root,etc,usr/bin,usr/sbin}
cp /bin/busybox "$root/bin/busybox"
for applet in $(/bin/busybox --list); do
	# 'busybox --list' names busybox itself: do not replace the binary.
	[ "$applet" = busybox ] && continue
	[ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
done
for spec in "${files[@]}"; do
	srcf=${spec%%:*}
	dst=/root/$(basename "$srcf")
	[ "$spec" != "$srcf" ] && dst=${spec#*:}
	[ -e "$srcf" ] || die "no such file: $srcf"
	mkdir -p "$root$(dirname "$dst")"
	cp -a "$srcf" "$root$dst"
done
printf '%s\n' "$*" > "$root/cmd"
cat > "$root/init" <<'INIT'
#!/bin/sh
export PATH=/root:/bin:/sbin:/usr/bin:/usr/sbin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs tmpfs /tmp
mount -t debugfs debugfs /sys/kernel/debug
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
mkdir -p /sys/fs/cgroup && mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null
cd /root
echo "@@GUEST-START@@ $(nproc) cpus, $(uname -r)"
sh /cmd
echo "@@GUEST-EXIT@@ $?"
sync
poweroff -f
INIT
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet) > "$work/initrd"

# --- accelerator --------------------------------------------------------------
accel=${ACCEL:-tcg}
if [ "$accel" = auto ]; then
	accel=tcg
	probe=$BUILD/.kvm-probe
	if [ -w /dev/kvm ] && [ ! -f "$probe" ]; then
		# /dev/kvm may exist without being able to run a guest (nested
		# hosts): boot once and remember whether userspace was reached.
		if timeout 20 qemu-system-x86_64 -accel kvm -cpu host -smp 1 -m 256 \
			-nographic -no-reboot -kernel "$kernel" -initrd "$work/initrd" \
			-append "console=ttyS0 panic=-1 loglevel=1" </dev/null 2>/dev/null |
			grep -q '@@GUEST-START@@'; then
			echo kvm > "$probe"
		else
			echo tcg > "$probe"
		fi
	fi
	[ -f "$probe" ] && accel=$(cat "$probe")
fi
case $accel in
kvm) qaccel=(-accel kvm -cpu host) ;;
tcg) qaccel=(-accel tcg,thread=multi -cpu max) ;;
icount) qaccel=(-accel tcg,thread=single -icount shift=0,sleep=off -cpu max) ;;
*) die "ACCEL must be tcg, icount, kvm or auto" ;;
esac

# --- steal agent (-S) ---------------------------------------------------------
qsteal=()
qnet=()
# -N: a virtio-net NIC on QEMU's user network, restricted: the guest reaches
# QEMU's own gateway (10.0.2.2) and nothing else.
[ $net = 1 ] && qnet=(-netdev user,id=n0,restrict=on -device virtio-net-pci,netdev=n0)
if [ $steal = 1 ]; then
	agent=$BUILD/steal-agent
	agent_src=$TOP/guest/steal/steal-agent.c
	if [ ! -x "$agent" ] || [ "$agent_src" -nt "$agent" ]; then
		command -v gcc >/dev/null || die "gcc missing (scripts/deps.sh)"
		mkdir -p "$BUILD"
		gcc -O2 -Wall -pthread -o "$agent.$$" "$agent_src" &&
			mv -f "$agent.$$" "$agent" || die "cannot build $agent"
	fi
	shmdir=$work
	[ -d /dev/shm ] && [ -w /dev/shm ] && shmdir=/dev/shm
	shmfile=$(mktemp "$shmdir/pvguest-steal.XXXXXX")
	"$agent" -I -f "$shmfile" -n "${cpus%%,*}" -z $((1 << 20))
	qsteal=(-name pvguest,debug-threads=on -pidfile "$work/qemu.pid"
		-object memory-backend-file,id=stealmem,share=on,mem-path="$shmfile",size=1M
		-device ivshmem-plain,memdev=stealmem)
	# shellcheck disable=SC2086 # STEAL_AGENT_ARGS is a list of options
	"$agent" -f "$shmfile" -w "$work/qemu.pid" ${STEAL_AGENT_ARGS:-} \
		2> "$work/agent.log" &
	agent_pid=$!
fi

# --- boot --------------------------------------------------------------------
out=$work/console
[ -n "$log" ] && out=$log
: > "$out"
cmdline="console=ttyS0 panic=-1 loglevel=$loglevel $append"
set +e
timeout -k 10 "$tmo" qemu-system-x86_64 "${qaccel[@]}" "${qsteal[@]}" "${qnet[@]}" -smp "$cpus" -m "$mem" \
	-nographic -no-reboot -nodefaults -serial stdio -display none \
	-kernel "$kernel" -initrd "$work/initrd" -append "$cmdline" </dev/null 2>&1 |
	if [ $quiet = 1 ]; then cat >> "$out"; else tee -a "$out"; fi
qrc=${PIPESTATUS[0]}
set -e
if [ -n "$agent_pid" ]; then
	# The agent exits with QEMU; make sure of it, then show its summary.
	kill "$agent_pid" 2>/dev/null || true
	wait "$agent_pid" 2>/dev/null || true
	agent_pid=
	cat "$work/agent.log" >&2
fi

# Kernel lines carry a printk timestamp; userspace output does not.
problems=$(grep -a -E '\[ *[0-9]+\.[0-9]+\] (.*)(WARNING:|BUG:|Oops|Kernel panic|general protection fault|INFO: task .* blocked|detected stall|self-detected stall|rcu_.* stall|DEBUG_LOCKS_WARN_ON|UBSAN:|KASAN:)' "$out" || true)
rc=$(sed -n 's/.*@@GUEST-EXIT@@ \([0-9]*\).*/\1/p' "$out" | tail -n1)

if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
	echo "run-guest: timed out after ${tmo}s" >&2
	exit 124
fi
if [ -n "$problems" ]; then
	echo "run-guest: the kernel log shows a problem:" >&2
	echo "$problems" | head -n 20 >&2
	exit 125
fi
if [ -z "$rc" ]; then
	echo "run-guest: the guest stopped before the command finished (qemu exit $qrc)" >&2
	exit 125
fi
exit "$rc"
