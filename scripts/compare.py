#!/usr/bin/python3
"""Compare conpat runs: what changed between two runs, or how machines differ.

The first run is the baseline; every later run is compared with it.
Benchmarks are matched by family, impl and params (never by raw name).

Stored runs cannot be paired sample by sample (to compare two commits, use
abtest.py, which measures both interleaved and paired). Each row's change is
the Hodges-Lehmann shift of log(other / baseline) over every cross pair of
samples (for times and latencies; rates inverted: "change %" is always
"slower is positive"), with the exact Mann-Whitney interval around it
(scripts/stats.py). A row is slower or faster only when its whole interval
lies beyond +/- --min-effect percent; the rows of each metric are picked at
false discovery rate --fdr (Benjamini-Hochberg) and every interval is shown
at the level that procedure adjusts to (1 - max(R, 1) q / m). A gate trips
only on a row whose adjusted interval lies wholly above +PCT: five samples
that all moved one way by less than that are no regression. Rows with fewer
than 5 samples a side say "too few samples" and are not tested.

Exit codes: 0 done; 1 --fail-on-regression tripped; 2 bad input, or a gate
asked for on results too thin to test.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import conpat_results as cr  # noqa: E402
import stats  # noqa: E402

CONTEXT_FIELDS = ("machine", "cpu_model", "hardware_threads", "physical_cores", "smt", "kernel", "governor",
                  "compiler", "cxx_flags", "build_type", "profile", "git_commit", "git_dirty")
# Google Benchmark's own context: what tells machines apart in plain files.
GBENCH_CONTEXT_FIELDS = ("host_name", "num_cpus", "mhz_per_cpu", "cpu_scaling_enabled", "library_build_type")
MIN_SAMPLES = 5
LEVEL = 0.95  # the confidence every interval has at least, before the adjustment for many rows
# Build settings that make two runs measure different programs.
BUILD_FIELDS = ("compiler", "cxx_flags", "build_type")


def slower_pct(metric: str, base: float, other: float) -> float:
    """Percent slower (positive) or faster (negative), one convention for every metric."""
    time_ratio = other / base if metric in cr.LOWER_IS_BETTER else base / other
    return (time_ratio - 1) * 100


def log_values(metric: str, values: list) -> list:
    """Slower positive on the log scale: log times, -log rates."""
    import math
    sign = 1.0 if metric in cr.LOWER_IS_BETTER else -1.0
    return [sign * math.log(v) for v in values if v > 0]


def judge_rows(rows: list, shifts: list, min_effect: float, fdr: float) -> None:
    """Fills verdict, change_pct, change_ci_pct, p_value, significant: per metric,
    Benjamini-Hochberg over the tested rows, intervals at the adjusted level."""
    for metric in {r["metric"] for r in rows}:
        idx = [i for i, r in enumerate(rows) if r["metric"] == metric]
        tested = [i for i in idx if rows[i]["tested"]]
        res = stats.judge([shifts[i] for i in tested], min_effect, fdr, LEVEL)
        for i, j in zip(tested, res["rows"]):
            r = rows[i]
            r.update(change_pct=j["estimate_pct"], change_ci_pct=j["ci_pct"], ci_level=j["coverage"],
                     p_value=j["p_value"], verdict=j["verdict"] if j["verdict"] != "too few" else r["verdict"],
                     significant=j["verdict"] in (stats.SLOWER, stats.FASTER))
            if j["verdict"] == "too few":
                r["tested"] = False
                r["verdict"] = f"too few samples ({r['repetitions'][0]}/{r['repetitions'][1]}; need {MIN_SAMPLES})"


def compare_pair(base: dict, other: dict, fdr: float, min_effect: float) -> list[dict]:
    rows, shifts = [], []
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
            # Testable when the exact test can reach LEVEL at all: 4 a side, or 3 and 5 (3 and 3 cannot).
            testable = stats.max_coverage_unpaired(na, nb) >= LEVEL
            state_thinned = not testable and stats.max_coverage_unpaired(*taken) >= LEVEL
            if state_thinned:
                verdict = f"too few samples in the usual machine state ({na}/{nb} of {taken[0]}/{taken[1]})"
            elif not testable:
                verdict = f"too few samples ({na}/{nb}; need {MIN_SAMPLES})"
            else:
                verdict = "no change"
            shift = stats.unpaired(log_values(metric, ma[metric]), log_values(metric, mb[metric]))
            lo, hi, cov = shift.interval(1 - LEVEL)
            rows.append({"benchmark": cr.key_label(key), "family": key[0], "impl": key[1],
                         "params": dict(key[2]), "metric": metric, "baseline": va, "value": vb,
                         "ratio": vb / va, "change_pct": change, "change_ci_pct": [stats.pct(lo), stats.pct(hi)],
                         "ci_level": cov, "p_value": None, "repetitions": [na, nb],
                         "tested": testable, "state_thinned": state_thinned, "samples_taken": taken,
                         "significant": False, "verdict": verdict,
                         "oversubscribed": sa[key]["oversubscribed"] or sb[key]["oversubscribed"]})
            shifts.append(shift)
    judge_rows(rows, shifts, min_effect, fdr)
    return rows


def build_difference(base: dict, other: dict) -> list[tuple]:
    """(field, baseline, other) for the build settings that differ (compiler, flags, build type)."""
    ca, cb = base["context"].get("conpat", {}), other["context"].get("conpat", {})
    return [(f, ca.get(f), cb.get(f)) for f in BUILD_FIELDS if f in ca and f in cb and ca.get(f) != cb.get(f)]


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


def worst_first(rows: list) -> list:
    """Slower rows first (largest lower bound first), then the rest by change, most slowed first."""
    def key(r):
        lo = (r.get("change_ci_pct") or [None])[0]
        return (r["verdict"] != "slower", -(lo if lo is not None else -1e300), -(r["change_pct"] or 0))
    return sorted(rows, key=key)


def change_text(r: dict) -> str:
    return stats.criterion(r["change_pct"], r.get("change_ci_pct") or [None, None])


def summary_line(rows: list, fdr: float, unit: str = "samples", need: int = MIN_SAMPLES) -> str:
    tested = [r for r in rows if r["tested"]]
    slower = sum(1 for r in tested if r["verdict"] == "slower")
    faster = sum(1 for r in tested if r["verdict"] == "faster")
    dev = sorted(abs(r["change_pct"]) / 100 for r in rows if r["change_pct"] is not None)
    within = sum(1 for d in dev if d <= 0.15)
    line = (f"{len(rows)} rows: {len(tested)} tested, {slower} slower, {faster} faster, "
            f"{len(tested) - slower - faster} no change; median |ratio - 1| {100 * cr.median(dev):.1f} %, "
            f"{100 * within / max(len(dev), 1):.0f} % of rows within 15 %")
    if tested:
        levels = [r["ci_level"] for r in tested if r.get("ci_level") is not None]
        line += (f"; false discovery rate {fdr:g} per metric: of the {slower + faster} rows flagged, about "
                 f"{(slower + faster) * fdr:.1f} could be false alarms by chance alone"
                 + (f"; intervals at the level adjusted for {len(tested)} rows, or the widest the {unit} allow "
                    f"(coverage {100 * min(levels):.2f} % or more)" if levels else ""))
    if len(tested) < len(rows):
        line += f"; {len(rows) - len(tested)} rows have too few {unit} to test (need {need})"
    return line


def gate(rows: list, pct: float, metrics: set, oversubscribed: bool, who: str = "compare") -> tuple:
    """(exit code, message) of the regression gate: a row trips it only when it
    is slower and its whole adjusted interval lies above +pct."""
    gated = [r for r in rows if r["metric"] in metrics and (oversubscribed or not r["oversubscribed"])]
    worst = [r for r in gated if r["verdict"] == "slower" and r["change_ci_pct"][0] is not None
             and r["change_ci_pct"][0] > pct]
    left = sum(1 for r in rows if r["metric"] in metrics and r["oversubscribed"] and not oversubscribed)
    note = f" ({left} oversubscribed row(s) not gated; --gate-oversubscribed gates them)" if left else ""
    if worst:
        w = max(worst, key=lambda r: r["change_ci_pct"][0])
        return 1, (f"{who}: {len(worst)} regression(s) whose whole interval lies above +{pct:g}%; worst: "
                   f"{w['benchmark']} {w['metric']} {change_text(w)}{note}")
    # Rows above +pct on their own, but not among the rows the false discovery
    # rate picks: too few samples to tell them from chance among this many rows.
    unsettled = [r for r in gated if r["tested"] and r["verdict"] != "slower" and r["change_ci_pct"][0] is not None
                 and r["change_ci_pct"][0] > pct]
    if unsettled:
        u = max(unsettled, key=lambda r: r["change_ci_pct"][0])
        note += (f"; {len(unsettled)} row(s) lie above +{pct:g}% at their own level ({100 * u['ci_level']:.1f} %) but "
                 f"not at the level {len(gated)} rows require (p = {u['p_value']:.2g}; more repetitions settle "
                 f"them), e.g. {u['benchmark']} {u['metric']} {change_text(u)}")
    return 0, (f"{who}: gate passed: no row picked at the false discovery rate has its interval wholly above "
               f"+{pct:g}% ({len(gated)} rows gated){note}")


def render_text(results: list, markdown: bool, show_all: bool, fdr: float) -> str:
    out = []
    h = (lambda s: f"## {s}") if markdown else (lambda s: f"== {s}")
    for res in results:
        for w in res.get("flag_warnings", []):
            out.append(f"not comparable: {w}")
        if res["build_diff"]:
            out.append("not comparable: build flags differ ("
                       + "; ".join(f"{f}: '{a}' vs '{b}'" for f, a, b in res["build_diff"]) + ")")
        out.append(h(f"{res['other']} vs baseline {res['baseline']}"))
        if res["context_diff"]:
            out.append(table(["field", "baseline", "other"], [list(d) for d in res["context_diff"]], markdown))
        else:
            out.append("(same machine, build and libraries)")
        out.append("change: [interval low, estimate, interval high] of other vs baseline, slower is positive "
                   "((time ratio - 1) x 100, rates inverted); unpaired runs: Hodges-Lehmann shift over every "
                   "cross pair of samples, exact Mann-Whitney interval adjusted for the number of rows")
        rows = [r for r in worst_first(res["rows"]) if show_all or r["significant"] or r["metric"] == "time_ns"]
        out.append("")
        out.append(table(["benchmark", "metric", "baseline", "other", "change", "verdict"],
                         [[r["benchmark"] + (" [oversubscribed]" if r["oversubscribed"] else ""), r["metric"],
                           r["baseline"], r["value"], change_text(r), r["verdict"]]
                          for r in rows], markdown))
        out.append("")
        out.append(summary_line(res["rows"], fdr))
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


def gate_metrics(asked: list | None) -> set:
    """time_ns (items_per_second where no time is recorded), plus every --gate-metric."""
    return {"time_ns", "items_per_second"} | set(asked or ())


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                epilog="A directory stands for the newest results file under it. To compare two "
                                       "commits, abtest.py measures both interleaved and paired instead.")
    p.add_argument("runs", nargs="+", help="two or more results files or directories; the first is the baseline")
    p.add_argument("--format", choices=("table", "markdown", "json"), default="table",
                   help="output format (default: a terminal table)")
    p.add_argument("--fdr", "--alpha", dest="fdr", type=float, default=0.05,
                   help="false discovery rate controlled across the rows of each metric (Benjamini-Hochberg; "
                        "default 0.05); the intervals are widened to match")
    p.add_argument("--min-effect", type=float, default=5.0,
                   help="smallest change, in percent, that counts as a difference: slower or faster only when the "
                        "whole interval lies beyond it (default 5: two stored runs of one commit an hour apart "
                        "drift by several percent on a small VM)")
    p.add_argument("--fail-on-regression", type=float, metavar="PCT",
                   help="exit 1 if a benchmark's whole (adjusted) interval lies above +PCT percent (for CI "
                        "gates); exit 2 if the runs have too few repetitions to test")
    p.add_argument("--gate-metric", action="append", choices=cr.COMPARED, metavar="METRIC",
                   help="a metric to gate on besides time (repeatable; time_ns, or items_per_second where no time "
                        "is recorded, is always gated). Latency percentiles are tested and shown but, being "
                        "tails, are too noisy to gate on unless asked: an A/A pair of default runs moved a p99 by "
                        "70 %%")
    p.add_argument("--gate-oversubscribed", action="store_true",
                   help="gate the rows that run more threads than the machine has too (default: shown, not gated)")
    p.add_argument("--all", action="store_true", help="show every metric, not only time and significant changes")
    p.add_argument("--filter", metavar="REGEX",
                   help="only the benchmarks whose name REGEX matches (searched, as Google Benchmark's filter); the "
                        "false discovery rate then counts only those rows")
    args = p.parse_args()
    if len(args.runs) < 2:
        p.error("give at least two runs (files or directories)")
    if not 0 < args.fdr < 1 or args.min_effect < 0:
        p.error("--fdr must be in (0, 1) and --min-effect >= 0")
    try:
        flt = re.compile(args.filter) if args.filter is not None else None
    except re.error as e:
        p.error(f"--filter: not a regular expression ({e})")
    try:
        paths = cr.resolve_inputs(args.runs)
        docs = [cr.load(path) for path in paths]
    except cr.ResultsError as e:
        print(f"compare: {e}", file=sys.stderr)
        return 2
    if flt is not None:
        for doc in docs:
            doc["benchmarks"] = [b for b in doc["benchmarks"] if flt.search(b.get("run_name", b.get("name", "")))]
    results = []
    for path, doc in zip(paths[1:], docs[1:]):
        rows = compare_pair(docs[0], doc, args.fdr, args.min_effect)
        if not rows:
            print(f"compare: {path}: no benchmark in common with {paths[0]}", file=sys.stderr)
            return 2
        diff = build_difference(docs[0], doc)
        if diff:
            print(f"compare: not comparable: build flags differ between {paths[0]} and {path} ("
                  + "; ".join(f"{f}: '{a}' vs '{b}'" for f, a, b in diff) + ")", file=sys.stderr)
        flagged = [f"{label}: {w}" for label, d in (("baseline", docs[0]), ("other", doc))
                   for w in d["context"].get("conpat", {}).get("warnings", []) if "differ from the preset" in w]
        for w in flagged:
            print(f"compare: not comparable: {w}", file=sys.stderr)
        results.append({"baseline": str(paths[0]), "other": str(path), "paired": False,
                        "comparable": not diff and not flagged, "build_diff": diff, "flag_warnings": flagged,
                        "min_effect_pct": args.min_effect, "fdr": args.fdr,
                        "rows": worst_first(rows),
                        "geomean": family_geomeans(rows), "ranking": ranking_stability(docs[0], doc, 0.01),
                        "context_diff": context_diff(docs[0], doc),
                        "noise": [noise_summary(docs[0]), noise_summary(doc)],
                        "state": [state_summary(docs[0]), state_summary(doc)]})
    if args.format == "json":
        print(json.dumps(results, indent=2))
    else:
        print(render_text(results, args.format == "markdown", args.all, args.fdr))
    if args.fail_on_regression is not None:
        gated = gate_metrics(args.gate_metric)
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
                  "the usual machine state (it moved for most of a run); run the benchmarks again, or compare "
                  "two commits paired with abtest.py", file=sys.stderr)
            return 2
        if off:
            print(f"compare: {len(off)} of {len(rows)} gated rows were not tested: too few samples in the usual "
                  "machine state", file=sys.stderr)
        code, msg = gate(rows, args.fail_on_regression, gated, args.gate_oversubscribed)
        print(msg, file=sys.stderr)
        return code
    return 0


if __name__ == "__main__":
    cr.quiet_pipe()
    sys.exit(main())
