#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Turn a scripts/bench-governor.sh run directory into PREFIX.md,
PREFIX.json and PREFIX.png.

Per boot (round, policy, workload) it reads the '@@GB' lines of the
console: 250 ms samples (usable CPUs, cumulative work, /proc/stat steal,
host steal), the phase changes, every change of the usable CPUs, the
anchor/hotplug controller's decisions and the governor's trace events.
Work ratios are taken pair by pair: the two policies' work in the same
round and phase, then the median (min-max) over rounds.

Usage: bench-governor-report.py RUN_DIR [RUN_DIR...] PREFIX

With several run directories (the same phase length), their rounds are
numbered on in the order given and reported together.
"""
import glob
import json
import os
import re
import statistics
import sys

POLICIES = [
    ("all8", "nothing marked"),
    ("static", "oracle: mask = host size at each phase change"),
    ("governor", "in-kernel steal-time governor, defaults (period 1 s)"),
    ("anchor", "upstream 5%/2% rule on /proc/stat steal, one core per second, via the debugfs mask (emulated in guest userspace)"),
    ("hotplug", "the same 5%/2% rule through CPU hotplug"),
]
PNAMES = [p for p, _ in POLICIES]
WORKLOADS = [
    ("hackbench", "hackbench pattern (-p -g 4 -f 10), continuous", "loops"),
    ("cpu", "8 busy loops", "M iterations"),
]
USER_HZ = 100
NCPU = 8


def read_kv(path):
    out = {}
    if os.path.exists(path):
        for line in open(path):
            if "=" in line:
                k, v = line.rstrip("\n").split("=", 1)
                out[k] = v
    return out


def kv(s):
    d = {}
    for tok in s.split():
        if "=" in tok:
            k, v = tok.split("=", 1)
            d[k] = v
    return d


def num(v):
    try:
        return float(v.rstrip("%"))
    except (ValueError, AttributeError):
        return v


def parse_console(path):
    b = {"samples": [], "phases": [], "masks": [], "ctl": [], "trace": [],
         "info": {}, "gstats": {}, "errors": [], "cost": [], "end": None}
    for raw in open(path, "rb"):
        line = raw.decode("utf-8", "replace").replace("\r", "").rstrip("\n")
        i = line.find("@@GB ")
        if i < 0:
            continue
        rest = line[i + 5:]
        kind, _, body = rest.partition(" ")
        d = {k: num(v) for k, v in kv(body).items()}
        if kind == "s":
            b["samples"].append(d)
        elif kind == "phase":
            b["phases"].append(d)
        elif kind == "m":
            b["masks"].append(d)
        elif kind == "c":
            b["ctl"].append(d)
        elif kind == "trace":
            b["trace"].append(d)
        elif kind == "info":
            b["info"] = d
        elif kind == "gstats":
            b["gstats"] = d
        elif kind == "cost":
            b["cost"].append(d)
        elif kind == "end":
            b["end"] = d
        elif kind == "error":
            b["errors"].append(body)
    return b


def stats(xs):
    xs = [x for x in xs if x is not None]
    if not xs:
        return None
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "n": len(xs)}


def fr(s, digits=2):
    if not s:
        return "-"
    f = f"{{:.{digits}f}}"
    if s["n"] == 1 or s["min"] == s["max"]:
        return f.format(s["median"])
    return f"{f.format(s['median'])} ({f.format(s['min'])}–{f.format(s['max'])})"


def sample_at(samples, t):
    """The sample taken at (nearest to) time t."""
    best = None
    for s in samples:
        if best is None or abs(s["t"] - t) < abs(best["t"] - t):
            best = s
    return best


def phase_metrics(b, phase_s, nph):
    """Per phase: work, steal shares, convergence, final usable CPUs."""
    out = []
    smp = b["samples"]
    if not smp:
        return out
    for i in range(nph):
        ta, tb = i * phase_s, (i + 1) * phase_s
        a, z = sample_at(smp, ta), sample_at(smp, tb)
        if a is None or z is None or z["t"] <= a["t"] or abs(z["t"] - tb) > 0.3:
            out.append(None)
            continue
        dt = z["t"] - a["t"]
        inside = [s for s in smp if ta <= s["t"] < tb - 1e-6]
        # The usable CPUs just before the phase ends: the value converged to.
        final = inside[-1]["usable"] if inside else z["usable"]
        # Timeline of the usable CPUs: every change seen, plus the samples.
        start_t = next((p["t"] for p in b["phases"] if p.get("i") == i), ta)
        ev = [(m["t"], m["usable"]) for m in b["masks"]] + [(s["t"], s["usable"]) for s in smp]
        ev.sort()
        before = [u for t, u in ev if t <= start_t]
        state0 = before[-1] if before else NCPU
        in_ph = [(t, u) for t, u in ev if start_t < t < tb - 1e-6]
        last_bad = start_t if state0 != final else None
        for t, u in in_ph:
            if u != final:
                last_bad = t
        if last_bad is None:
            conv = 0.0
        else:
            nxt = [t for t, u in in_ph if t > last_bad and u == final]
            conv = (nxt[0] - start_t) if nxt else None
        # The governor's steps up to convergence (its trace, on CLOCK_MONOTONIC).
        steps = None
        t0m = b["info"].get("t0_mono")
        if b["trace"] and isinstance(t0m, float) and conv is not None:
            # A step's trace event follows its mask update, which under
            # overcommit can take tens of ms: allow half a period.
            slack = b["info"].get("control_ms", 1000) / 2000
            steps = 0 if conv == 0 else sum(
                1 for e in b["trace"] if start_t < e["ts"] - t0m <= start_t + conv + slack)
        tot = z["tot"] - a["tot"]
        st = z["st"] - a["st"]
        hst = z.get("hst", 0) - a.get("hst", 0)
        changes = sum(1 for m in b["masks"][1:] if ta < m["t"] <= tb)
        out.append({
            "phase": i,
            "host": inside[0]["host"] if inside else None,
            "seconds": dt,
            "work": z["work"] - a["work"],
            "rate": (z["work"] - a["work"]) / dt,
            "steal_pct_procstat": 100.0 * st / tot if tot > 0 else None,
            "steal_pct_wall": 100.0 * st / (dt * USER_HZ * NCPU),
            "host_steal_pct_wall": 100.0 * hst / (dt * 1e9 * NCPU) if hst else None,
            "usable_final": final,
            "usable_mean": statistics.mean(s["usable"] for s in inside) if inside else None,
            "converge_s": conv,
            "converge_steps": steps,
            "changes": changes,
        })
    return out


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: bench-governor-report.py RUN_DIR [RUN_DIR...] PREFIX")
    runs, prefix = sys.argv[1:-1], sys.argv[-1]
    allfacts = [read_kv(os.path.join(run, "facts.txt")) for run in runs]
    facts = dict(allfacts[-1])
    if len(runs) > 1:
        facts["run_dir"] = ", ".join(f.get("run_dir", r) for f, r in zip(allfacts, runs))
        facts["host_load_start"] = "; ".join(f.get("host_load_start", "?") for f in allfacts)
        facts["host_load_end"] = "; ".join(f.get("host_load_end", "?") for f in allfacts)
        facts["head"] = ", ".join(sorted({f.get("head", "?") for f in allfacts}))
        facts["master"] = ", ".join(sorted({f.get("master", "?") for f in allfacts}))
    phase_s = float(facts.get("phase_seconds", 8))
    sched = [int(x) for x in facts.get("schedule", "2,1,2").split(",")]
    nph = len(sched)

    boots = {}
    cost = []
    status = {}
    problems = {}
    retries = []
    roff = 0
    for run, rf in zip(runs, allfacts):
        if rf.get("phase_seconds", facts.get("phase_seconds")) != facts.get("phase_seconds"):
            sys.exit(f"{run}: other phase length than {runs[-1]}")
        last = 0
        for path in sorted(glob.glob(os.path.join(run, "r*-*.log"))):
            m = re.match(r"r(\d+)-([a-z0-9]+)-([a-z0-9]+)\.log$", os.path.basename(path))
            if not m:
                continue
            r, p, w = int(m.group(1)), m.group(2), m.group(3)
            b = parse_console(path)
            if p == "cost":
                off = len({c["pair"] for c in cost})
                for c in b["cost"]:
                    c["pair"] = c["pair"] + off
                cost += b["cost"]
                continue
            last = max(last, r)
            b["phase_metrics"] = phase_metrics(b, phase_s, nph)
            dur = b["samples"][-1]["t"] if b["samples"] else 0
            b["changes_per_min"] = (len(b["masks"]) - 1) * 60.0 / dur if dur else None
            b["complete"] = b["end"] is not None
            boots[(r + roff, p, w)] = b
            err = path[:-4] + ".err"
            if os.path.exists(err):
                txt = open(err, errors="replace").read().splitlines()
                bad = [l.strip() for l in txt if re.search(r"Oops|BUG:|WARNING:|panic|timed out|stopped before", l)]
                if bad:
                    problems[(r + roff, p, w)] = bad[0][:120]
        rt = os.path.join(run, "retries.tsv")
        if os.path.exists(rt):
            for line in open(rt).read().splitlines():
                f = line.split("\t")
                retries.append(f"r{int(f[0]) + roff} {f[1]} {f[2]} try {f[3]}: {f[4] if len(f) > 4 else '?'}")
        bt = os.path.join(run, "boots.tsv")
        if os.path.exists(bt):
            for line in open(bt).read().splitlines()[1:]:
                f = line.split("\t")
                if f[1] == "cost":
                    continue
                status[(int(f[0]) + roff, f[1], f[2])] = {"status": int(f[3]), "seconds": float(f[4]),
                                                          "other_load": float(f[5] or 0)}
        roff += last
    rounds = sorted({r for r, _, _ in boots})

    def pm(r, p, w, i):
        b = boots.get((r, p, w))
        if not b or i >= len(b["phase_metrics"]):
            return None
        return b["phase_metrics"][i]

    def ratio(p, q, w, i, key="work"):
        xs = []
        for r in rounds:
            a, c = pm(r, p, w, i), pm(r, q, w, i)
            if a and c and c[key]:
                xs.append(a[key] / c[key])
        return stats(xs)

    def metric(p, w, i, key):
        return stats([pm(r, p, w, i)[key] for r in rounds if pm(r, p, w, i) and pm(r, p, w, i)[key] is not None])

    # --- summary structure
    summary = {}
    for w, _, unit in WORKLOADS:
        for p in PNAMES:
            for i in range(nph):
                summary[f"{w}/{p}/{i}"] = {
                    "work": metric(p, w, i, "work"),
                    "rate": metric(p, w, i, "rate"),
                    "vs_static": ratio(p, "static", w, i),
                    "vs_all8": ratio(p, "all8", w, i),
                    "converge_s": metric(p, w, i, "converge_s"),
                    "converge_steps": metric(p, w, i, "converge_steps"),
                    "usable_final": metric(p, w, i, "usable_final"),
                    "usable_mean": metric(p, w, i, "usable_mean"),
                    "steal_pct_procstat": metric(p, w, i, "steal_pct_procstat"),
                    "steal_pct_wall": metric(p, w, i, "steal_pct_wall"),
                    "host_steal_pct_wall": metric(p, w, i, "host_steal_pct_wall"),
                    "not_converged": sum(1 for r in rounds if pm(r, p, w, i) and pm(r, p, w, i)["converge_s"] is None),
                }
            summary[f"{w}/{p}/changes_per_min"] = stats(
                [boots[(r, p, w)]["changes_per_min"] for r in rounds if (r, p, w) in boots])

    # --- cost
    cost_pairs = {}
    for c in cost:
        cost_pairs.setdefault(int(c["pair"]), {})[int(c["gov"])] = c
    pp_r = [v[1]["pp_us"] / v[0]["pp_us"] for v in cost_pairs.values() if 0 in v and 1 in v and v[0]["pp_us"] > 0]
    hb_r = [v[1]["hb_s"] / v[0]["hb_s"] for v in cost_pairs.values()
            if 0 in v and 1 in v and v[0]["hb_s"] > 0 and v[1]["hb_s"] > 0]

    # --- markdown
    L = []
    quick = facts.get("quick") == "1"
    L.append(f"# Steal-time governor benchmark{' (QUICK)' if quick else ''}")
    L.append("")
    L.append(f"{facts.get('date', '?')}; {len(rounds)} round(s), host capacity {' -> '.join(map(str, sched))} "
             f"host CPUs, {phase_s:g} s per phase, 8-vCPU TCG guest with real steal (run-guest.sh -S), "
             f"kernel {facts.get('kernel', '?')} (worktree {facts.get('head', '?')}, master {facts.get('master', '?')}, "
             f"non-debug, config/guest.config + config/steal.config). Host: {facts.get('nproc', '?')} CPUs, "
             f"{facts.get('cpu_model', '?')}; load average at start {facts.get('host_load_start', '?')}, "
             f"at end {facts.get('host_load_end', '?')}; {facts.get('qemu', '')}. Raw logs: {facts.get('run_dir', runs[-1])}.")
    L.append("")
    L.append("Policies: " + "; ".join(f"**{p}** {d}" for p, d in POLICIES) + ".")
    L.append("")
    loads = [v["other_load"] for v in status.values()]
    if loads:
        L.append(f"Other host load during the boots (CPUs busy with anything but the guest): "
                 f"median {statistics.median(loads):.2f}, max {max(loads):.2f} of {facts.get('nproc', '?')}.")
        L.append("")
    bad = [f"r{k[0]} {k[1]} {k[2]}: exit {v['status']}"
           + (f" ({problems[k]})" if k in problems else "")
           + ("; its samples are complete and counted" if k in boots and boots[k]["complete"] else "")
           for k, v in sorted(status.items()) if v["status"] != 0]
    errs = [f"r{k[0]} {k[1]} {k[2]}: {e}" for k, b in sorted(boots.items()) for e in b["errors"]]
    if bad or errs:
        L.append("Boots that failed: " + "; ".join(bad + errs))
        L.append("")
    if retries:
        L.append(f"Boots that died before their results and were run again ({len(retries)}; "
                 "multi-threaded TCG running a stale int3 after jump-label patching, see README.md): "
                 + "; ".join(retries) + ".")
        L.append("")

    for w, wdesc, unit in WORKLOADS:
        if not any(k[2] == w for k in boots):
            continue
        L.append(f"## {w}: {wdesc}")
        L.append("")
        L.append(f"Work per phase ({unit}; median (min–max) over rounds), ratios pair by pair within a round:")
        L.append("")
        hdr = "| policy | " + " | ".join(f"phase {i + 1} ({sched[i]} host CPU{'s' if sched[i] > 1 else ''})" for i in range(nph)) + " |"
        L.append(hdr)
        L.append("|---" * (nph + 1) + "|")
        for p in PNAMES:
            cells = []
            for i in range(nph):
                s = summary[f"{w}/{p}/{i}"]
                c = fr(s["work"], 1)
                if p != "static":
                    c += f"; ×static {fr(s['vs_static'])}"
                if p != "all8":
                    c += f"; ×all8 {fr(s['vs_all8'])}"
                cells.append(c)
            L.append(f"| {p} | " + " | ".join(cells) + " |")
        L.append("")
        L.append("Usable CPUs at the end of the phase, time to converge after the capacity change "
                 "(s: first time the usable CPUs reach the phase's final value and stay there), "
                 "mask changes per minute, steal (% of the /proc/stat total; % of the wall time of 8 vCPUs "
                 "from /proc/stat; the host's run delay as % of the wall time of 8 vCPUs):")
        L.append("")
        L.append("| policy | phase | usable (mean) | converge (s) | steal /proc/stat % | steal wall % | host steal wall % | changes/min |")
        L.append("|---|---|---|---|---|---|---|---|")
        for p in PNAMES:
            for i in range(nph):
                s = summary[f"{w}/{p}/{i}"]
                nc = f" ({s['not_converged']} not converged)" if s["not_converged"] else ""
                L.append(f"| {p} | {i + 1} ({sched[i]}) | {fr(s['usable_final'], 0)} ({fr(s['usable_mean'], 1)}) | "
                         f"{fr(s['converge_s'])}{nc} | {fr(s['steal_pct_procstat'], 1)} | {fr(s['steal_pct_wall'], 1)} | "
                         f"{fr(s['host_steal_pct_wall'], 1)} | "
                         f"{fr(summary[f'{w}/{p}/changes_per_min'], 1) if i == 0 else ''} |")
        L.append("")

    # --- goals
    L.append("## Goals")
    L.append("")
    L.append("| goal | measured (per phase: median (min–max) over rounds) | met |")
    L.append("|---|---|---|")
    goals = []

    def goal(name, vals, ok):
        goals.append({"goal": name, "measured": vals, "met": ok})
        L.append(f"| {name} | {vals} | {'yes' if ok else 'no' if ok is not None else 'n/a'} |")

    for w in ("hackbench", "cpu"):
        cv = [summary[f"{w}/governor/{i}"]["converge_s"] for i in range(nph)]
        cs = [summary[f"{w}/governor/{i}"]["converge_steps"] for i in range(nph)]
        nc = [summary[f"{w}/governor/{i}"]["not_converged"] for i in range(nph)]
        if any(cv):
            ok = all(c and c["max"] <= 2 for c in cs) and not any(nc)
            goal(f"governor converges within 2 periods (steps of the governor; seconds), {w}",
                 "; ".join(f"{fr(k, 0)} steps, {fr(c)} s" + (f" ({n} not converged)" if n else "")
                           for c, k, n in zip(cv, cs, nc)), ok)
    for w in ("hackbench", "cpu"):
        uf = [summary[f"{w}/governor/{i}"]["usable_final"] for i in range(nph)]
        if any(uf):
            goal(f"(not a goal) governor's usable CPUs at the end of each phase, {w}; host CPUs "
                 + ", ".join(map(str, sched)), ", ".join(fr(u, 0) for u in uf), None)
    vs = [summary[f"hackbench/governor/{i}"]["vs_static"] for i in range(nph)]
    if any(vs):
        goal("hackbench: governor ≥ 0.95 × static in each phase", ", ".join(fr(v) for v in vs),
             all(v and v["median"] >= 0.95 for v in vs))
    va = [summary[f"hackbench/governor/{i}"]["vs_all8"] for i in range(nph)]
    if any(va):
        goal("hackbench: governor ≥ 1.5 × all8 under overcommit (every phase)", ", ".join(fr(v) for v in va),
             all(v and v["median"] >= 1.5 for v in va))
    vc = [summary[f"cpu/governor/{i}"]["vs_all8"] for i in range(nph)]
    if any(vc):
        goal("CPU-bound: governor ≥ 0.97 × all8 in each phase", ", ".join(fr(v) for v in vc),
             all(v and v["median"] >= 0.97 for v in vc))
    if pp_r:
        s = stats(pp_r)
        goal("no steal (instruction clock): cross-CPU ping-pong, governor on/off within 0.5%",
             f"{fr(s, 4)} over {s['n']} pairs", abs(s["median"] - 1) <= 0.005)
    if hb_r:
        s = stats(hb_r)
        goal("no steal (instruction clock): hackbench, governor on/off within 0.5%",
             f"{fr(s, 4)} over {s['n']} pairs", abs(s["median"] - 1) <= 0.005)
    L.append("")

    if cost:
        L.append("## Cost with no steal (ACCEL=icount, one boot, governor off/on in ABBA order)")
        L.append("")
        L.append(f"Cross-CPU pipe ping-pong (CPU 0 <-> CPU 1, {facts.get('cost_pp_rounds', '?')} round trips, mean) "
                 f"and hackbench -p -g 4 -f 10 -l {facts.get('cost_hb_loops', '?')}; guest time on the instruction clock.")
        L.append("")
        L.append("| pair | ping-pong off (us) | on (us) | on/off | hackbench off (s) | on (s) | on/off |")
        L.append("|---|---|---|---|---|---|---|")
        for k in sorted(cost_pairs):
            v = cost_pairs[k]
            if 0 in v and 1 in v:
                L.append(f"| {k + 1} | {v[0]['pp_us']:.3f} | {v[1]['pp_us']:.3f} | {v[1]['pp_us'] / v[0]['pp_us']:.4f} | "
                         f"{v[0]['hb_s']:.3f} | {v[1]['hb_s']:.3f} | "
                         f"{(v[1]['hb_s'] / v[0]['hb_s']) if v[0]['hb_s'] > 0 else float('nan'):.4f} |")
        L.append("")

    # --- governor trace
    L.append("## The governor's steps (trace event sched_paravirt_governor)")
    L.append("")
    for (r, p, w), b in sorted(boots.items()):
        if p != "governor":
            continue
        t0 = b["info"].get("t0_mono")
        g = b["gstats"]
        L.append(f"Round {r}, {w}: stats {' '.join(f'{k}={int(v) if isinstance(v, float) else v}' for k, v in g.items())}")
        L.append("")
        if b["trace"] and isinstance(t0, float):
            L.append("<details><summary>steps</summary>")
            L.append("")
            L.append("| t (s) | phase host CPUs | steal % | capacity | unmarked | target | action | probe steal % |")
            L.append("|---|---|---|---|---|---|---|---|")
            for e in b["trace"]:
                t = e["ts"] - t0
                ph = min(int(t // phase_s), nph - 1) if t >= 0 else 0
                L.append(f"| {t:.2f} | {sched[ph]} | {e.get('steal', '')} | {e.get('capacity', '')} | "
                         f"{int(e.get('unmarked', 0))} | {int(e.get('target', 0))} | {e.get('action', '')} | "
                         f"{e.get('probe_steal', '')} |")
            L.append("")
            L.append("</details>")
            L.append("")

    md = "\n".join(L) + "\n"
    with open(prefix + ".md", "w") as f:
        f.write(md)

    js = {"facts": facts, "summary": summary, "goals": goals,
          "cost": {"pairs": cost, "pingpong_on_off": stats(pp_r), "hackbench_on_off": stats(hb_r)},
          "boots": {f"r{r}-{p}-{w}": {"status": status.get((r, p, w)), "phase_metrics": b["phase_metrics"],
                                      "changes_per_min": b["changes_per_min"], "samples": b["samples"],
                                      "masks": b["masks"], "controller": b["ctl"], "trace": b["trace"],
                                      "gstats": b["gstats"], "info": b["info"]}
                    for (r, p, w), b in sorted(boots.items())}}
    with open(prefix + ".json", "w") as f:
        json.dump(js, f, separators=(",", ":"))
        f.write("\n")

    # --- chart
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib missing: no chart", file=sys.stderr)
        return
    ws = [w for w, _, _ in WORKLOADS if any(k[2] == w for k in boots)]
    if not ws:
        return
    r0 = rounds[0]
    fig, axes = plt.subplots(2, len(ws), figsize=(7 * len(ws), 7), sharex=True, squeeze=False)
    colors = {"all8": "tab:gray", "static": "tab:green", "governor": "tab:blue",
              "anchor": "tab:orange", "hotplug": "tab:red"}
    for j, w in enumerate(ws):
        unit = dict((a, c) for a, _, c in WORKLOADS)[w]
        for p in PNAMES:
            b = boots.get((r0, p, w))
            if not b or len(b["samples"]) < 5:
                continue
            s = b["samples"]
            # Usable CPUs as a step line, from every change seen.
            ev = sorted([(m["t"], m["usable"]) for m in b["masks"]] + [(x["t"], x["usable"]) for x in s])
            axes[0][j].step([t for t, _ in ev], [u for _, u in ev], where="post", label=p,
                            color=colors[p], alpha=0.85)
            # Work rate over 1 s windows.
            ts, rs = [], []
            for k in range(4, len(s)):
                dt = s[k]["t"] - s[k - 4]["t"]
                if dt > 0:
                    ts.append((s[k]["t"] + s[k - 4]["t"]) / 2)
                    rs.append((s[k]["work"] - s[k - 4]["work"]) / dt)
            axes[1][j].plot(ts, rs, label=p, color=colors[p], alpha=0.85)
        for i in range(1, nph):
            for a in (axes[0][j], axes[1][j]):
                a.axvline(i * phase_s, color="k", lw=0.5, ls=":")
        axes[0][j].set_title(f"{w} (round {r0}); host CPUs {' -> '.join(map(str, sched))}")
        axes[0][j].set_ylabel("usable vCPUs")
        axes[0][j].set_ylim(0, NCPU + 0.5)
        axes[1][j].set_ylabel(f"work rate ({unit}/s, 1 s window)")
        axes[1][j].set_xlabel("time (s)")
        axes[0][j].legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    fig.savefig(prefix + ".png", dpi=90)


if __name__ == "__main__":
    main()
