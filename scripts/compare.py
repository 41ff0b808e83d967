#!/usr/bin/python3
"""Compare conpat runs: what changed between two runs, or how machines differ.

The first run is the baseline; every later run is compared with it.
Benchmarks are matched by family, impl and params (never by raw name).

For each metric the summary of a run is the median of its repetitions.
"change %" is always "slower is positive": (time ratio - 1) x 100, where the
time ratio is other/baseline for times and latencies and baseline/other for
rates (items_per_second is compared only where no time is recorded: it is
the same measurement). A change counts only when a two-sided Mann-Whitney U
test says it is significant (p < --alpha) *and* it is at least --min-effect
percent. The test needs at least 5 repetitions a side (with fewer, no
outcome can reach p < 0.01); rows with fewer say "too few samples".
Without a multiple-comparison correction, the output states how many rows
would come out significant by chance alone (rows tested x alpha).

Exit codes: 0 done; 1 --fail-on-regression tripped; 2 bad input, or a gate
asked for on results too thin to test.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import conpat_results as cr  # noqa: E402

CONTEXT_FIELDS = ("machine", "cpu_model", "hardware_threads", "physical_cores", "smt", "kernel", "governor",
                  "compiler", "cxx_flags", "build_type", "profile", "git_commit", "git_dirty")
# Google Benchmark's own context: what tells machines apart in plain files.
GBENCH_CONTEXT_FIELDS = ("host_name", "num_cpus", "mhz_per_cpu", "cpu_scaling_enabled", "library_build_type")
MIN_SAMPLES = 5


def slower_pct(metric: str, base: float, other: float) -> float:
    """Percent slower (positive) or faster (negative), one convention for every metric."""
    time_ratio = other / base if metric in cr.LOWER_IS_BETTER else base / other
    return (time_ratio - 1) * 100


def compare_pair(base: dict, other: dict, alpha: float, min_effect: float) -> list[dict]:
    rows = []
    sa, sb = cr.samples(base), cr.samples(other)
    for key in sorted(set(sa) & set(sb)):
        ma, mb = sa[key]["metrics"], sb[key]["metrics"]
        for metric in cr.COMPARED:
            if metric not in ma or metric not in mb:
                continue
            va, vb = cr.median(ma[metric]), cr.median(mb[metric])
            if va <= 0 or vb <= 0:
                continue
            change = slower_pct(metric, va, vb)
            na, nb = len(ma[metric]), len(mb[metric])
            taken = [sa[key]["n_taken"], sb[key]["n_taken"]]
            testable = min(na, nb) >= MIN_SAMPLES
            p = cr.mann_whitney(ma[metric], mb[metric]) if testable else None
            significant = testable and p < alpha and abs(change) >= min_effect
            state_thinned = not testable and min(taken) >= MIN_SAMPLES
            if state_thinned:
                verdict = f"too few samples in the usual machine state ({na}/{nb} of {taken[0]}/{taken[1]})"
            elif not testable:
                verdict = f"too few samples ({na}/{nb}; need {MIN_SAMPLES})"
            elif significant:
                verdict = "slower" if change > 0 else "faster"
            else:
                verdict = "no change"
            rows.append({"benchmark": cr.key_label(key), "family": key[0], "impl": key[1],
                         "params": dict(key[2]), "metric": metric, "baseline": va, "value": vb,
                         "ratio": vb / va, "change_pct": change, "p_value": p, "repetitions": [na, nb],
                         "tested": testable, "state_thinned": state_thinned, "samples_taken": taken,
                         "significant": bool(significant), "verdict": verdict,
                         "oversubscribed": sa[key]["oversubscribed"] or sb[key]["oversubscribed"]})
    return rows


def family_geomeans(rows: list) -> dict:
    """Geometric mean of the time ratio (other/baseline) per family."""
    ratios: dict = {}
    for r in rows:
        if r["metric"] == "time_ns":
            ratios.setdefault(r["family"], []).append(r["ratio"])
    return {f: cr.geomean(v) for f, v in sorted(ratios.items())}


def ranking_stability(base: dict, other: dict, alpha: float) -> list[dict]:
    """Per family and parameter set with two or more implementations in both
    runs: is the fastest implementation the same? A different winner counts as
    a change only when each run's winner beats the other's significantly in
    that run; otherwise the two are tied within the noise."""
    def groups(doc):
        out: dict = {}
        for key, rec in cr.samples(doc).items():
            t = rec["metrics"].get("time_ns")
            if t:
                out.setdefault((key[0], key[2]), {})[key[1]] = t
        return out

    def faster(times, a, b) -> bool:  # a significantly faster than b
        p = cr.mann_whitney(times[a], times[b])
        return (p is not None and min(len(times[a]), len(times[b])) >= MIN_SAMPLES and p < alpha
                and cr.median(times[a]) < cr.median(times[b]))

    ga, gb = groups(base), groups(other)
    out = []
    for group in sorted(set(ga) & set(gb)):
        common = set(ga[group]) & set(gb[group])
        if len(common) < 2:
            continue
        ta = {i: ga[group][i] for i in common}
        tb = {i: gb[group][i] for i in common}
        wa = min(common, key=lambda i: cr.median(ta[i]))
        wb = min(common, key=lambda i: cr.median(tb[i]))
        if wa == wb:
            status = "same"
        elif faster(ta, wa, wb) and faster(tb, wb, wa):
            status = "changed"
        else:
            status = "tied"
        out.append({"family": group[0], "params": dict(group[1]), "fastest_baseline": wa,
                    "fastest_other": wb, "status": status})
    return out


def context_diff(base: dict, other: dict) -> list[tuple]:
    ca, cb = base["context"].get("conpat", {}), other["context"].get("conpat", {})
    diffs = []
    for f in CONTEXT_FIELDS:
        if ca.get(f) != cb.get(f):
            diffs.append((f, ca.get(f), cb.get(f)))
    la, lb = ca.get("libraries", {}), cb.get("libraries", {})
    for lib in sorted(set(la) | set(lb)):
        if la.get(lib) != lb.get(lib):
            diffs.append((f"libraries.{lib}", la.get(lib), lb.get(lib)))
    ga, gb = base["context"], other["context"]
    for f in GBENCH_CONTEXT_FIELDS:
        if ga.get(f) != gb.get(f):
            diffs.append((f"benchmark.{f}", ga.get(f), gb.get(f)))
    return diffs


def state_summary(doc: dict) -> str | None:
    ms = doc["context"].get("conpat", {}).get("machine_state")
    if not ms or not ms.get("probes"):
        return None
    c2c = [p["c2c_round_trip_ns"] for p in ms["probes"] if p.get("c2c_round_trip_ns")]
    if not c2c:
        return None
    shifted = ms.get("shifted_passes", [])
    text = (f"core-to-core round trip {min(c2c):.0f}-{max(c2c):.0f} ns (median {ms['median_c2c_round_trip_ns']:.0f}); "
            f"passes in a shifted state: {', '.join(map(str, shifted)) if shifted else 'none'}")
    per_sample = ms.get("samples")
    if per_sample and per_sample.get("usual_c2c_round_trip_ns"):
        taken = sum(1 for b in cr.iterations(doc))
        text += (f"; samples in another state: {per_sample['marked']} of {taken} (usual round trip "
                 f"{per_sample['usual_c2c_round_trip_ns']:.0f} ns; left out of the medians where 3 others exist)")
    return text


def noise_summary(doc: dict) -> str | None:
    fams = doc["context"].get("conpat", {}).get("families", [])
    steal = [r["steal_pct"] for r in fams if isinstance(r.get("steal_pct"), (int, float))]
    other = [r["other_cpu_pct"] for r in fams if isinstance(r.get("other_cpu_pct"), (int, float))]
    if not steal and not other:
        return None
    return (f"steal <= {max(steal, default=0):.2f} %, other processes' CPU <= {max(other, default=0):.2f} % "
            f"(worst family of {len(fams)})")


def fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def table(headers: list, rows: list, markdown: bool) -> str:
    cells = [[fmt(c) for c in r] for r in rows]
    if markdown:
        lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
        lines += ["| " + " | ".join(c) + " |" for c in cells]
        return "\n".join(lines)
    widths = [max(len(h), *(len(c[i]) for c in cells)) if cells else len(h) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in cells]
    return "\n".join(lines)


def summary_line(rows: list, alpha: float) -> str:
    tested = [r for r in rows if r["tested"]]
    slower = sum(1 for r in tested if r["verdict"] == "slower")
    faster = sum(1 for r in tested if r["verdict"] == "faster")
    dev = sorted(abs(r["ratio"] - 1) for r in rows)
    within = sum(1 for d in dev if d <= 0.15)
    line = (f"{len(rows)} rows: {len(tested)} tested, {slower} slower, {faster} faster, "
            f"{len(tested) - slower - faster} no change; median |ratio - 1| {100 * cr.median(dev):.1f} %, "
            f"{100 * within / len(rows):.0f} % of rows within 15 %")
    if tested:
        line += f"; by chance alone about {len(tested) * alpha:.1f} rows would test significant (rows x alpha)"
    if len(tested) < len(rows):
        line += f"; {len(rows) - len(tested)} rows have too few samples to test (need {MIN_SAMPLES} a side)"
    return line


def render_text(results: list, markdown: bool, show_all: bool, alpha: float) -> str:
    out = []
    h = (lambda s: f"## {s}") if markdown else (lambda s: f"== {s}")
    for res in results:
        out.append(h(f"{res['other']} vs baseline {res['baseline']}"))
        if res["context_diff"]:
            out.append(table(["field", "baseline", "other"], [list(d) for d in res["context_diff"]], markdown))
        else:
            out.append("(same machine, build and libraries)")
        out.append("change %: slower is positive ((time ratio - 1) x 100, rates inverted)")
        rows = [r for r in res["rows"] if show_all or r["significant"] or r["metric"] == "time_ns"]
        out.append("")
        out.append(table(["benchmark", "metric", "baseline", "other", "ratio", "change %", "p", "verdict"],
                         [[r["benchmark"] + (" [oversubscribed]" if r["oversubscribed"] else ""), r["metric"],
                           r["baseline"], r["value"], r["ratio"], r["change_pct"], r["p_value"], r["verdict"]]
                          for r in rows], markdown))
        out.append("")
        out.append(summary_line(res["rows"], alpha))
        out.append("")
        out.append(table(["family", "geomean time ratio (other/baseline)"],
                         [[f, g] for f, g in res["geomean"].items()], markdown))
        ranked = res["ranking"]
        changed = [r for r in ranked if r["status"] == "changed"]
        tied = sum(1 for r in ranked if r["status"] == "tied")
        out.append("")
        out.append(f"ranking: of {len(ranked)} groups with two or more implementations, the fastest is the same "
                   f"in {len(ranked) - len(changed) - tied}, tied within the noise in {tied}, "
                   f"significantly changed in {len(changed)}")
        if changed:
            out.append(table(["family", "params", "fastest on baseline", "fastest on other"],
                             [[r["family"], json.dumps(r["params"]), r["fastest_baseline"], r["fastest_other"]]
                              for r in changed], markdown))
        for label, n in (("baseline", res["noise"][0]), ("other", res["noise"][1])):
            if n:
                out.append(f"noise ({label}): {n}")
        for label, st in (("baseline", res["state"][0]), ("other", res["state"][1])):
            if st:
                out.append(f"machine state ({label}): {st}")
        out.append("")
    return "\n".join(out)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                epilog="A directory stands for the newest results file under it.")
    p.add_argument("runs", nargs="+", help="two or more results files or directories; the first is the baseline")
    p.add_argument("--format", choices=("table", "markdown", "json"), default="table",
                   help="output format (default: a terminal table)")
    p.add_argument("--alpha", type=float, default=0.01,
                   help="significance level of the U test (default 0.01; 5 repetitions a side reach 0.008)")
    p.add_argument("--min-effect", type=float, default=5.0,
                   help="smallest change, in percent, that counts as a difference (default 5)")
    p.add_argument("--fail-on-regression", type=float, metavar="PCT",
                   help="exit 1 if any benchmark is significantly slower by more than PCT percent (for CI "
                        "gates); exit 2 if the runs have too few repetitions to test")
    p.add_argument("--gate-metric", action="append", choices=cr.COMPARED, metavar="METRIC",
                   help="metric the regression gate looks at (repeatable; default time_ns, and items_per_second "
                        "where no time is recorded). Latency percentiles are tested and shown but, being tails, "
                        "are too noisy to gate on unless asked: an A/A pair of default runs moved a p99 by 70 %%")
    p.add_argument("--all", action="store_true", help="show every metric, not only time and significant changes")
    args = p.parse_args()
    if len(args.runs) < 2:
        p.error("give at least two runs (files or directories)")
    if not 0 < args.alpha < 1 or args.min_effect < 0:
        p.error("--alpha must be in (0, 1) and --min-effect >= 0")
    try:
        paths = cr.resolve_inputs(args.runs)
        docs = [cr.load(path) for path in paths]
    except cr.ResultsError as e:
        print(f"compare: {e}", file=sys.stderr)
        return 2
    results = []
    for path, doc in zip(paths[1:], docs[1:]):
        rows = compare_pair(docs[0], doc, args.alpha, args.min_effect)
        if not rows:
            print(f"compare: {path}: no benchmark in common with {paths[0]}", file=sys.stderr)
            return 2
        results.append({"baseline": str(paths[0]), "other": str(path), "rows": rows,
                        "geomean": family_geomeans(rows), "ranking": ranking_stability(docs[0], doc, args.alpha),
                        "context_diff": context_diff(docs[0], doc),
                        "noise": [noise_summary(docs[0]), noise_summary(doc)],
                        "state": [state_summary(docs[0]), state_summary(doc)]})
    if args.format == "json":
        print(json.dumps(results, indent=2))
    else:
        print(render_text(results, args.format == "markdown", args.all, args.alpha))
    if args.fail_on_regression is not None:
        gated = set(args.gate_metric or ("time_ns", "items_per_second"))
        rows = [r for res in results for r in res["rows"] if r["metric"] in gated]
        thin = [r for r in rows if not r["tested"] and not r["state_thinned"]]
        if thin:
            n = min(min(r["samples_taken"]) for r in thin)
            print(f"compare: cannot gate: {len(thin)} of {len(rows)} rows have {n} repetition(s) a side, the test "
                  f"needs {MIN_SAMPLES}; run 'make bench' with PROFILE=default or full (or "
                  f"--benchmark_repetitions={MIN_SAMPLES})", file=sys.stderr)
            return 2
        off = [r for r in rows if r["state_thinned"]]
        if len(off) * 2 > len(rows):
            print(f"compare: cannot gate: {len(off)} of {len(rows)} rows have fewer than {MIN_SAMPLES} samples in "
                  "the usual machine state (it moved for most of a run); run the benchmarks again", file=sys.stderr)
            return 2
        if off:
            print(f"compare: {len(off)} of {len(rows)} gated rows were not tested: too few samples in the usual "
                  "machine state", file=sys.stderr)
        worst = [r for r in rows if r["significant"] and r["change_pct"] > args.fail_on_regression]
        if worst:
            w = max(worst, key=lambda r: r["change_pct"])
            print(f"compare: {len(worst)} significant regression(s) beyond {args.fail_on_regression}%; worst: "
                  f"{w['benchmark']} {w['metric']} {w['change_pct']:+.1f}%", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
