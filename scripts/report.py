#!/usr/bin/python3
"""Regenerate conpat's report: every plot (PNG and SVG), report/index.html
(self-contained: the SVGs are inlined, no network) and report/REPORT.md,
from one or more results files. The default input is the newest file for
each machine under results/.

Every point is the median of a benchmark's repetitions, drawn with its
confidence interval (order statistics; see results/README.md); every claim
verdict is "holds", "does not hold" or "inconclusive", decided from those
intervals by the rule recorded in scripts/claims.json.

The output directory is replaced as a whole, so report.py only writes into
a directory that is empty, missing, or a previous report (it holds the
marker file .conpat-report, or nothing but index.html, REPORT.md and plots).

Exit codes: 0 done; 2 bad input (nothing is written then).
"""

from __future__ import annotations

import argparse
import html
import json
import re
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import claims  # noqa: E402
import conpat_results as cr  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CLAIMS_INTRO = ("Each claim is tested by an experiment that follows the article's setup as far as this machine allows "
                "(the setup says where it differs), in C++ and in Go. Each answer comes from confidence intervals: "
                "*holds* when the whole interval satisfies the claim's rule, *does not hold* when none of it does, "
                "*inconclusive* otherwise (one sample is never a verdict). The verdict is Go's answer (the article's "
                "language) where Go ran; C++'s answers show whether the claim carries over.")
MARKER = ".conpat-report"
REPORT_FILE_RE = re.compile(r"^(index\.html|REPORT\.md|[\w.-]+\.(png|svg))$")
# Fields of a benchmark entry that are bookkeeping, not measurements.
NOT_METRICS = {"family_index", "per_family_instance_index", "repetitions", "repetition_index", "threads",
               "iterations", "cpu_time", "real_time", "threads_used", "pass"}


# Families whose runner:fiber rows have thread-runner twins without a runner
# in their names.
FIBER_RUNNER_FAMILIES = ("channel.spsc", "channel.mpmc", "channel.pingpong")


class Run:
    """One results file, its repetitions aggregated: one point per benchmark."""

    def __init__(self, path: Path, doc: dict):
        self.path, self.doc = path, doc
        self.ctx = doc["context"].get("conpat", {})
        self.machine = cr.machine_label(doc, path)
        self.noisy = {r["family"] for r in self.ctx.get("families", []) if r.get("noisy")}
        groups: dict = {}
        for b in cr.iterations(doc):
            groups.setdefault(cr.key_of(b), []).append(b)
        self.points = []
        for key, taken in groups.items():
            entries, mixed = cr.in_state(taken)  # samples taken in another machine state are left out
            values: dict = {}
            for b in entries:
                row = {k: float(v) for k, v in b.items()
                       if isinstance(v, (int, float)) and not isinstance(v, bool) and k not in NOT_METRICS}
                row.update(cr.metrics_of(b))
                for k, v in row.items():
                    values.setdefault(k, []).append(v)
            impl, params = key[1], dict(entries[0]["params"])
            if key[0] in FIBER_RUNNER_FAMILIES and params.get("runner") == "fiber":
                # runner:fiber rows are drawn as their own line beside the thread rows
                impl = f"{impl} (fiber)"
                del params["runner"]
            self.points.append({"family": key[0], "impl": impl, "params": params,
                                "oversubscribed": any(b.get("oversubscribed") for b in entries),
                                "n": len(entries), "n_off_state": len(taken) - len(entries), "state_mixed": mixed,
                                "stats": {k: cr.median_ci(v) for k, v in values.items()}})

    def select(self, family: str, **params) -> list[dict]:
        return [p for p in self.points if p["family"] == family
                and all(str(p["params"].get(k)) == str(v) for k, v in params.items())]

    def impls(self, family: str) -> list[str]:
        return sorted({p["impl"] for p in self.points if p["family"] == family})

    def find(self, sel: dict) -> dict | None:
        for p in self.select(sel["family"], **sel.get("params", {})):
            if p["impl"] == sel["impl"]:
                return p
        return None

    def repetitions(self) -> int:
        return int(statistics.median(p["n"] for p in self.points)) if self.points else 0

    def time_cv(self) -> float | None:
        """Median over benchmarks of the coefficient of variation of time across repetitions."""
        cvs = []
        for rec in cr.samples(self.doc).values():
            times = rec["metrics"].get("time_ns", [])
            if len(times) >= 2 and statistics.fmean(times) > 0:
                cvs.append(statistics.pstdev(times) / statistics.fmean(times))
        return statistics.median(cvs) if cvs else None


def stat(point: dict | None, metric: str) -> dict | None:
    return None if point is None else point["stats"].get(metric)


def ci_text(s: dict, unit: str = "", digits: int = 3) -> str:
    """'12.3 ns [11.9, 13.0] (n=5, >=93.8 %)', or '12.3 ns (n=1, no interval)'."""
    v = f"{s['median']:.{digits}g}{unit}"
    if s["lo"] is None:
        return f"{v} (n={s['n']}, no interval)"
    return f"{v} [{s['lo']:.{digits}g}, {s['hi']:.{digits}g}] (n={s['n']}, >={100 * s['coverage']:.1f} %)"


def title(run_list, text: str, family: str) -> str:
    machines = ", ".join(r.machine + (" (noisy)" if family in r.noisy else "") for r in run_list)
    return f"{text}\n[{machines}]"


MARKERS = "os^vD<>ph*"


class Palette:
    """One colour and marker per implementation, the same in every plot;
    machines differ by line style."""

    def __init__(self, runs):
        import matplotlib.pyplot as plt

        impls = sorted({p["impl"] for r in runs for p in r.points})
        colors = plt.cm.tab10.colors
        self.style = {impl: (colors[i % 10], MARKERS[(i // 10) % len(MARKERS)]) for i, impl in enumerate(impls)}

    def color(self, impl):
        return self.style[impl][0]

    def marker(self, impl):
        return self.style[impl][1]


# The reference implementation and Go's channel are drawn bold and in front;
# the other implementations thin and lighter.
def emphasized(impl: str) -> bool:
    return impl in ("channel", "channel (fiber)") or impl.startswith("go_")


def line_kw(impl: str) -> dict:
    return ({"linewidth": 2.6, "zorder": 4, "alpha": 1.0, "markersize": 5} if emphasized(impl)
            else {"linewidth": 1.0, "zorder": 2, "alpha": 0.55, "markersize": 3})


# ---- values on hover ------------------------------------------------------------------
#
# Every drawn point gets an invisible marker whose SVG group carries a
# <title>: browsers show it as a tooltip, with the exact median, interval
# and sample count. No script is needed, and the PNGs are unaffected.

TIPS: dict[str, str] = {}


def tip(ax, x, y, text: str) -> None:
    gid = f"conpat-tip-{len(TIPS)}"
    art = ax.plot([x], [y], marker="o", markersize=10, alpha=0.0, linestyle="none", zorder=10)[0]
    art.set_gid(gid)
    TIPS[gid] = text


def stat_tip(s: dict) -> str:
    return ci_text(s, digits=4)


def add_titles(svg: str) -> str:
    for gid, text in TIPS.items():
        svg = svg.replace(f'<g id="{gid}">', f'<g id="{gid}"><title>{html.escape(text)}</title>', 1)
    return svg


def linestyle(k: int) -> str:
    return ["-", "--", ":", "-."][k % 4]


def error_bars(ax, xs, stats, color):
    """Draws each point's interval as a vertical bar (where it has one)."""
    pts = [(x, s) for x, s in zip(xs, stats) if s["lo"] is not None]
    if pts:
        ax.errorbar([x for x, _ in pts], [s["median"] for _, s in pts],
                    yerr=[[s["median"] - s["lo"] for _, s in pts], [s["hi"] - s["median"] for _, s in pts]],
                    fmt="none", ecolor=color, elinewidth=1, capsize=2, alpha=0.8)


def plot_lines(ax, runs, pal, family, x_param, y_metric, fixed, xlog=True, ylog=True, x_zero=None):
    """One line per (machine, impl) through the medians, with intervals;
    hollow markers for oversubscribed points."""
    any_over = False
    for m, run in enumerate(runs):
        for impl in run.impls(family):
            pts = [p for p in run.select(family, **fixed) if p["impl"] == impl and y_metric in p["stats"]]
            pts.sort(key=lambda p: float(p["params"][x_param]))
            if not pts:
                continue
            xs = [float(p["params"][x_param]) for p in pts]
            if x_zero is not None:
                xs = [x if x > 0 else x_zero for x in xs]
            stats = [p["stats"][y_metric] for p in pts]
            label = impl if len(runs) == 1 else f"{impl} ({run.machine})"
            color = pal.color(impl)
            ax.plot(xs, [s["median"] for s in stats], linestyle(m), color=color, marker=pal.marker(impl),
                    label=label, **line_kw(impl))
            error_bars(ax, xs, stats, color)
            for x, s, p in zip(xs, stats, pts):
                tip(ax, x, s["median"], f"{label}, {x_param}={p['params'][x_param]}: {y_metric} {stat_tip(s)}")
            over = [(x, s["median"]) for x, s, p in zip(xs, stats, pts) if p["oversubscribed"]]
            if over:
                any_over = True
                ax.plot(*zip(*over), "o", markersize=8, markerfacecolor="white", color=color)
    if xlog:
        ax.set_xscale("log", base=2)
    if ylog:
        ax.set_yscale("log")
    ax.grid(True, which="both", alpha=0.3)
    return any_over


def finish(fig, ax, out: Path, name: str, any_over=False, legend=True):
    if legend and ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, ncol=2)
    notes = ["points: median of the repetitions; bars: its confidence interval"]
    if any_over:
        notes.append("hollow markers: oversubscribed (more threads than cores)")
    fig.text(0.01, 0.005, "; ".join(notes), fontsize=7)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    # No date in the files: regenerating from the same results gives the same report.
    fig.savefig(out / f"{name}.svg", dpi=90, metadata={"Date": None})
    svg = out / f"{name}.svg"
    svg.write_text(add_titles(svg.read_text()))
    TIPS.clear()
    fig.savefig(out / f"{name}.png", dpi=90)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return name


def bar_with_interval(ax, x, s, width, color, label=None, what=""):
    ax.bar(x, s["median"], width=width, color=color, label=label)
    if what:
        tip(ax, x, s["median"], f"{what}: {stat_tip(s)}")
    if s["lo"] is not None:
        ax.errorbar([x], [s["median"]], yerr=[[s["median"] - s["lo"]], [s["hi"] - s["median"]]],
                    fmt="none", ecolor="black", elinewidth=1, capsize=2)


def make_plots(runs: list[Run], out: Path) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams["svg.hashsalt"] = "conpat"  # stable SVG ids: regenerated reports diff cleanly
    matplotlib.rcParams["svg.fonttype"] = "none"  # text as text, not glyph paths: a third of the size
    import matplotlib.pyplot as plt

    pal = Palette(runs)
    made = []

    fig, ax = plt.subplots(figsize=(8, 5))
    over = plot_lines(ax, runs, pal, "channel.spsc", "cap", "items_per_second", {"payload": 8, "work": 0},
                      x_zero=0.5)
    ax.set(xlabel="capacity (items; 0.5 = unbuffered)", ylabel="throughput (items/s)",
           title=title(runs, "channel.spsc: throughput against capacity (8-byte items)", "channel.spsc"))
    made.append((finish(fig, ax, out, "channel_spsc_throughput", over), "Throughput against capacity"))

    fig, ax = plt.subplots(figsize=(8, 5))
    labels, k = [], 0
    pcts = ["lat_p50_ns", "lat_p90_ns", "lat_p99_ns", "lat_p999_ns"]
    pct_colors = plt.cm.viridis([0.1, 0.4, 0.65, 0.9])
    for run in runs:
        for p in sorted(run.select("channel.spsc", cap=1024, payload=8, work=0), key=lambda p: p["impl"]):
            if "lat_p50_ns" not in p["stats"]:
                continue
            labels.append(p["impl"] if len(runs) == 1 else f"{p['impl']}\n{run.machine}")
            for j, name in enumerate(pcts):
                bar_with_interval(ax, k + j * 0.2, p["stats"][name], 0.2, pct_colors[j],
                                  label=name[4:-3] if k == 0 else None,
                                  what=f"{p['impl']} ({run.machine}) {name}")
            k += 1
    ax.set_xticks([i + 0.3 for i in range(len(labels))], labels, rotation=30, ha="right", fontsize=7)
    ax.set_yscale("log")
    ax.set(ylabel="send-to-receive latency (ns)",
           title=title(runs, "channel.spsc, capacity 1024: latency percentiles", "channel.spsc"))
    made.append((finish(fig, ax, out, "channel_latency"), "Latency percentiles"))

    fig, ax = plt.subplots(figsize=(8, 5))
    any_over = False
    shapes = sorted({(p["params"]["producers"], p["params"]["consumers"])
                     for r in runs for p in r.select("channel.mpmc", cap=1024)},
                    key=lambda s: (s[0] * s[1], s[0], s[1]))
    xpos = {s: i for i, s in enumerate(shapes)}
    for m, run in enumerate(runs):
        for impl in run.impls("channel.mpmc"):
            pts = sorted((p for p in run.select("channel.mpmc", cap=1024) if p["impl"] == impl
                          and "items_per_second" in p["stats"]),
                         key=lambda p: xpos[(p["params"]["producers"], p["params"]["consumers"])])
            if not pts:
                continue
            xs = [xpos[(p["params"]["producers"], p["params"]["consumers"])] for p in pts]
            stats = [p["stats"]["items_per_second"] for p in pts]
            color = pal.color(impl)
            label = impl if len(runs) == 1 else f"{impl} ({run.machine})"
            ax.plot(xs, [s["median"] for s in stats], linestyle(m), color=color, marker=pal.marker(impl),
                    label=label, **line_kw(impl))
            error_bars(ax, xs, stats, color)
            for x, s, p in zip(xs, stats, pts):
                tip(ax, x, s["median"], f"{label}, {p['params']['producers']}x{p['params']['consumers']}: "
                                        f"items/s {stat_tip(s)}")
            for x, s, p in zip(xs, stats, pts):
                if p["oversubscribed"]:
                    any_over = True
                    ax.plot([x], [s["median"]], "o", markersize=8, markerfacecolor="white", color=color)
    ax.set_xticks(range(len(shapes)), [f"{a}x{b}" for a, b in shapes])
    ax.set_yscale("log")
    ax.grid(True, alpha=0.3)
    ax.set(xlabel="producers x consumers (ordered by threads)", ylabel="throughput (items/s)",
           title=title(runs, "channel.mpmc, capacity 1024: scaling", "channel.mpmc"))
    made.append((finish(fig, ax, out, "channel_mpmc_scaling", any_over), "Scaling with producers and consumers"))

    fig, ax = plt.subplots(figsize=(8, 5))
    k, labels = 0, []
    for run in runs:
        for p in sorted(run.select("collect.false_sharing"), key=lambda p: (p["params"]["threads"], p["params"]["align"])):
            if "packed_ns_per_op" not in p["stats"]:
                continue
            labels.append(f"{p['params']['threads']} thr, {p['params']['align']} B" +
                          ("" if len(runs) == 1 else f"\n{run.machine}") + (" *" if p["oversubscribed"] else ""))
            what = f"{p['params']['threads']} threads, {p['params']['align']} B ({run.machine})"
            bar_with_interval(ax, k - 0.2, p["stats"]["packed_ns_per_op"], 0.4, "tab:red",
                              label="packed" if k == 0 else None, what=f"packed, {what}, ns/op")
            bar_with_interval(ax, k + 0.2, p["stats"]["padded_ns_per_op"], 0.4, "tab:green",
                              label="padded" if k == 0 else None, what=f"padded, {what}, ns/op")
            k += 1
    ax.set_xticks(range(len(labels)), labels, fontsize=7)
    ax.set(ylabel="time per increment (ns)",
           title=title(runs, "collect.false_sharing: Counter{hits, misses}, packed vs padded (* oversubscribed)",
                       "collect.false_sharing"))
    made.append((finish(fig, ax, out, "false_sharing"), "False sharing: packed against padded"))

    fig, ax = plt.subplots(figsize=(8, 5))
    plot_lines(ax, runs, pal, "collect.stride", "stride", "ns_per_op", {}, ylog=False)
    for m, run in enumerate(runs):
        fs = run.ctx.get("derived", {}).get("false_sharing")
        if fs:
            ax.axvline(fs["false_sharing_distance_bytes"], color="black", ls=linestyle(m + 2),
                       label=f"measured distance {fs['false_sharing_distance_bytes']} B ({run.machine})")
            ax.axvline(fs["hardware_destructive_interference_size"], color="grey", ls="--", alpha=0.5,
                       label=f"hardware_destructive_interference_size {fs['hardware_destructive_interference_size']} B")
    ax.set(xlabel="distance between the threads' counters (bytes)", ylabel="time per increment (ns)",
           title=title(runs, "collect.stride: where false sharing stops", "collect.stride"))
    made.append((finish(fig, ax, out, "stride"), "False-sharing distance"))

    fig, ax = plt.subplots(figsize=(8, 5))
    plot_lines(ax, runs, pal, "collect.writer_freq", "work", "ns_per_write", {}, xlog=False, x_zero=1)
    ax.set_xscale("log")
    for run in runs:
        for c in run.ctx.get("derived", {}).get("writer_freq", {}).get("crossovers", []):
            ax.axvspan(*(max(w, 1) for w in c["between_work"]), alpha=0.08, color="k")
    ax.set(xlabel="units of local work between writes (1 = none)", ylabel="time per write, work included (ns)",
           title=title(runs, "collect.writer_freq: cost per write (shaded: crossovers)", "collect.writer_freq"))
    made.append((finish(fig, ax, out, "writer_freq"), "Writer frequency: cost per write"))

    fig, ax = plt.subplots(figsize=(8, 5))
    for m, run in enumerate(runs):
        for impl in run.impls("timeout.recv_for"):
            pts = sorted((p for p in run.select("timeout.recv_for") if p["impl"] == impl),
                         key=lambda p: p["params"]["timeout_ns"])
            for pct, ls in (("overshoot_p50_ns", "-"), ("overshoot_p99_ns", "--")):
                have = [p for p in pts if pct in p["stats"] and p["stats"][pct]["median"] > 0]
                if not have:
                    continue  # not measured: no point, rather than a made-up one
                xs = [max(p["params"]["timeout_ns"], 100) for p in have]
                label = f"{impl} {pct[10:13]}" + ("" if len(runs) == 1 else f" ({run.machine})")
                ax.plot(xs, [p["stats"][pct]["median"] for p in have], ls, color=pal.color(impl), marker="o",
                        label=label, **line_kw(impl))
                error_bars(ax, xs, [p["stats"][pct] for p in have], pal.color(impl))
                for x, p in zip(xs, have):
                    tip(ax, x, p["stats"][pct]["median"], f"{label}, timeout {p['params']['timeout_ns']} ns: "
                                                          f"overshoot {stat_tip(p['stats'][pct])} ns")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.grid(True, which="both", alpha=0.3)
    xlabel = "requested timeout (ns; 100 = zero)"
    if any(i.startswith("go_") for run in runs for i in run.impls("timeout.recv_for")):
        # Go's overshoot is its runtime's timer resolution, not its channel's speed.
        xlabel += ("\ngo_chan: Go's timers wake with ~1 ms resolution on Linux (epoll_wait);"
                   "\nits overshoot measures the timer, not the channel")
    ax.set(xlabel=xlabel, ylabel="overshoot: actual - requested (ns)",
           title=title(runs, "timeout.recv_for: how late a timeout fires", "timeout.recv_for"))
    made.append((finish(fig, ax, out, "timeout_overshoot"), "Timeout overshoot"))

    fig, ax = plt.subplots(figsize=(8, 5))
    plot_lines(ax, runs, pal, "callback.error_rate", "error_pct", "ns_per_op", {}, xlog=False, x_zero=0.01)
    ax.set_xscale("log")
    ax.set(xlabel="error rate (%; 0.01 = none)", ylabel="time per operation (ns)",
           title=title(runs, "callback.error_rate: error codes, Expected and exceptions", "callback.error_rate"))
    made.append((finish(fig, ax, out, "error_rate"), "Error-rate curves"))

    if len(runs) >= 2:
        import math

        import numpy as np

        base = cr.samples(runs[0].doc)
        cells: dict = {}
        for run in runs[1:]:
            other = cr.samples(run.doc)
            for key in set(base) & set(other):
                a, b = base[key]["metrics"].get("time_ns"), other[key]["metrics"].get("time_ns")
                if a and b:
                    cells.setdefault((key[0], run.machine), []).append(cr.median(b) / cr.median(a))
        families = sorted({f for f, _ in cells})
        machines = [r.machine for r in runs[1:]]
        grid = np.array([[cr.geomean(cells[(f, m)]) if (f, m) in cells else np.nan
                          for m in machines] for f in families])
        fig, ax = plt.subplots(figsize=(4 + len(machines), 1 + 0.4 * max(len(families), 1)))
        im = ax.imshow(np.log2(grid), cmap="coolwarm", vmin=-2, vmax=2, aspect="auto")
        ax.set_xticks(range(len(machines)), machines)
        ax.set_yticks(range(len(families)), families, fontsize=7)
        for i in range(len(families)):
            for j in range(len(machines)):
                if not math.isnan(grid[i, j]):
                    ax.text(j, i, f"{grid[i, j]:.2f}", ha="center", va="center", fontsize=7)
                    tip(ax, j, i, f"{families[i]}: {machines[j]} / {runs[0].machine} geomean time ratio "
                                  f"{grid[i, j]:.4g} over {len(cells[(families[i], machines[j])])} benchmarks")
        fig.colorbar(im, label="log2(time ratio)")
        ax.set_title(f"geomean time ratio per family, against {runs[0].machine}")
        made.append((finish(fig, ax, out, "machines_heatmap", legend=False), "Cross-machine ratios"))
    made += history_plots(runs, out)
    return made


# ---- history: one machine across commits --------------------------------------------
#
# For every machine whose results directory holds two or more runs, chosen
# benchmarks are drawn against the runs in time order (commit and date), as
# the ratio to the series' first run, each point with its interval; a ring
# marks a run that compare.py finds significantly different from the run
# before it (U test at compare's alpha and minimum effect).

HISTORY_SERIES = [
    ("channel.spsc", "channel", {"cap": 1024, "payload": 8, "work": 0}, "time_ns", "spsc cap 1024: channel"),
    ("channel.spsc", "go_chan", {"cap": 1024, "payload": 8, "work": 0}, "time_ns", "spsc cap 1024: Go chan"),
    ("channel.spsc", "spsc_ring_padded", {"cap": 1024, "payload": 8, "work": 0}, "time_ns",
     "spsc cap 1024: padded SPSC ring"),
    ("channel.pingpong", "channel", {"cap": 0}, "time_ns", "pingpong cap 0: channel"),
    ("channel.mpmc", "channel", {"cap": 1024, "producers": 2, "consumers": 2}, "time_ns", "mpmc 2x2: channel"),
    ("collect.false_sharing", "counter", {"threads": 2, "align": 64}, "packed_ns_per_op",
     "false sharing, 2 threads: packed"),
]


def history_runs(runs: list[Run]) -> dict[str, list[Run]]:
    """machine -> its runs in time order, for machines with two or more runs
    in the directory of the run reported for them. One history per machine
    label: when two reported runs share a label (a baseline and a new run),
    the later run's directory is drawn."""
    out, seen = {}, set()
    for run in reversed(runs):
        label = cr.machine_label(run.doc, run.path)
        files = cr.results_files(run.path.parent)
        if len(files) < 2 or label in seen:
            continue
        seen.add(label)
        series = []
        for f in files:
            try:
                series.append(run if f.resolve() == run.path.resolve() else Run(f, cr.load(f)))
            except cr.ResultsError as e:
                print(f"report: history: skipping {f}: {e}", file=sys.stderr)
        if len(series) >= 2:
            out[label] = series
    return dict(reversed(list(out.items())))


def history_changes(series: list[Run]) -> list[set]:
    """For each run after the first: the (key, metric) pairs of HISTORY_SERIES
    that changed significantly from the run before, by compare.py's rule
    (U test p < 0.01, at least 5 % and 5 samples a side)."""
    import compare

    metrics = tuple({m for *_, m, _ in HISTORY_SERIES})
    samples = [cr.samples(run.doc, extra=metrics) for run in series]
    out = [set()]
    for prev, cur in zip(samples, samples[1:]):
        changed = set()
        for family, impl, params, metric, _ in HISTORY_SERIES:
            key = cr.key_of({"family": family, "impl": impl, "params": params})
            a = prev.get(key, {}).get("metrics", {}).get(metric, [])
            b = cur.get(key, {}).get("metrics", {}).get(metric, [])
            if min(len(a), len(b)) < compare.MIN_SAMPLES:
                continue
            p = cr.mann_whitney(a, b)
            if p is not None and p < 0.01 and abs(cr.median(b) / cr.median(a) - 1) >= 0.05:
                changed.add((key, metric))
        out.append(changed)
    return out


def run_label(run: Run) -> str:
    c = run.ctx
    return f"{c.get('git_commit', '?')}{'*' if c.get('git_dirty') else ''}\n{str(c.get('start_time', '?'))[:10]}"


def history_plots(runs: list[Run], out: Path) -> list[tuple[str, str]]:
    import matplotlib.pyplot as plt

    made = []
    for machine, series in history_runs(runs).items():
        changes = history_changes(series)
        fig, ax = plt.subplots(figsize=(8, 5))
        colors = plt.cm.tab10.colors
        for k, (family, impl, params, metric, label) in enumerate(HISTORY_SERIES):
            pts = []
            for i, run in enumerate(series):
                s = stat(run.find({"family": family, "impl": impl, "params": params}), metric)
                if s is not None:
                    pts.append((i, s, cr.key_of({"family": family, "impl": impl, "params": params})))
            if not pts:
                continue
            base = pts[0][1]["median"]
            xs = [i for i, _, _ in pts]
            scaled = [{**s, "median": s["median"] / base,
                       "lo": None if s["lo"] is None else s["lo"] / base,
                       "hi": None if s["hi"] is None else s["hi"] / base} for _, s, _ in pts]
            color = colors[k % 10]
            ax.plot(xs, [s["median"] for s in scaled], "-", marker="o", color=color, label=label,
                    **{**line_kw(impl), "alpha": 1.0})
            error_bars(ax, xs, scaled, color)
            for (i, s, key), sc in zip(pts, scaled):
                changed = (key, metric) in changes[i]
                if changed:
                    ax.plot([i], [sc["median"]], "o", markersize=13, markerfacecolor="none", color="black", zorder=6)
                tip(ax, i, sc["median"], f"{label} at {series[i].ctx.get('git_commit', '?')}: {metric} "
                                         f"{stat_tip(s)} ({sc['median']:.3f}x the first run)"
                                         + ("; significantly changed from the run before" if changed else ""))
        ax.axhline(1.0, color="grey", lw=0.8)
        ax.set_yscale("log")
        ax.set_xticks(range(len(series)), [run_label(r) for r in series], fontsize=7)
        ax.grid(True, which="both", alpha=0.3)
        ax.set(xlabel="run (commit, date; * = uncommitted changes)", ylabel="ratio to the first run (lower is faster)",
               title=f"History on {machine}: chosen benchmarks across commits\n"
                     "(black ring: significantly changed from the run before)")
        name = "history_" + re.sub(r"[^A-Za-z0-9_.-]", "_", machine)
        made.append((finish(fig, ax, out, name), f"History on {machine}"))
    return made


# ---- metadata and rendering ---------------------------------------------------------

def metadata(run: Run) -> list[str]:
    """What a reader needs to trust a run, as plain lines (both outputs show them)."""
    c, g = run.ctx, run.doc["context"]
    dirty = c.get("git_dirty")
    cv = run.time_cv()
    lines = [
        f"CPU: {c.get('cpu_model', '?')}, {c.get('hardware_threads', g.get('num_cpus', '?'))} hardware threads",
        f"kernel: {c.get('kernel', '?')}; compiler: {c.get('compiler', '?')} {c.get('cxx_flags', '')}".rstrip(),
        f"commit: {c.get('git_commit', '?')}" + (" (with uncommitted changes)" if dirty else
                                                  "" if dirty is False else " (dirty flag unknown)"),
        f"run: {c.get('start_time', g.get('date', '?'))} to {c.get('end_time', '?')}, profile {c.get('profile', '?')}",
        f"repetitions per benchmark: {run.repetitions()}"
        + (f"; median spread of time across repetitions (CV): {100 * cv:.1f} %" if cv is not None else ""),
    ]
    ms = c.get("machine_state") or {}
    c2c = [p["c2c_round_trip_ns"] for p in ms.get("probes", []) if p.get("c2c_round_trip_ns")]
    if c2c:
        lines.append(f"machine state: core-to-core round trip {min(c2c):.0f}-{max(c2c):.0f} ns over {len(c2c)} probes "
                     f"(median {ms['median_c2c_round_trip_ns']:.0f} ns); passes in a shifted state: "
                     + (", ".join(map(str, ms["shifted_passes"])) if ms["shifted_passes"] else "none"))
        per_sample = ms.get("samples")
        if per_sample and per_sample.get("usual_c2c_round_trip_ns"):
            off = sum(p.get("n_off_state", 0) for p in run.points)
            mixed = sum(1 for p in run.points if p.get("state_mixed"))
            lines.append(f"samples in another machine state: {per_sample['marked']} marked (round trip over "
                         f"{per_sample['factor']:g}x the usual {per_sample['usual_c2c_round_trip_ns']:.0f} ns), "
                         f"{off} left out of the points; {mixed} point(s) mix states for want of 3 usual samples")
    pin = c.get("pinning")
    if pin:
        lines.append("thread pinning: " + (f"on, one thread per CPU of {pin.get('allowed_cpus')}" if pin.get("enabled")
                                           else "off (" + ("turned off" if not pin.get("requested")
                                                           else "one CPU allowed") + ")"))
    if g.get("library_build_type") == "debug" and not any("debug build" in w for w in c.get("warnings", [])):
        lines.append("Google Benchmark library built as debug (its own overhead may be higher)")
    lines += [f"warning: {w}" for w in c.get("warnings", [])]
    return lines


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


def render(runs: list[Run], plots, out: Path) -> None:
    machines = [r.machine for r in runs]
    rows = claims.table(runs)

    md = ["# conpat report", "",
          "Generated by `make report` from " + ", ".join(f"`{rel(r.path)}`" for r in runs) + ".", ""]
    for r in runs:
        md.append(f"- **{r.machine}**")
        md += [f"  - {line}" for line in metadata(r)]
    md += ["", "## The seed's claims", "", CLAIMS_INTRO, "",
           "| claim | experiment and setup | machine | C++ | Go | verdict |", "|---|---|---|---|---|---|"]
    cell = lambda s: s.replace("|", "\\|")  # noqa: E731
    md += ["| " + " | ".join([cell(r["claim"]), cell(f"`{r['experiment']}`: {r['setup']}" + (f" ({r['rule']})" if r["rule"] else "")),
                              cell(r["machine"]), "<br>".join(map(cell, r["cpp"])), "<br>".join(map(cell, r["go"])),
                              f"**{r['verdict']}**" + (f" ({r['by']})" if r["by"] else "")]) + " |" for r in rows]
    md += ["", "## Plots", ""]
    for name, caption in plots:
        md += [f"### {caption}", "", f"![{caption}]({name}.png)", ""]
    (out / "REPORT.md").write_text("\n".join(md) + "\n")

    e = html.escape
    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>conpat report</title>",
             "<style>body{font-family:sans-serif;max-width:1000px;margin:auto}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:4px;font-size:13px;vertical-align:top}"
             "svg{max-width:100%;height:auto}.holds{color:#1a7f37}.does{color:#b42318}.inconclusive{color:#8a6d00}"
             "</style></head><body><h1>conpat report</h1>",
             "<p>Generated by <code>make report</code> from " + ", ".join(f"<code>{e(rel(r.path))}</code>" for r in runs)
             + ".</p>"]
    for r in runs:
        parts.append(f"<h3>{e(r.machine)}</h3><ul>" + "".join(f"<li>{e(line)}</li>" for line in metadata(r)) + "</ul>")
    intro = re.sub(r"\*([^*]+)\*", r"<i>\1</i>", e(CLAIMS_INTRO))  # the Markdown emphasis, as HTML
    parts.append("<h2>The seed's claims</h2><p>" + intro + "</p><table><tr><th>claim</th>"
                 "<th>experiment and setup</th><th>machine</th><th>C++</th><th>Go</th><th>verdict</th></tr>")
    for r in rows:
        setup = f"<code>{e(r['experiment'])}</code>: {e(r['setup'])}" + (f" ({e(r['rule'])})" if r["rule"] else "")
        parts.append(f"<tr><td>{e(r['claim'])}</td><td>{setup}</td><td>{e(r['machine'])}</td>"
                     f"<td>{'<br>'.join(map(e, r['cpp']))}</td><td>{'<br>'.join(map(e, r['go']))}</td>"
                     f"<td><b class='{r['verdict'].split()[0]}'>{e(r['verdict'])}</b>"
                     + (f" ({e(r['by'])})" if r["by"] else "") + "</td></tr>")
    parts.append("</table><h2>Plots</h2>")
    for name, caption in plots:
        svg = (out / f"{name}.svg").read_text()
        svg = svg[svg.index("<svg"):]  # inline: drop the XML prolog and doctype
        parts.append(f"<h3>{e(caption)}</h3>{svg}")
    parts.append("</body></html>")
    (out / "index.html").write_text("\n".join(parts))
    (out / MARKER).write_text("This directory is generated by scripts/report.py; it replaces it as a whole.\n")


def check_out_dir(out: Path) -> None:
    """Refuses to replace a directory that is not a previous report."""
    if not out.exists():
        return
    if not out.is_dir():
        raise cr.ResultsError(f"{out}: exists and is not a directory")
    entries = list(out.iterdir())
    if not entries or (out / MARKER).is_file():
        return
    foreign = [p.name for p in entries if not (p.is_file() and REPORT_FILE_RE.match(p.name))]
    if foreign:
        raise cr.ResultsError(f"{out}: not a conpat report directory (holds {', '.join(sorted(foreign)[:3])}"
                              f"{', ...' if len(foreign) > 3 else ''}); give an empty or new --out")


def unique_labels(runs: list[Run]) -> None:
    """Runs of one machine label (a baseline and a new run) are told apart by commit, then by position."""
    labels = [r.machine for r in runs]
    for r in runs:
        if labels.count(r.machine) > 1:
            r.machine = f"{r.machine}@{r.ctx.get('git_commit', '?')}"
    labels = [r.machine for r in runs]
    for k, r in enumerate(runs):
        if labels.count(r.machine) > 1:
            r.machine = f"{r.machine}#{k + 1}"


def default_inputs() -> list[Path]:
    root = ROOT / "results"
    paths = []
    if root.is_dir():
        for d in sorted(d for d in root.iterdir() if d.is_dir()):
            files = cr.results_files(d)
            if files:
                paths.append(files[-1])
    if not paths:
        raise cr.ResultsError(f"{root}: no results files (run 'make bench' first)")
    return paths


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                epilog="The output directory must be new, empty, or a previous report.")
    p.add_argument("runs", nargs="*", help="results files or directories (a directory stands for its newest file; "
                                           "default: the newest file per machine under results/)")
    p.add_argument("--out", default=str(ROOT / "report"), help="output directory (default: report/)")
    args = p.parse_args()
    out = Path(args.out)
    try:
        check_out_dir(out)
        paths = cr.resolve_inputs(args.runs) if args.runs else default_inputs()
        runs = []
        for path in paths:
            run = Run(path, cr.load(path))
            if not run.points:
                raise cr.ResultsError(f"{path}: no successful benchmark to report")
            runs.append(run)
    except cr.ResultsError as e:
        print(f"report: {e}", file=sys.stderr)
        return 2
    unique_labels(runs)
    # Build in a scratch directory, then swap it in: a failure leaves the old report intact.
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".report-", dir=out.parent))
    try:
        plots = make_plots(runs, tmp)
        render(runs, plots, tmp)
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    print(f"report: {len(plots)} plots, {out / 'index.html'}, {out / 'REPORT.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
