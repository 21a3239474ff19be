#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Turn a scripts/bench.sh run directory into PREFIX.md, PREFIX.json and
PREFIX.png.

Every ratio is computed pair by pair: the two configurations' samples from
the same round (and the same repetition within the round, for the
mechanism timings) are divided, and the median, min and max are taken over
those per-round ratios, never of medians.

Usage: bench-report.py RUN_DIR PREFIX
"""
import csv
import json
import os
import re
import statistics
import sys
from collections import defaultdict

CONFIGS = [
    ("A", "baseline", "unpatched kernel, 8 vCPUs, nothing taken away"),
    ("B", "all8", "patched, 8 vCPUs, nothing taken away"),
    ("C", "series", "CPUs 2-7 marked paravirt, the series: placement, balancer and push"),
    ("H", "lb-only", "marked, load balancer only (NO_PARAVIRT_PLACE, NO_PARAVIRT_PUSH; "
     "the s390 group_parked approach)"),
    ("I", "no-push", "marked, placement and balancer, no push (NO_PARAVIRT_PUSH)"),
    ("J", "tick-push", "marked, placement, balancer and a push of the current fair task "
     "from the tick only (the 2026 series' push; benchmark-only experiment 2)"),
    ("K", "capacity", "marked, the marked CPUs' capacity reported as 1 and nothing else "
     "(all three features off; benchmark-only experiment 1)"),
    ("D", "hotplug", "CPUs 2-7 offlined by CPU hotplug"),
    ("L", "cpuset", "CPUs 2-7 taken out of the root cpuset partition (cgroup v2, isolated)"),
    ("E", "2vcpu", "patched, 2-vCPU guest"),
]
# The configurations that take CPUs 2-7 away, and those that mark them.
METHODS = "CHIJKDL"
MARKED = "CHIJKL"
# How long bench-guest.sh lets a reaction take before it counts as never.
MECH_TIMEOUT_MS = 3000
# The cost when unused, on QEMU's instruction clock (ACCEL=icount).
ICOUNT_CONFIGS = [
    ("F", "baseline-icount", "A on the instruction clock"),
    ("G", "unmarked-icount", "B on the instruction clock"),
]
CNAME = {c: n for c, n, _ in CONFIGS + ICOUNT_CONFIGS}
# (workload, metric, label) measured in the icount rounds.
COST_ROWS = [
    ("hackbench-proc-pipe", "time", "hackbench processes, pipes (s)"),
    ("hackbench-proc-sock", "time", "hackbench processes, sockets (s)"),
    ("hackbench-thread-pipe", "time", "hackbench threads, pipes (s)"),
    ("hackbench-thread-sock", "time", "hackbench threads, sockets (s)"),
    ("pingpong", "rtt-mean", "pipe ping-pong round trip, mean (us)"),
    ("pingpong-cpu0", "rtt-mean", "ping-pong, both on CPU 0, mean (us)"),
]

# (workload, metric, label, higher is better)
ROWS = [
    ("hackbench-proc-pipe", "time", "hackbench processes, pipes (s)", False),
    ("hackbench-proc-sock", "time", "hackbench processes, sockets (s)", False),
    ("hackbench-thread-pipe", "time", "hackbench threads, pipes (s)", False),
    ("hackbench-thread-sock", "time", "hackbench threads, sockets (s)", False),
    ("lock-contention", "time", "pthread mutex, 8 threads, fixed work (s)", False),
    ("cpu-throughput", "ops-per-s", "stress-ng cpu int64, 8 workers (ops/s)", True),
    ("pingpong", "rtt-p50", "pipe ping-pong round trip p50 (us)", False),
    ("pingpong", "rtt-p99", "pipe ping-pong round trip p99 (us)", False),
    ("pingpong-cpu0", "rtt-p50", "ping-pong, both on CPU 0, p50 (us)", False),
    ("pingpong-cpu0", "rtt-p99", "ping-pong, both on CPU 0, p99 (us)", False),
    ("cyclictest-load", "p50", "cyclictest under load, wake-up p50 (us)", False),
    ("cyclictest-load", "p99", "cyclictest under load, wake-up p99 (us)", False),
    ("cyclictest-load", "max", "cyclictest under load, max (us)", False),
]
# What CPUs 2-7 do during the four hackbench runs (A, B and C only).
DIAG = [
    ("hackbench-cpus2-7", "busy-pct", "CPUs 2-7 busy, % of their time"),
    ("hackbench-cpus2-7", "irq-per-s", "CPUs 2-7 interrupts /s (all)"),
    ("hackbench-cpus2-7", "timer-per-s", "CPUs 2-7 local timer interrupts /s"),
    ("hackbench-cpus2-7", "resched-ipi-per-s", "CPUs 2-7 reschedule IPIs /s"),
    ("hackbench-cpus2-7", "call-tlb-ipi-per-s", "CPUs 2-7 function-call + TLB IPIs /s"),
]
HACKBENCH = [r for r in ROWS if r[0].startswith("hackbench")]

# Reaction, with 16 busy loops (bench-helper mech; ms).
MECH = [
    ("apply-write", "take 2-7 away: the writes return (ms)"),
    ("apply-drain", "take away -> no busy loop left on 2-7 (ms)"),
    ("remove-write", "give back: the writes return (ms)"),
    ("remove-spread-all", "give back -> busy loops placed on all 8 CPUs (ms)"),
    ("remove-ran-most", "give back -> busy loops ran on >= 7 CPUs (ms)"),
    ("remove-ran-all", "give back -> busy loops ran on all 8 CPUs (ms)"),
]
# The switch itself, idle, once per boot.
SWITCH = [
    ("switch", "affinity-changed", "threads whose affinity changed after take-away and give-back"),
    ("switch", "affinity-tasks", "threads compared"),
    ("switch", "domain-rebuilds", "sched domain builds for one take-away and give-back"),
    ("switch", "stopper-runs", "stopper (migration/N) runs for one take-away and give-back"),
]


def read_kv(path):
    out = {}
    if os.path.exists(path):
        for line in open(path):
            if "=" in line:
                k, v = line.rstrip("\n").split("=", 1)
                out[k] = v
    return out


def fnum(s):
    try:
        return float(s)
    except ValueError:
        return None


def stats(xs):
    xs = [x for x in xs if x is not None]
    if not xs:
        return None
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "n": len(xs)}


def fmt(v):
    if v is None:
        return "-"
    a = abs(v)
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 1:
        return f"{v:.2f}"
    return f"{v:.3f}"


def fmt_stats(s, ratio=False):
    if not s:
        return "-"
    f = (lambda v: f"{v:.3f}") if ratio else fmt
    return f"{f(s['median'])} ({f(s['min'])}–{f(s['max'])})"


def main():
    run, prefix = sys.argv[1], sys.argv[2]
    facts = read_kv(os.path.join(run, "facts.txt"))

    # samples[(cfg, workload, metric)][(round, rep)] = value
    samples = defaultdict(dict)
    raw = []
    reps = defaultdict(int)
    with open(os.path.join(run, "samples.tsv")) as f:
        for row in csv.DictReader(f, delimiter="\t"):
            key = (row["config"], row["workload"], row["metric"])
            rnd = int(row["round"])
            rep = reps[key + (rnd,)]
            reps[key + (rnd,)] += 1
            v = fnum(row["value"])
            samples[key][(rnd, rep)] = v
            raw.append({"round": rnd, "rep": rep, "config": row["config"],
                        "workload": row["workload"], "metric": row["metric"],
                        "value": v if v is not None else row["value"],
                        "unit": row["unit"]})
    boots = []
    with open(os.path.join(run, "boots.tsv")) as f:
        for row in csv.DictReader(f, delimiter="\t"):
            boots.append({"round": int(row["round"]), "config": row["config"],
                          "status": int(row["status"]), "seconds": float(row["seconds"]),
                          "other_load": fnum(row.get("other_load", "")),
                          "kernel": row["kernel"], "errors": row["errors"]})

    def vals(cfg, w, m):
        return [v for v in samples.get((cfg, w, m), {}).values() if v is not None]

    def ratio(cx, wx, mx, cy, wy, my):
        """Pair by pair x/y over the (round, rep) keys both have."""
        x, y = samples.get((cx, wx, mx), {}), samples.get((cy, wy, my), {})
        rs = [x[k] / y[k] for k in sorted(set(x) & set(y))
              if x[k] is not None and y[k] not in (None, 0)]
        s = stats(rs)
        if s:
            s["samples"] = rs
        return s

    summary = {}
    for w, m, label in DIAG:
        summary[f"{w}/{m}"] = {c: stats(vals(c, w, m)) for c, _, _ in CONFIGS}
    for w, m, label, hib in ROWS:
        summary[f"{w}/{m}"] = {c: stats(vals(c, w, m)) for c, _, _ in CONFIGS}
    cost = {f"{w}/{m}": {c: stats(vals(c, w, m)) for c, _, _ in ICOUNT_CONFIGS}
            for w, m, _ in COST_ROWS}
    for w, m, label in SWITCH:
        summary[f"{w}/{m}"] = {c: stats(vals(c, w, m)) for c, _, _ in CONFIGS}

    def tmo_count(cfg, m):
        return sum(1 for r in raw if r["config"] == cfg and r["workload"] == "mech"
                   and r["metric"] == m and r["value"] == "timeout")

    mech = {m: {c: stats(vals(c, "mech", m)) for c in METHODS} for m, _ in MECH}
    mech_tmo = {m: {c: tmo_count(c, m) for c in METHODS} for m, _ in MECH}
    timeouts = sum(1 for r in raw if r["workload"] == "mech" and r["value"] == "timeout")

    # Comparisons: (id, text, x, y, ratio meaning, goal test or None)
    comps = []

    def add(cid, text, x, y, goal=None, goal_text=""):
        s = ratio(*x, *y)
        ok = None
        if s and goal:
            ok = goal(s["median"])
        comps.append({"id": cid, "text": text, "ratio": s, "goal": goal_text, "met": ok})

    def add_geo(cid, text, cx, cy, wms):
        """Per round, the geometric mean of the x/y ratios of several workloads."""
        per = defaultdict(list)
        for w, m in wms:
            x, y = samples.get((cx, w, m), {}), samples.get((cy, w, m), {})
            for k in set(x) & set(y):
                if x[k] is not None and y[k] not in (None, 0):
                    per[k].append(x[k] / y[k])
        rs = [statistics.geometric_mean(v) for k, v in sorted(per.items()) if len(v) == len(wms)]
        st = stats(rs)
        if st:
            st["samples"] = rs
        comps.append({"id": cid, "text": text, "ratio": st, "goal": "", "met": None})

    for w, m, label, _ in HACKBENCH:
        short = w.replace("hackbench-", "")
        add(f"{short}/marked-vs-hotplug", f"hackbench {short}: time marked / time offlined (C/D)",
            ("C", w, m), ("D", w, m), lambda v: v <= 1.02, "≤ 1.02")
        add(f"{short}/speedup-vs-all8", f"hackbench {short}: time all 8 / time marked (B/C)",
            ("B", w, m), ("C", w, m), lambda v: v >= 2.0, "≥ 2")
        add(f"{short}/baseline-vs-marked", f"hackbench {short}: time baseline all 8 / time marked (A/C)",
            ("A", w, m), ("C", w, m))
        add(f"{short}/marked-vs-2vcpu", f"hackbench {short}: time marked / time 2-vCPU guest (C/E)",
            ("C", w, m), ("E", w, m))
    add("cpu/marked-vs-all8", "CPU-bound throughput: marked / all 8 (C/B)",
        ("C", "cpu-throughput", "ops-per-s"), ("B", "cpu-throughput", "ops-per-s"),
        lambda v: v >= 0.97, "≥ 0.97")
    add("cpu/hotplug-vs-all8", "CPU-bound throughput: offlined / all 8 (D/B)",
        ("D", "cpu-throughput", "ops-per-s"), ("B", "cpu-throughput", "ops-per-s"))
    add("lock/speedup-vs-all8", "lock contention: time all 8 / time marked (B/C)",
        ("B", "lock-contention", "time"), ("C", "lock-contention", "time"))
    add("lock/marked-vs-hotplug", "lock contention: time marked / time offlined (C/D)",
        ("C", "lock-contention", "time"), ("D", "lock-contention", "time"))
    add("cyclictest/p99-all8-vs-marked", "cyclictest p99 under load: all 8 / marked (B/C)",
        ("B", "cyclictest-load", "p99"), ("C", "cyclictest-load", "p99"))
    add("mech/offline-vs-mark", "reaction: hotplug offline writes (D) / mark-to-drained (C)",
        ("D", "mech", "apply-write"), ("C", "mech", "apply-drain"),
        lambda v: v >= 20, "≥ 20")
    add("mech/online-vs-clear", "reaction: hotplug online-to-spread (D) / clear-to-spread (C), all 8",
        ("D", "mech", "remove-spread-all"), ("C", "mech", "remove-spread-all"),
        lambda v: v >= 20, "≥ 20")
    add("mech/online-vs-clear-ran", "reaction: hotplug online-to-ran (D) / clear-to-ran (C), all 8",
        ("D", "mech", "remove-ran-all"), ("C", "mech", "remove-ran-all"),
        lambda v: v >= 20, "≥ 20")
    add("mech/online-write-vs-clear", "reaction: hotplug online writes alone (D) / clear-to-spread (C)",
        ("D", "mech", "remove-write"), ("C", "mech", "remove-spread-all"))
    add("mech/cpuset-vs-mark", "reaction: cpuset partition to drained (L) / mark to drained (C)",
        ("L", "mech", "apply-drain"), ("C", "mech", "apply-drain"))
    # Every other method against the series, round by round: hackbench (the
    # four variants, geometric mean of their ratios), the mutex, CPU-bound
    # throughput and cyclictest p99 under load. Above 1: slower than the
    # series (for throughput: below 1).
    for c in "HIJKDL":
        n = CNAME[c]
        add_geo(f"hackbench/{n}-vs-series", f"hackbench, 4 variants (geometric mean): time {n} / "
                f"time series ({c}/C)", c, "C", [(w, m) for w, m, _, _ in HACKBENCH])
        add(f"lock/{n}-vs-series", f"mutex workload: time {n} / time series ({c}/C)",
            (c, "lock-contention", "time"), ("C", "lock-contention", "time"))
        add(f"cpu/{n}-vs-series", f"CPU-bound throughput: {n} / series ({c}/C)",
            (c, "cpu-throughput", "ops-per-s"), ("C", "cpu-throughput", "ops-per-s"))
        add(f"cyclictest/{n}-vs-series", f"cyclictest p99 under load: {n} / series ({c}/C)",
            (c, "cyclictest-load", "p99"), ("C", "cyclictest-load", "p99"))
    # The cost when unused is judged on the instruction clock (G/F), where
    # a fraction of a percent is measurable; B/A on the wall clock is
    # shown for reference only.
    within = lambda v: abs(v - 1) <= 0.005
    for w, m, label in COST_ROWS:
        short = w.replace("hackbench-", "hackbench ")
        add(f"unused-icount/{w}-{m}", f"cost when unused, instruction clock: {short} {m}, "
            "patched / baseline (G/F)", ("G", w, m), ("F", w, m), within, "1 ± 0.005")
    for w, m, label in COST_ROWS:
        short = w.replace("hackbench-", "hackbench ")
        add(f"unused/{w}-{m}", f"cost when unused, wall clock (noisy): {short} {m}, "
            "patched / baseline (B/A)", ("B", w, m), ("A", w, m))

    # Kernel text: bloat-o-meter -t and size(1).
    bloat = {}
    bpath = os.path.join(run, "bloat-o-meter.txt")
    if os.path.exists(bpath):
        text = open(bpath).read()
        bloat["bloat_o_meter"] = text
        m = re.search(r"add/remove: (\d+)/(\d+) grow/shrink: (\d+)/(\d+) up/down: ([+-]?\d+)/([+-]?\d+) \(([+-]?\d+)\)", text)
        if m:
            bloat.update(add=int(m[1]), remove=int(m[2]), grow=int(m[3]), shrink=int(m[4]),
                         delta=int(m[7]))
        m = re.search(r"Total: Before=(\d+), After=(\d+), chg ([+-]?[\d.]+)%", text)
        if m:
            bloat.update(before=int(m[1]), after=int(m[2]), chg_percent=float(m[3]))
    spath = os.path.join(run, "size.txt")
    if os.path.exists(spath):
        rows = [l.split() for l in open(spath) if l.split() and l.split()[0].isdigit()]
        if len(rows) == 2:
            bloat["size_text"] = {"baseline": int(rows[0][0]), "patched": int(rows[1][0])}

    failed = [b for b in boots if b["status"] != 0 or b["errors"]]
    report = {
        "facts": facts,
        "configs": {c: {"name": n, "description": d} for c, n, d in CONFIGS + ICOUNT_CONFIGS},
        "boots": boots,
        "summary": summary,
        "cost_icount": cost,
        "mechanism": mech,
        "mechanism_timeouts": mech_tmo,
        "comparisons": comps,
        "kernel_text": {k: v for k, v in bloat.items() if k != "bloat_o_meter"},
        "bloat_o_meter": bloat.get("bloat_o_meter", ""),
        "samples": raw,
    }
    with open(prefix + ".json", "w") as f:
        json.dump(report, f, indent=1)

    # --- Markdown ---------------------------------------------------------
    L = []
    L.append(f"## Benchmark results ({'QUICK' if facts.get('quick') == '1' else 'full'} run, {facts.get('date', '?')})")
    L.append("")
    cut = ""
    if facts.get("rounds_planned") and facts.get("rounds") != facts.get("rounds_planned"):
        cut = (f" (of {facts['rounds_planned']} planned: the {facts.get('budget_seconds')} s "
               "time budget stopped the run)")
    L.append(f"{facts.get('rounds')} round(s){cut}, configurations alternated {' '.join(c for c, _, _ in CONFIGS)} per round, one guest boot "
             f"per configuration and round; QEMU TCG (`{facts.get('qemu', '?')}`), "
             f"{facts.get('nproc')} host CPUs ({facts.get('cpu_model', '?')}), host {facts.get('host_os', '?')} "
             f"kernel {facts.get('host_kernel', '?')}; host load average {facts.get('host_load_start')} at the start, "
             f"{facts.get('host_load_end')} at the end. Guest kernels: patched "
             f"`{facts.get('patched_kernel')}` ({facts.get('patched_commits')} commits on base, HEAD "
             f"{facts.get('patched_head')}, plus the benchmark-only experiment patch of bench/kernel/), baseline "
             f"`{facts.get('baseline_kernel')}`; both non-debug `config/guest.config`. "
             f"Run time {facts.get('total_seconds')} s (kernel build step {facts.get('build_seconds')} s).")
    L.append("")
    ol = stats([b["other_load"] for b in boots])
    if ol:
        L.append(f"The machine is shared: other jobs used {ol['median']:.2f} host CPUs during a median boot "
                 f"({ol['min']:.2f}–{ol['max']:.2f}), out of {facts.get('nproc')}; a TCG guest slows down "
                 "with them, which the alternation spreads over all configurations but does not remove.")
        L.append("")
    L.append("Medians, (min–max) over rounds. Configurations: " +
             "; ".join(f"**{c}** {d}" for c, _, d in CONFIGS) + ".")
    L.append("")
    L.append("| workload | " + " | ".join(f"{c} {n}" for c, n, _ in CONFIGS) + " |")
    L.append("|---|" + "---|" * len(CONFIGS))
    for w, m, label, hib in ROWS:
        s = summary[f"{w}/{m}"]
        L.append(f"| {label}{' ↑' if hib else ''} | " + " | ".join(fmt_stats(s[c]) for c, _, _ in CONFIGS) + " |")

    def mech_cell(c, m):
        if c not in METHODS:
            return ""
        st, n_tmo = mech[m][c], mech_tmo[m][c]
        cell = fmt_stats(st) if st else ""
        if n_tmo:
            never = f"never in {MECH_TIMEOUT_MS / 1000:g} s"
            cell = f"{cell} + {n_tmo}× {never}" if st else f"{never} ({n_tmo}×)"
        return cell or "-"

    for m, label in MECH:
        L.append(f"| **reaction**: {label} | " + " | ".join(mech_cell(c, m) for c, _, _ in CONFIGS) + " |")
    # The cost when unused applies to code: the series' (C to K run the same
    # kernel, the parts and experiments switched at run time), measured on
    # the instruction clock (G/F); hotplug and cpuset add none.
    pp = ratio("G", "pingpong", "rtt-mean", "F", "pingpong", "rtt-mean")
    hb = [ratio("G", w, m, "F", w, m) for w, m, _ in COST_ROWS if w.startswith("hackbench")]
    if pp:
        cell = f"{fmt_stats(pp, ratio=True)}; hackbench " + ", ".join(
            f"{h['median']:.3f}" for h in hb if h)
        L.append("| **unused**: patched / unpatched kernel, nothing marked, instruction clock "
                 "(G/F): cross-CPU ping-pong; hackbench × 4 | " +
                 " | ".join(cell if c == "C" else "as C (same kernel)" if c in "HIJK" else
                            "none (no code)" if c in "DL" else "" for c, _, _ in CONFIGS) + " |")
    for w, m, label in SWITCH:
        st = summary[f"{w}/{m}"]
        L.append(f"| **switch**: {label} | " +
                 " | ".join(fmt_stats(st[c]) if c in METHODS else "" for c, _, _ in CONFIGS) + " |")
    L.append("")
    L.append("↑: higher is better; otherwise lower is better. Reaction: 16 busy loops, polled every 0.1 ms "
             "through /proc/PID/stat by a SCHED_FIFO observer (\"placed\"), or noted by the loops "
             "themselves the first time each CPU runs one (\"ran\", which does not depend on when the "
             f"observer's vCPU gets host time); \"never\" is a drain or spread not reached in "
             f"{MECH_TIMEOUT_MS / 1000:g} s. Switch: one take-away and give-back in the idle guest; "
             "domain builds are counted by their debug output (sched/verbose), stopper runs as the "
             "context switches of the migration/N threads; the affinity of every thread alive before "
             "and after is compared, with four tasks that wake up every 20 ms, pinned to 2-7, 3, 0,5 and 0-1, among them.")
    L.append("")
    changed = sorted({r for r in open(os.path.join(run, "affinity.txt"))}
                     if os.path.exists(os.path.join(run, "affinity.txt")) else [])
    if changed:
        L.append("Affinities changed (round, configuration, thread comm: before -> after), as reported:")
        L.append("")
        for line in changed[:12]:
            L.append(f"- {line.strip()}")
        L.append("")
    if any(summary.get(f"{w}/{m}", {}).get("C") for w, m, _ in DIAG):
        L.append("What CPUs 2-7 do during the four hackbench runs (from /proc/stat and /proc/interrupts):")
        L.append("")
        dcols = "AB" + MARKED
        L.append("| CPUs 2-7 | " + " | ".join(f"{c} {CNAME[c]}" for c in dcols) + " |")
        L.append("|---|" + "---|" * len(dcols))
        for w, m, label in DIAG:
            st = summary[f"{w}/{m}"]
            L.append(f"| {label} | " + " | ".join(fmt_stats(st[c]) for c in dcols) + " |")
        L.append("")
    if any(cost[k]["F"] for k in cost):
        L.append(f"Cost when unused on QEMU's instruction clock ({facts.get('icount_rounds')} round(s) "
                 "of F G before the others): the same kernels as A and B booted with `-icount "
                 "shift=0,sleep=off` and single-threaded TCG, where guest time counts the "
                 "instructions executed (1 ns each) and does not depend on the host's load:")
        L.append("")
        L.append("| workload | F baseline | G patched, unmarked | G/F, per round |")
        L.append("|---|---|---|---|")
        for w, m, label in COST_ROWS:
            st = cost[f"{w}/{m}"]
            L.append(f"| {label} | {fmt_stats(st['F'])} | {fmt_stats(st['G'])} | "
                     f"{fmt_stats(ratio('G', w, m, 'F', w, m), ratio=True)} |")
        L.append("")
    L.append("Ratios, computed pair by pair within each round, then median (min–max) over the pairs:")
    L.append("")
    L.append("| comparison | ratio | goal | met |")
    L.append("|---|---|---|---|")
    for c in comps:
        met = "" if c["met"] is None else ("yes" if c["met"] else "**no**")
        L.append(f"| {c['text']} | {fmt_stats(c['ratio'], ratio=True)} | {c['goal']} | {met} |")
    L.append("")
    if bloat:
        t = bloat.get("size_text")
        line = "Kernel text, patched vs baseline vmlinux: "
        if "delta" in bloat:
            line += (f"`bloat-o-meter -t` {bloat['delta']:+d} bytes of text symbols "
                     f"(added/removed {bloat['add']}/{bloat['remove']}, grown/shrunk {bloat['grow']}/{bloat['shrink']}")
            if "before" in bloat:
                line += f"; total {bloat['before']} → {bloat['after']}, {bloat['chg_percent']:+.2f}%"
            line += ")"
        if t:
            line += (f"; `size` text {t['baseline']} → {t['patched']} "
                     f"({t['patched'] - t['baseline']:+d} bytes: the .text section is padded to a 2 MiB "
                     "boundary, so this mostly shows the padding)")
        L.append(line + ".")
        L.append("")
    rpath = os.path.join(run, "retries.tsv")
    retries = [l.split("\t") for l in open(rpath).read().splitlines()] if os.path.exists(rpath) else []
    if retries:
        L.append(f"{len(retries)} boot(s) died before their end and were run again (multi-threaded TCG "
                 "now and then runs a stale int3 after jump-label patching at boot; consoles kept as "
                 "`*.failN.log`): " + ", ".join(f"round {r[0]} {r[1]} ({CNAME.get(r[1], '?')})"
                                             for r in retries) + ".")
        L.append("")
    if failed:
        L.append("Boots with a non-zero exit or errors (their results, if any, are kept):")
        L.append("")
        for b in failed:
            L.append(f"- round {b['round']} {b['config']} ({CNAME[b['config']]}): exit {b['status']} {b['errors']}")
        L.append("")
    L.append(f"![chart]({os.path.basename(prefix)}.png)")
    L.append("")
    with open(prefix + ".md", "w") as f:
        f.write("\n".join(L))

    # --- chart ------------------------------------------------------------
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("bench-report: matplotlib missing, no chart", file=sys.stderr)
        return
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(17, 11), gridspec_kw={"height_ratios": [3, 2]})
    rows = [r for r in ROWS if r[0] not in ("pingpong", "pingpong-cpu0") and r[1] not in ("max", "p50")]
    cfgs = [c for c, _, _ in CONFIGS if c != "B"]
    width = 0.8 / len(cfgs)
    cmap = plt.get_cmap("tab10")
    colors = {c: cmap(i) for i, (c, _, _) in enumerate(CONFIGS)}
    for i, c in enumerate(cfgs):
        meds, lo, hi = [], [], []
        for w, m, label, hib in rows:
            # Speed relative to B in the same round: higher is better.
            st = ratio("B", w, m, c, w, m) if not hib else ratio(c, w, m, "B", w, m)
            meds.append(st["median"] if st else 0)
            lo.append(st["median"] - st["min"] if st else 0)
            hi.append(st["max"] - st["median"] if st else 0)
        xs = [j + (i - (len(cfgs) - 1) / 2) * width for j in range(len(rows))]
        ax1.bar(xs, meds, width, yerr=[lo, hi], capsize=1.5, label=f"{c} {CNAME[c]}",
                color=colors[c], error_kw={"linewidth": 0.6})
    ax1.axhline(1.0, color="black", linewidth=0.6)
    ax1.set_yscale("log", base=2)
    ax1.set_xticks(range(len(rows)))
    short = {"hackbench-proc-pipe": "hackbench\nproc pipe", "hackbench-proc-sock": "hackbench\nproc sock",
             "hackbench-thread-pipe": "hackbench\nthread pipe", "hackbench-thread-sock": "hackbench\nthread sock",
             "lock-contention": "mutex\nworkload", "cpu-throughput": "CPU-bound\nthroughput",
             "cyclictest-load": "cyclictest\nloaded"}
    ax1.set_xticklabels([short.get(w, w) + ("" if m in ("time", "ops-per-s") else f"\n{m}")
                         for w, m, _, _ in rows], fontsize=8)
    ax1.set_ylabel("performance relative to B (all 8 vCPUs)\nhigher is better (log2)")
    ax1.set_title("Workloads: per-round ratio to B, median and min–max")
    ax1.legend(fontsize=7, ncol=5)

    # Reaction per method: take away -> drained, give back -> ran on all 8.
    steps = (("apply-drain", "take away ->\nno busy loop on 2-7"),
             ("remove-ran-all", "give back ->\nloops ran on all 8"),
             ("apply-write", "take away:\nwrites return"),
             ("remove-write", "give back:\nwrites return"))
    width = 0.8 / len(METHODS)
    for i, c in enumerate(METHODS):
        meds, lo, hi, never = [], [], [], []
        for m, _ in steps:
            st = mech[m][c]
            if st:
                meds.append(st["median"])
                lo.append(st["median"] - st["min"])
                hi.append(st["max"] - st["median"])
                never.append(False)
            else:
                never.append(mech_tmo[m][c] > 0)
                meds.append(MECH_TIMEOUT_MS if never[-1] else 0)
                lo.append(0)
                hi.append(0)
        xs = [j + (i - (len(METHODS) - 1) / 2) * width for j in range(len(steps))]
        bars = ax2.bar(xs, meds, width, yerr=[lo, hi], capsize=1.5, label=f"{c} {CNAME[c]}",
                       color=colors[c], error_kw={"linewidth": 0.6})
        for b, nv in zip(bars, never):
            if nv:
                b.set_hatch("//")
                b.set_alpha(0.45)
    ax2.set_xticks(range(len(steps)))
    ax2.set_xticklabels([t for _, t in steps], fontsize=8)
    ax2.set_yscale("log")
    ax2.set_ylabel("ms (log); hatched: never,\n" f"cut at {MECH_TIMEOUT_MS / 1000:g} s")
    ax2.set_title("Reaction with 16 busy loops, per method")
    ax2.legend(fontsize=7, ncol=7)
    fig.suptitle(f"Taking CPUs 2-7 of an 8-vCPU TCG guest away, on {facts.get('nproc')} host CPUs, "
                 f"{facts.get('rounds')} rounds ({facts.get('date', '')})", fontsize=10)
    fig.tight_layout()
    fig.savefig(prefix + ".png", dpi=100)


if __name__ == "__main__":
    main()
