#!/usr/bin/python3
"""Regenerate conpat's report: every plot (PNG and SVG), report/index.html
(self-contained: the SVGs are inlined, no network) and report/REPORT.md,
from one or more results files. The default input is the newest file for
each machine under results/.

Exit codes: 0 done; 2 bad input (nothing is written then).
"""

from __future__ import annotations

import argparse
import html
import json
import math
import sys
import tempfile
import shutil
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import conpat_results as cr  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CLAIMS = Path(__file__).resolve().parent / "claims.json"


class Run:
    def __init__(self, path: Path, doc: dict):
        self.path, self.doc = path, doc
        self.ctx = doc["context"].get("conpat", {})
        self.machine = cr.machine_label(doc, path)
        self.ok = [b for b in doc["benchmarks"] if not b.get("error_occurred") and b.get("run_type", "iteration") == "iteration"]
        noisy = {r["family"] for r in self.ctx.get("families", []) if r.get("noisy")}
        self.noisy = noisy

    def select(self, family: str, **params) -> list[dict]:
        return [b for b in self.ok if b["family"] == family
                and all(str(b["params"].get(k)) == str(v) for k, v in params.items())]

    def impls(self, family: str) -> list[str]:
        seen = []
        for b in self.ok:
            if b["family"] == family and b["impl"] not in seen:
                seen.append(b["impl"])
        return seen


def title(run_list, text: str, family: str) -> str:
    machines = ", ".join(r.machine + (" (noisy)" if family in r.noisy else "") for r in run_list)
    return f"{text}\n[{machines}]"


def style(k: int) -> str:
    return ["-", "--", ":", "-."][k % 4]


def plot_lines(ax, runs, family, x_param, y_metric, fixed, xlog=True, ylog=True, x_zero=None):
    """One line per (machine, impl); hollow markers for oversubscribed points."""
    any_over = False
    for m, run in enumerate(runs):
        for impl in run.impls(family):
            pts = [b for b in run.select(family, **fixed) if b["impl"] == impl and y_metric in b]
            pts.sort(key=lambda b: float(b["params"][x_param]))
            if not pts:
                continue
            xs = [float(b["params"][x_param]) for b in pts]
            if x_zero is not None:
                xs = [x if x > 0 else x_zero for x in xs]
            ys = [float(b[y_metric]) for b in pts]
            label = impl if len(runs) == 1 else f"{impl} ({run.machine})"
            line, = ax.plot(xs, ys, style(m), marker="o", label=label, markersize=4)
            over = [(x, y) for x, y, b in zip(xs, ys, pts) if b.get("oversubscribed")]
            if over:
                any_over = True
                ax.plot(*zip(*over), "o", markersize=8, markerfacecolor="white", color=line.get_color())
    if xlog:
        ax.set_xscale("log", base=2)
    if ylog:
        ax.set_yscale("log")
    ax.grid(True, which="both", alpha=0.3)
    return any_over


def finish(fig, ax, out: Path, name: str, any_over=False, legend=True):
    if legend and ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, ncol=2)
    if any_over:
        fig.text(0.01, 0.01, "hollow markers: oversubscribed (more threads than cores)", fontsize=7)
    fig.tight_layout()
    # No date in the files: regenerating from the same results gives the same report.
    fig.savefig(out / f"{name}.svg", dpi=90, metadata={"Date": None})
    fig.savefig(out / f"{name}.png", dpi=90)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return name


def make_plots(runs: list[Run], out: Path) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams["svg.hashsalt"] = "conpat"  # stable SVG ids: regenerated reports diff cleanly
    import matplotlib.pyplot as plt
    from cycler import cycler

    # Twenty distinct colours: a run can hold more than ten implementations.
    matplotlib.rcParams["axes.prop_cycle"] = cycler(color=plt.cm.tab20.colors)
    made = []

    fig, ax = plt.subplots(figsize=(8, 5))
    over = plot_lines(ax, runs, "channel.spsc", "cap", "items_per_second", {"payload": 8, "work": 0}, x_zero=0.5)
    ax.set(xlabel="capacity (items; 0.5 = unbuffered)", ylabel="throughput (items/s)",
           title=title(runs, "channel.spsc: throughput against capacity (8-byte items)", "channel.spsc"))
    made.append((finish(fig, ax, out, "channel_spsc_throughput", over), "Throughput against capacity"))

    fig, ax = plt.subplots(figsize=(8, 5))
    labels, k = [], 0
    pcts = ["lat_p50_ns", "lat_p90_ns", "lat_p99_ns", "lat_p999_ns"]
    for run in runs:
        for b in run.select("channel.spsc", cap=1024, payload=8, work=0):
            if "lat_p50_ns" not in b:
                continue
            labels.append(b["impl"] if len(runs) == 1 else f"{b['impl']}\n{run.machine}")
            for j, p in enumerate(pcts):
                ax.bar(k + j * 0.2, b[p], width=0.2, color=f"C{j}", label=p[4:-3] if k == 0 else None)
            k += 1
    ax.set_xticks([i + 0.3 for i in range(len(labels))], labels, rotation=30, ha="right", fontsize=7)
    ax.set_yscale("log")
    ax.set(ylabel="send-to-receive latency (ns)",
           title=title(runs, "channel.spsc, capacity 1024: latency percentiles", "channel.spsc"))
    made.append((finish(fig, ax, out, "channel_latency"), "Latency percentiles"))

    fig, ax = plt.subplots(figsize=(8, 5))
    any_over = False
    for m, run in enumerate(runs):
        for impl in run.impls("channel.mpmc"):
            pts = [b for b in run.select("channel.mpmc", cap=1024) if b["impl"] == impl]
            if not pts:
                continue
            xs = [f"{b['params']['producers']}x{b['params']['consumers']}" for b in pts]
            ys = [b["items_per_second"] for b in pts]
            line, = ax.plot(xs, ys, style(m), marker="o", label=impl if len(runs) == 1 else f"{impl} ({run.machine})")
            for x, y, b in zip(xs, ys, pts):
                if b.get("oversubscribed"):
                    any_over = True
                    ax.plot([x], [y], "o", markersize=8, markerfacecolor="white", color=line.get_color())
    ax.set_yscale("log")
    ax.grid(True, alpha=0.3)
    ax.set(xlabel="producers x consumers", ylabel="throughput (items/s)",
           title=title(runs, "channel.mpmc, capacity 1024: scaling", "channel.mpmc"))
    made.append((finish(fig, ax, out, "channel_mpmc_scaling", any_over), "Scaling with producers and consumers"))

    fig, ax = plt.subplots(figsize=(8, 5))
    k, labels = 0, []
    for run in runs:
        for b in sorted(run.select("collect.false_sharing"), key=lambda b: (b["params"]["threads"], b["params"]["align"])):
            labels.append(f"{b['params']['threads']} thr, {b['params']['align']} B" +
                          ("" if len(runs) == 1 else f"\n{run.machine}") + (" *" if b.get("oversubscribed") else ""))
            ax.bar(k - 0.2, b["packed_ns_per_op"], 0.4, color="C3", label="packed" if k == 0 else None)
            ax.bar(k + 0.2, b["padded_ns_per_op"], 0.4, color="C2", label="padded" if k == 0 else None)
            k += 1
    ax.set_xticks(range(len(labels)), labels, fontsize=7)
    ax.set(ylabel="time per increment (ns)",
           title=title(runs, "collect.false_sharing: Counter{hits, misses}, packed vs padded (* oversubscribed)",
                       "collect.false_sharing"))
    made.append((finish(fig, ax, out, "false_sharing"), "False sharing: packed against padded"))

    fig, ax = plt.subplots(figsize=(8, 5))
    plot_lines(ax, runs, "collect.stride", "stride", "ns_per_op", {}, ylog=False)
    for m, run in enumerate(runs):
        fs = run.ctx.get("derived", {}).get("false_sharing")
        if fs:
            ax.axvline(fs["false_sharing_distance_bytes"], color=f"C{m}", ls=":",
                       label=f"measured distance {fs['false_sharing_distance_bytes']} B ({run.machine})")
            ax.axvline(fs["hardware_destructive_interference_size"], color="grey", ls="--", alpha=0.5,
                       label=f"hardware_destructive_interference_size {fs['hardware_destructive_interference_size']} B")
    ax.set(xlabel="distance between the threads' counters (bytes)", ylabel="time per increment (ns)",
           title=title(runs, "collect.stride: where false sharing stops", "collect.stride"))
    made.append((finish(fig, ax, out, "stride"), "False-sharing distance"))

    fig, ax = plt.subplots(figsize=(8, 5))
    plot_lines(ax, runs, "collect.writer_freq", "work", "ns_per_write", {}, xlog=False, x_zero=1)
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
            pts = sorted((b for b in run.select("timeout.recv_for") if b["impl"] == impl),
                         key=lambda b: b["params"]["timeout_ns"])
            xs = [max(b["params"]["timeout_ns"], 100) for b in pts]
            for pct, ls in (("overshoot_p50_ns", "-"), ("overshoot_p99_ns", "--")):
                ys = [max(b.get(pct, 0), 1) for b in pts]
                ax.plot(xs, ys, ls, marker="o", markersize=3, label=f"{impl} {pct[10:13]}" + ("" if len(runs) == 1 else f" ({run.machine})"))
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.grid(True, which="both", alpha=0.3)
    ax.set(xlabel="requested timeout (ns; 100 = zero)", ylabel="overshoot: actual - requested (ns)",
           title=title(runs, "timeout.recv_for: how late a timeout fires", "timeout.recv_for"))
    made.append((finish(fig, ax, out, "timeout_overshoot"), "Timeout overshoot"))

    fig, ax = plt.subplots(figsize=(8, 5))
    plot_lines(ax, runs, "callback.error_rate", "error_pct", "ns_per_op", {}, xlog=False, x_zero=0.01)
    ax.set_xscale("log")
    ax.set(xlabel="error rate (%; 0.01 = none)", ylabel="time per operation (ns)",
           title=title(runs, "callback.error_rate: error codes, Expected and exceptions", "callback.error_rate"))
    made.append((finish(fig, ax, out, "error_rate"), "Error-rate curves"))

    if len(runs) >= 2:
        base = cr.samples(runs[0].doc)
        cells: dict = {}
        for run in runs[1:]:
            other = cr.samples(run.doc)
            for key in set(base) & set(other):
                a, b = base[key]["metrics"].get("time_ns"), other[key]["metrics"].get("time_ns")
                if a and b:
                    cells.setdefault((key[0], run.machine), []).append(math.log(cr.median(b) / cr.median(a)))
        families = sorted({f for f, _ in cells})
        machines = [r.machine for r in runs[1:]]
        import numpy as np

        grid = np.array([[math.exp(sum(cells[(f, m)]) / len(cells[(f, m)])) if (f, m) in cells else np.nan
                          for m in machines] for f in families])
        fig, ax = plt.subplots(figsize=(4 + len(machines), 1 + 0.4 * len(families)))
        im = ax.imshow(np.log2(grid), cmap="coolwarm", vmin=-2, vmax=2, aspect="auto")
        ax.set_xticks(range(len(machines)), machines)
        ax.set_yticks(range(len(families)), families, fontsize=7)
        for i in range(len(families)):
            for j in range(len(machines)):
                if not np.isnan(grid[i, j]):
                    ax.text(j, i, f"{grid[i, j]:.2f}", ha="center", va="center", fontsize=7)
        fig.colorbar(im, label="log2(time ratio)")
        ax.set_title(f"geomean time ratio per family, against {runs[0].machine}")
        made.append((finish(fig, ax, out, "machines_heatmap", legend=False), "Cross-machine ratios"))
    return made


def find(run: Run, sel: dict) -> dict | None:
    for b in run.select(sel["family"], **sel.get("params", {})):
        if b["impl"] == sel["impl"]:
            return b
    return None


def verdict(run: Run, claim: dict) -> str:
    kind = claim["kind"]
    if kind == "test":
        return claim["verdict"]
    if kind == "ratio":
        n, d = find(run, claim["numerator"]), find(run, claim["denominator"])
        if not n or not d:
            return "not measured in this run"
        r = n[claim["metric"]] / d[claim["metric"]]
        ok = r > 1
        return (f"{'holds' if ok else 'does not hold'}: {r:.2f}x (seed {claim['seed_value']}x)")
    if kind == "pair":
        parts, holds = [], True
        for side in ("first", "second"):
            s = claim[side]
            b = find(run, s)
            if not b:
                return "not measured in this run"
            v = b[claim["metric"]]
            lo, hi = s["range"]
            inside = (lo is None or v >= lo) and (hi is None or v <= hi)
            holds &= inside
            claimed = f">= {lo}" if hi is None else f"{lo}-{hi}"
            parts.append(f"{s['label']} {v:.1f} ns" + ("" if inside else f" (claimed {claimed} ns)"))
        return f"{'holds' if holds else 'does not hold'}: " + ", ".join(parts)
    if kind == "crossover":
        wf = run.ctx.get("derived", {}).get("writer_freq")
        if not wf:
            return "not measured in this run"
        a, b = claim["pair"]
        cross = [c for c in wf["crossovers"] if set(c["pair"]) == {a, b}]
        cost = wf["ns_per_write"]
        if a not in cost or b not in cost:
            return "not measured in this run"
        works = sorted(set(cost[a]) & set(cost[b]), key=int)
        lo_rate, hi_rate = 1e9 / cost[a][works[-1]], 1e9 / cost[a][works[0]]
        if not cross:
            faster = a if all(cost[a][w] <= cost[b][w] * 1.05 for w in works) else b
            return (f"does not hold: no crossover between {a} and {b} from {lo_rate:,.0f} to {hi_rate:,.0f} "
                    f"writes/s per writer; {faster} is never slower by more than 5 %")
        c = cross[0]
        return (f"crossover between work {c['between_work'][0]} and {c['between_work'][1]} "
                f"({c['writes_per_s_per_writer_between'][1]:,.0f}-{c['writes_per_s_per_writer_between'][0]:,.0f} "
                f"writes/s per writer; seed: {claim['seed_writes_per_s']:,})")
    if kind == "slowdown":
        b = find(run, claim["select"])
        if not b:
            return "not measured in this run"
        s = b[claim["metric"]]
        loss = (1 - 1 / s) * 100
        return (f"{'holds' if s > 1 else 'does not hold'}: packed loses {loss:.0f} % against padded "
                f"({s:.2f}x; seed {claim['seed_loss_pct']} %)")
    return f"unknown claim kind {kind!r}"


def render(runs: list[Run], plots, out: Path) -> None:
    claims = json.loads(CLAIMS.read_text())["claims"]
    machines = [r.machine for r in runs]
    rows = [[c["claim"]] + [verdict(r, c) for r in runs] for c in claims]

    md = ["# conpat report", "",
          "Generated by `make report` from " + ", ".join(f"`{r.path.relative_to(ROOT) if r.path.is_relative_to(ROOT) else r.path}`" for r in runs) + ".", ""]
    for r in runs:
        c = r.ctx
        md.append(f"- **{r.machine}**: {c.get('cpu_model', '?')}, {c.get('hardware_threads', '?')} hardware threads, "
                  f"{c.get('kernel', '?')}, {c.get('compiler', '?')} `{c.get('cxx_flags', '')}`, profile "
                  f"{c.get('profile', '?')}, commit {c.get('git_commit', '?')}.")
        for w in c.get("warnings", []):
            md.append(f"  - warning: {w}")
    md += ["", "## The seed's claims", "", "| claim | " + " | ".join(machines) + " |", "|---|" + "---|" * len(machines)]
    md += ["| " + " | ".join(row) + " |" for row in rows]
    md += ["", "## Plots", ""]
    for name, caption in plots:
        md += [f"### {caption}", "", f"![{caption}]({name}.png)", ""]
    (out / "REPORT.md").write_text("\n".join(md) + "\n")

    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>conpat report</title>",
             "<style>body{font-family:sans-serif;max-width:1000px;margin:auto}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:4px;font-size:13px}svg{max-width:100%;height:auto}</style>",
             "</head><body><h1>conpat report</h1>"]
    parts.append("<ul>" + "".join(f"<li><b>{html.escape(r.machine)}</b>: {html.escape(str(r.ctx.get('cpu_model', '?')))}, "
                                  f"{r.ctx.get('hardware_threads', '?')} hardware threads, profile "
                                  f"{html.escape(str(r.ctx.get('profile', '?')))}</li>" for r in runs) + "</ul>")
    parts.append("<h2>The seed's claims</h2><table><tr><th>claim</th>" +
                 "".join(f"<th>{html.escape(m)}</th>" for m in machines) + "</tr>")
    parts += ["<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows]
    parts.append("</table><h2>Plots</h2>")
    for name, caption in plots:
        svg = (out / f"{name}.svg").read_text()
        svg = svg[svg.index("<svg"):]  # inline: drop the XML prolog and doctype
        parts.append(f"<h3>{html.escape(caption)}</h3>{svg}")
    parts.append("</body></html>")
    (out / "index.html").write_text("\n".join(parts))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="*", help="results files or directories (default: newest file per machine in results/)")
    p.add_argument("--out", default=str(ROOT / "report"), help="output directory (default: report/)")
    args = p.parse_args()
    try:
        if args.runs:
            paths = cr.resolve_inputs(args.runs)
        else:
            root = ROOT / "results"
            machines = sorted(d for d in root.iterdir() if d.is_dir() and d.name != "schema") if root.is_dir() else []
            paths = []
            for d in machines:
                try:
                    paths.append(cr.newest(d))
                except cr.ResultsError:
                    continue
            if not paths:
                raise cr.ResultsError(f"{root}: no results files (run 'make bench' first)")
        runs = []
        for path in paths:
            doc = cr.load(path)
            if "conpat" in doc.get("context", {}):
                cr.validate(doc, path)
            runs.append(Run(path, doc))
    except cr.ResultsError as e:
        print(f"report: {e}", file=sys.stderr)
        return 2
    out = Path(args.out)
    # Build in a scratch directory, then swap it in: a failure leaves the old report intact.
    tmp = Path(tempfile.mkdtemp(prefix=".report-", dir=out.parent if out.parent.exists() else None))
    try:
        plots = make_plots(runs, tmp)
        render(runs, plots, tmp)
        if out.exists():
            shutil.rmtree(out)
        shutil.move(str(tmp), str(out))
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    print(f"report: {len(plots)} plots, {out / 'index.html'}, {out / 'REPORT.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
