#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Soak the series: minutes of random paravirt-mask writes, affinity changes
# and CPU hotplug under load, in an 8-vCPU guest booted from the lockdep
# kernel (build/bzImage). In the guest (guest/soak-helper.c): a random CPU
# list written to /sys/kernel/debug/sched/paravirt every 1-5 ms (EINVAL
# must come exactly for lists that cover every online CPU), a random CPU
# mask given to a busy loop or hackbench process each time, one of CPUs
# 1-7 offlined or onlined about every 8th time, with 4 busy loops, a
# SCHED_FIFO task allowed on every CPU and 'hackbench -g 2' in a loop.
#
# It passes when every task made progress in the last 10 s of the load (the
# FIFO task, each busy loop; a hackbench run in the last 30 s), the mask is
# cleared and every CPU online at the end, and the kernel log has no
# WARNING, BUG, lockdep report, RCU stall or hung task. Each such report
# is listed and classified:
#   known-base  a report the unpatched kernel gives under the same load
#               (the list is below, in known_base); a lockdep report printed
#               while such a WARNING is printed inherits it
#   series      a frame names a function the series adds (or 'paravirt'),
#               or (KCSAN) a racing access is on a line the series wrote
#               (scripts/faddr2line, then 'git blame' in build/linux)
#   touched     a frame names a function the series changes (patches/);
#               for KCSAN, the function a racing access is in
#   base        (KCSAN only) a data race in code the series does not touch
#   unclassified  none of these: compare with a run on the base kernel (-b)
# A KCSAN report fails the soak only when it is 'series'.
# The console is saved to build/soak-DATE-KIND.log.
#
# Usage: soak.sh [-k KERNEL] [-b] [-B] [-c CPUS] [-l LOG]
#   -k KERNEL  boot this bzImage (default: build/bzImage, or with KCSAN=1
#              build/bzImage-kcsan)
#   -b         boot the unpatched lockdep kernel: tag 'base' of build/linux,
#              guest.config + debug.config (no SCHED_PARAVIRT there: the
#              guest then skips the mask writes), build/bzImage-soak-base,
#              built first when missing (worktree BASE_SRC, default
#              build/soak/linux-base)
#   -B         (re)build the -b or KCSAN=1 kernel first even if it exists
#   -c CPUS    vCPUs (default: 8)
#   -l LOG     console log (default: build/soak-DATE-KIND.log)
# Environment: SOAK_SECONDS (default 120), SOAK_BUSY busy loops (default
# 4), SOAK_SEED, VERBOSE=1 streams the whole console; KCSAN=1 boots the
# KCSAN kernel (config/guest.config + debug.config + kcsan.config from
# build/linux into build/obj/kcsan, built when missing), with kernel/sched
# instrumented unless KCSAN_SCHED=0 (kernel/sched/Makefile turns KCSAN off
# for the scheduler; soak.sh turns it back on for kernel/sched/*.o only).
# Builds run at nice 19, the guest at nice 10.
#
# Exit status: 0 passed; 1 failed (a check in the guest, a timeout, or a
# kernel report that is not known-base; with KCSAN=1, a data race that
# names series code); 2 the guest's checks passed and the only kernel
# reports are known-base ones (lockdep is off after its first report, so
# such a run checked less).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

usage="usage: soak.sh [-k KERNEL] [-b] [-B] [-c CPUS] [-l LOG]"
kernel= base=0 rebuild=0 cpus=8 log=
while getopts k:bBc:l: opt; do
	case $opt in
	k) kernel=$OPTARG ;;
	b) base=1 ;;
	B) rebuild=1 ;;
	c) cpus=$OPTARG ;;
	l) log=$OPTARG ;;
	*) die "$usage" ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 0 ] || die "$usage"
secs=${SOAK_SECONDS:-120}
nbusy=${SOAK_BUSY:-4}
kcsan=${KCSAN:-0}
[ "$kcsan" = 0 ] || kcsan=1
[[ $secs =~ ^[1-9][0-9]*$ ]] || die "bad SOAK_SECONDS: $secs"
[[ $nbusy =~ ^[1-9][0-9]*$ ]] || die "bad SOAK_BUSY: $nbusy"
[[ $cpus =~ ^[1-9][0-9]*$ ]] || die "bad CPU count: $cpus"
[ $base = 0 ] || [ $kcsan = 0 ] || die "-b and KCSAN=1 do not go together"
[ -z "$kernel" ] || [ $base = 0 ] || die "-b and -k do not go together"

# --- kernels -------------------------------------------------------------------
base_img=$BUILD/bzImage-soak-base
kcsan_img=$BUILD/bzImage-kcsan

build_base() {
	local src=${BASE_SRC:-$BUILD/soak/linux-base}
	[ -d "$LINUX/.git" ] || die "no tree at $LINUX (run 'make tree')"
	if [ ! -f "$src/Makefile" ]; then
		log "creating the unpatched worktree $src (tag base)"
		rm -rf "$src"
		git -C "$LINUX" worktree prune
		git -C "$LINUX" worktree add -q --detach "$src" base
	fi
	# guest.config's CONFIG_SCHED_PARAVIRT is unknown there: kernel.sh skips it.
	nice -n 19 "$TOP/scripts/kernel.sh" -s "$src" -O "$BUILD/obj/soak-base" \
		-o "$base_img" "$TOP/config/guest.config" "$TOP/config/debug.config"
}

build_kcsan() {
	local f mf=
	# kernel/sched/Makefile has KCSAN_SANITIZE := n. A per-object
	# KCSAN_SANITIZE_<stem>.o from the command line (here MAKEFLAGS) wins
	# over it; its value looks at $(obj) so that other objects of the same
	# name (kernel/kcsan/core.o above all) keep their directory's rule.
	if [ "${KCSAN_SCHED:-1}" != 0 ]; then
		for f in core fair build_policy build_utility; do
			mf+="KCSAN_SANITIZE_$f.o=\$\$(KSCHED_\$\$(obj)) "
		done
		mf+="KSCHED_kernel/sched=y"
	fi
	MAKEFLAGS=$mf nice -n 19 "$TOP/scripts/kernel.sh" -s "$LINUX" -O "$BUILD/obj/kcsan" \
		-o "$kcsan_img" "$TOP/config/guest.config" "$TOP/config/debug.config" \
		"$TOP/config/kcsan.config"
	grep -q -- '-fsanitize=thread' "$BUILD/obj/kcsan/kernel/sched/.fair.o.cmd" &&
		log "kernel/sched is instrumented" || log "kernel/sched is not instrumented"
}

if [ $base = 1 ]; then
	kind=base kernel=$base_img
	[ $rebuild = 0 ] && [ -f "$kernel" ] || build_base
elif [ $kcsan = 1 ]; then
	kind=kcsan
	if [ -z "$kernel" ]; then
		kernel=$kcsan_img
		[ $rebuild = 0 ] && [ -f "$kernel" ] || build_kcsan
	fi
else
	kind=patched
	[ -n "$kernel" ] || kernel=$BUILD/bzImage
fi
[ -f "$kernel" ] || die "no kernel at $kernel (run 'make kernel')"
kernel=$(cd "$(dirname "$kernel")" && pwd)/$(basename "$kernel")

# --- guest files ---------------------------------------------------------------
mkdir -p "$BUILD/soak"
helper=$BUILD/soak/soak-helper
gcc -static -O2 -Wall -o "$helper" "$TOP/guest/soak-helper.c"
files=(-f "$helper:/root/soak-helper")
path=$(command -v hackbench) || die "hackbench missing (scripts/deps.sh installs rt-tests)"
files+=(-f "$(readlink -f "$path"):/usr/bin/hackbench")
# Debian's hackbench is dynamically linked: its libraries and the loader,
# at the paths ldd names them by.
for lib in $(ldd "$path" | grep -o '/[^ ]*'); do
	files+=(-f "$(readlink -f "$lib"):$lib")
done

# --- run -------------------------------------------------------------------------
[ -n "$log" ] || log=$BUILD/soak-$(date +%Y%m%d-%H%M%S)-$kind.log
mkdir -p "$(dirname "$log")"
: > "$log"
# Boot (up to a minute with lockdep or KCSAN under TCG), the load, then up
# to 2 minutes for the last hackbench run and the onlining.
tmo=$((secs + 300))
args=(-t "$secs" -b "$nbusy")
[ -z "${SOAK_SEED:-}" ] || args+=(-s "$SOAK_SEED")
log "soak: $kind kernel $kernel ($(date -r "$kernel" '+%F %T')), $cpus vCPUs, ${secs} s; console: $log"
set +e
nice -n 10 "$TOP/scripts/run-guest.sh" -q -k "$kernel" -c "$cpus" -t "$tmo" -l "$log" \
	"${files[@]}" -- /root/soak-helper "${args[@]}" &
gpid=$!
if [ "${VERBOSE:-0}" = 1 ]; then
	tail -n +1 -F --pid=$gpid "$log" 2>/dev/null
else
	# Progress: the guest's status lines and the first line of each report.
	tail -n +1 -F --pid=$gpid "$log" 2>/dev/null | tr -d '\r' |
		grep -a --line-buffered -E '@@SOAK|@@GUEST|\] (.*)(WARNING:|BUG:|Oops|Kernel panic|general protection fault|INFO: task .* blocked|detected stall|rcu_.* stall|timer wakeup didn|Possible timer handling)'
fi
wait $gpid
rc=$?
set -e

# --- verdict ---------------------------------------------------------------------
echo
echo "=== soak verdict ($kind kernel, console: ${log#"$TOP"/})"
set +e
# Line numbers for KCSAN's racing accesses: the KCSAN kernel has line tables.
vmlinux=
if [ $kind = kcsan ] && [ "$kernel" = "$kcsan_img" ] && [ -f "$BUILD/obj/kcsan/vmlinux" ]; then
	vmlinux=$BUILD/obj/kcsan/vmlinux
fi
SRC=${vmlinux:+$LINUX} FADDR2LINE=$LINUX/scripts/faddr2line VMLINUX=$vmlinux \
python3 - "$log" "$TOP/patches" "$rc" "$kind" <<'PY'
import os, re, subprocess, sys, glob

log, patches, rc, kind = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
lines = open(log, encoding="utf-8", errors="replace").read().replace("\r", "").split("\n")

# Functions the series adds, and the ones it changes, from patches/.
kw = {"if", "for", "while", "switch", "return", "sizeof", "defined", "DEFINE_MUTEX",
      "DEFINE_STATIC_KEY_FALSE", "guard", "scoped_guard", "EXPORT_SYMBOL_GPL"}
added, touched = set(), set()
for p in sorted(glob.glob(patches + "/0*.patch")):
    f = None
    for l in open(p, encoding="utf-8", errors="replace"):
        if l.startswith("diff --git"):
            f = l.split()[-1][2:]
            continue
        if not f or not re.match(r"(kernel/|include/linux/)", f):
            continue
        m = re.match(r"^@@ [^@]* @@ ?(.*)", l)
        if m:
            mm = [x for x in re.findall(r"([A-Za-z_]\w*)\s*\(", m.group(1)) if x not in kw]
            if mm:
                touched.add(mm[0])
            continue
        if re.match(r"^\+[A-Za-z_]", l) and not l.rstrip().endswith(";"):
            mm = [x for x in re.findall(r"([A-Za-z_]\w*)\s*\(", l) if x not in kw]
            if mm:
                added.add(mm[0])
touched -= added

def is_series(fn):
    return fn in added or "paravirt" in fn

# Reports the unpatched 6.12.117 gives under this load (scripts/soak.sh -b).
known_base = [
    ("dl-running-bw-underflow",
     r"WARNING: CPU: \d+ PID: \d+ at kernel/sched/deadline\.c:\d+ __sub_running_bw",
     "SCHED_WARN_ON(dl_rq->running_bw > old) in __sub_running_bw(), deadline "
     "running_bw underflow (from inactive_task_timer()): the unpatched 6.12.117 "
     "hits it under this load"),
]

hdr = re.compile(r"(WARNING:|BUG:|Oops|Kernel panic|general protection fault|"
                 r"INFO: task .* blocked|detected stall|self-detected stall|rcu_.* stall|"
                 r"DEBUG_LOCKS_WARN_ON|UBSAN:|KASAN:)")
ts = re.compile(r"^\[\s*(\d+\.\d+)\] ?(.*)$")
# With the guess unwinder (the test kernel's) every frame is '? f+0x..'.
frame = re.compile(r"^\s*(?:\? )?([A-Za-z_][\w.]*\+0x[0-9a-f]+/0x[0-9a-f]+)")
rip = re.compile(r"RIP: \d+:([A-Za-z_][\w.]*\+0x[0-9a-f]+/0x[0-9a-f]+)")
access = re.compile(r"^(read|write)( \(marked\))? to .* by (task \d+|interrupt) on cpu \d+:")

reports, cur, open_warn = [], None, None
for l in lines:
    m = ts.match(l)
    if not m:
        continue
    t, msg = m.group(1), m.group(2)
    if hdr.search(msg):
        kindr = ("kcsan" if "KCSAN:" in msg else
                 "stall" if "stall" in msg else
                 "warn" if msg.startswith("WARNING: CPU: ") else
                 "lockdep" if re.match(r"(WARNING|BUG): (possible|inconsistent|suspicious|"
                                       r"lock held|held lock|bad unlock|nested lock)", msg) else
                 "other")
        cur = {"t": t, "head": msg, "body": [], "frames": [], "sites": [], "kind": kindr,
               "parent": open_warn if kindr == "lockdep" else None, "want_site": False}
        reports.append(cur)
        if kindr == "warn":
            open_warn = len(reports) - 1
        continue
    if "---[ end trace" in msg:
        open_warn = None
        if cur:
            cur["body"].append(msg)
            cur = None
        continue
    if cur is None:
        continue
    if len(cur["body"]) < 400:
        cur["body"].append(msg)
    if cur["kind"] == "kcsan" and access.match(msg):
        cur["want_site"] = True
        continue
    fm = frame.match(msg) or rip.search(msg)
    if fm:
        cur["frames"].append(fm.group(1))
        if cur["want_site"]:
            cur["sites"].append(fm.group(1))
            cur["want_site"] = False
    if cur["kind"] == "kcsan" and msg.startswith("=========="):
        cur = None

fn = lambda f: f.split("+")[0]

# Where a KCSAN site is, inlined helpers included (scripts/faddr2line).
where_cache = {}
def where(site):
    vml, f2l = os.environ.get("VMLINUX"), os.environ.get("FADDR2LINE")
    if not vml or not f2l or not os.path.exists(f2l):
        return ""
    if site not in where_cache:
        try:
            out = subprocess.run([f2l, vml, site], capture_output=True, text=True,
                                 timeout=60).stdout
            out = [l.strip() for l in out.split("\n")[1:] if l.strip()]
            where_cache[site] = " <- ".join(re.sub(r"^\(inlined by\) ", "", l) for l in out)
        except Exception:
            where_cache[site] = ""
    return where_cache[site]

# Is a source line one the series wrote? 'git blame' in the tree the KCSAN
# kernel was built from (LINUX): a line from a commit after tag 'base'.
base_rev, blame_cache = None, {}
def series_line(loc):
    global base_rev
    src = os.environ.get("SRC")
    m = re.search(r" at (\S+):(\d+)", loc)
    if not src or not m or not os.path.exists(os.path.join(src, m.group(1))):
        return False
    key = (m.group(1), m.group(2))
    if key not in blame_cache:
        try:
            if base_rev is None:
                base_rev = subprocess.run(["git", "-C", src, "rev-parse", "base"],
                                          capture_output=True, text=True).stdout.strip()
            out = subprocess.run(["git", "-C", src, "blame", "--porcelain", "-L",
                                  "%s,%s" % (key[1], key[1]), "--", key[0]],
                                 capture_output=True, text=True, timeout=60).stdout
            rev = out.split(" ", 1)[0] if out else ""
            blame_cache[key] = bool(rev) and bool(base_rev) and rev != base_rev
        except Exception:
            blame_cache[key] = False
    return blame_cache[key]

def classify(r):
    fr = [fn(f) for f in r["frames"]]
    m = re.search(r" at \S+ ([A-Za-z_]\w*)\+0x", r["head"])
    if m:
        fr.append(m.group(1))
    ser = sorted({f for f in fr if is_series(f)})
    if r["kind"] == "kcsan":
        sites = [fn(s) for s in r["sites"]]
        locs = [where(s) for s in r["sites"]]
        ser += sorted({"(inlined) " + l for l in locs if "paravirt" in l})
        ser += sorted({"(series line) " + x for l in locs for x in l.split(" <- ")
                       if series_line(x)})
        # The function the access is in, inlined helpers included.
        inner = [l.split(" <- ")[0].split(" at ")[0] if l else f for f, l in zip(sites, locs)]
        tch = sorted({f for f in inner if f in touched})
    else:
        tch = sorted({f for f in fr if f in touched})
    for key, pat, desc in known_base:
        if re.search(pat, r["head"]):
            return "known-base", key, desc, ser, tch
    if r["parent"] is not None and reports[r["parent"]].get("class") == "known-base":
        return ("known-base", reports[r["parent"]]["key"],
                "printed while printing the known-base WARNING #%d (under the rq lock)" % (r["parent"] + 1),
                ser, tch)
    if ser:
        return "series", None, "", ser, tch
    if tch:
        return "touched", None, "", ser, tch
    if r["kind"] == "kcsan":
        return "base", None, "", ser, tch
    return "unclassified", None, "", ser, tch

counts = {}
for i, r in enumerate(reports):
    c, key, desc, ser, tch = classify(r)
    r["class"], r["key"] = c, key
    k = ("kcsan-" if r["kind"] == "kcsan" else "") + c
    counts[k] = counts.get(k, 0) + 1
    print("--- report #%d at %ss [%s%s]: %s" % (i + 1, r["t"], c, " " + key if key else "", r["head"]))
    if desc:
        print("    " + desc)
    if ser:
        print("    series code in it: " + " ".join(ser))
    if tch:
        print("    %s the series changes: %s" % (
            "racing in functions" if r["kind"] == "kcsan" else "functions in it", " ".join(tch)))
    if r["kind"] == "kcsan":
        for s in r["sites"]:
            w = where(s)
            print("    access in %s%s" % (s, " at " + w if w else ""))
        body = [b for b in r["body"] if b.strip() and not b.startswith("=====")]
        out, take = [], 0
        for b in body:
            if access.match(b) or b.startswith("value changed"):
                out.append(b)
                take = 4
            elif take and frame.match(b):
                out.append(b)
                take -= 1
        for b in out:
            print("      " + b)
        continue
    body = [b for b in r["body"] if b.strip()]
    for b in body[:14 if r["kind"] == "stall" else 8]:
        print("      " + b)

guest = [l for l in lines if l.startswith("@@SOAK")]
for l in lines:
    if l.startswith("@@GUEST-START@@") or l.startswith("@@SOAK start:"):
        print(l.split(" ", 1)[1])
summary = [l for l in guest if l.startswith("@@SOAK summary:")]
verdict = [l for l in guest if l.startswith("@@SOAK verdict:")]
fails = [l for l in guest if l.startswith("@@SOAK-FAIL")]
starve = [ts.match(l).group(2) for l in lines if ts.match(l) and
          re.search(r"timer wakeup didn't happen|Possible timer handling issue|kthread starved", l)]
for l in fails:
    print(l)
if starve:
    print("RCU kthread starvation lines (first 4):")
    for l in starve[:4]:
        print("    " + l)
if summary:
    print(summary[-1][len("@@SOAK "):])
else:
    print("no summary from the guest (it did not get to the end)")

def n(k):
    return "%d %s report%s" % (counts[k], k, "s" if counts[k] > 1 else "")
bad = []
if rc == 124:
    bad.append("the guest timed out (hung?)")
if not verdict:
    bad.append("the guest gave no verdict")
elif "PASS" not in verdict[-1]:
    bad.append("the guest's checks failed")
bad += [n(k) for k in ("series", "touched", "unclassified", "kcsan-series") if counts.get(k)]
notes = [n(k) for k in ("known-base", "kcsan-known-base", "kcsan-touched", "kcsan-base")
         if counts.get(k)]
if bad:
    print("VERDICT: FAIL (%s%s)" % ("; ".join(bad), "; also " + ", ".join(notes) if notes else ""))
    sys.exit(1)
if counts.get("known-base") or counts.get("kcsan-known-base"):
    print("VERDICT: PASS except for known base-kernel reports (%s)" % ", ".join(notes))
    sys.exit(2)
print("VERDICT: PASS" + (" (%s)" % ", ".join(notes) if notes else ""))
sys.exit(0)
PY
vrc=$?
set -e
exit $vrc
