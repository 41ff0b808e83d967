#!/usr/bin/python3
"""Compare conpat runs: what changed between two runs, or how machines differ.

The first run is the baseline; every later run is compared with it.
Benchmarks are matched by family, impl and params (never by raw name).
For each metric the ratio later/baseline is reported; where both sides have
>= 2 repetitions a two-sided Mann-Whitney U test decides significance, as
google/benchmark's compare.py does, and a change counts only when it is both
significant (p < --alpha) and at least --min-effect percent.

Exit codes: 0 done; 1 --fail-on-regression tripped; 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import conpat_results as cr  # noqa: E402

CONTEXT_FIELDS = ("machine", "cpu_model", "hardware_threads", "physical_cores", "smt", "kernel", "governor",
                  "compiler", "cxx_flags", "build_type", "profile", "git_commit", "git_dirty")


def mann_whitney(a: list, b: list) -> float | None:
    if len(a) < 2 or len(b) < 2:
        return None
    from scipy.stats import mannwhitneyu  # Debian: python3-scipy

    if len(set(a) | set(b)) == 1:
        return 1.0
    return float(mannwhitneyu(a, b, alternative="two-sided").pvalue)


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
            ratio = vb / va
            # change > 0 means better, < 0 worse, in percent
            better = (1 / ratio - 1) if metric in cr.LOWER_IS_BETTER else (ratio - 1)
            p = mann_whitney(ma[metric], mb[metric])
            large = abs(better) * 100 >= min_effect
            significant = large and p is not None and p < alpha
            rows.append({"benchmark": cr.key_label(key), "family": key[0], "impl": key[1],
                         "params": dict(key[2]), "metric": metric, "baseline": va, "value": vb,
                         "ratio": ratio, "change_pct": better * 100, "p_value": p,
                         "repetitions": [len(ma[metric]), len(mb[metric])],
                         "significant": bool(significant),
                         "verdict": ("better" if better > 0 else "worse") if significant else
                                    ("noise" if p is not None else "no test (1 repetition)"),
                         "oversubscribed": sa[key]["oversubscribed"] or sb[key]["oversubscribed"]})
    return rows


def family_geomeans(rows: list) -> dict:
    """Geometric mean of the time ratio (other/baseline) per family."""
    logs: dict = {}
    for r in rows:
        if r["metric"] == "time_ns":
            logs.setdefault(r["family"], []).append(math.log(r["ratio"]))
    return {f: math.exp(sum(v) / len(v)) for f, v in sorted(logs.items())}


def ranking_stability(base: dict, other: dict) -> list[dict]:
    """Per family and parameter set: is the fastest implementation the same on both?"""
    def fastest(doc):
        best: dict = {}
        for key, rec in cr.samples(doc).items():
            if "items_per_second" not in rec["metrics"]:
                continue
            group = (key[0], key[2])
            v = cr.median(rec["metrics"]["items_per_second"])
            if group not in best or v > best[group][1]:
                best[group] = (key[1], v)
        return best
    fa, fb = fastest(base), fastest(other)
    out = []
    for group in sorted(set(fa) & set(fb)):
        out.append({"family": group[0], "params": dict(group[1]), "fastest_baseline": fa[group][0],
                    "fastest_other": fb[group][0], "same": fa[group][0] == fb[group][0]})
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

    def noise(c):
        return {r["family"]: (r.get("steal_pct"), r.get("other_cpu_pct")) for r in c.get("families", [])}
    na, nb = noise(ca), noise(cb)
    for fam in sorted(set(na) | set(nb)):
        if na.get(fam) != nb.get(fam):
            diffs.append((f"noise.{fam} (steal %, other CPU %)", na.get(fam), nb.get(fam)))
    return diffs


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


def render_text(results: list, markdown: bool, show_all: bool) -> str:
    out = []
    h = (lambda s: f"## {s}") if markdown else (lambda s: f"== {s}")
    for res in results:
        out.append(h(f"{res['other']} vs baseline {res['baseline']}"))
        if res["context_diff"]:
            out.append(table(["field", "baseline", "other"], [list(d) for d in res["context_diff"]], markdown))
        else:
            out.append("(same machine, build and libraries)")
        rows = [r for r in res["rows"] if show_all or r["significant"] or r["metric"] == "time_ns"]
        out.append("")
        out.append(table(["benchmark", "metric", "baseline", "other", "ratio", "change %", "p", "verdict"],
                         [[r["benchmark"] + (" [oversubscribed]" if r["oversubscribed"] else ""), r["metric"],
                           r["baseline"], r["value"], r["ratio"], r["change_pct"], r["p_value"], r["verdict"]]
                          for r in rows], markdown))
        out.append("")
        out.append(table(["family", "geomean time ratio (other/baseline)"],
                         [[f, g] for f, g in res["geomean"].items()], markdown))
        changed = [r for r in res["ranking"] if not r["same"]]
        out.append("")
        out.append(f"ranking: the fastest implementation is the same in {len(res['ranking']) - len(changed)} of "
                   f"{len(res['ranking'])} comparable groups")
        if changed:
            out.append(table(["family", "params", "fastest on baseline", "fastest on other"],
                             [[r["family"], json.dumps(r["params"]), r["fastest_baseline"], r["fastest_other"]]
                              for r in changed], markdown))
        out.append("")
    return "\n".join(out)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                epilog="A directory stands for the newest results file under it.")
    p.add_argument("runs", nargs="+", help="two or more results files or directories; the first is the baseline")
    p.add_argument("--format", choices=("table", "markdown", "json"), default="table",
                   help="output format (default: a terminal table)")
    p.add_argument("--alpha", type=float, default=0.05, help="significance level of the U test (default 0.05)")
    p.add_argument("--min-effect", type=float, default=5.0,
                   help="smallest change, in percent, that counts as a difference (default 5)")
    p.add_argument("--fail-on-regression", type=float, metavar="PCT",
                   help="exit 1 if any significant regression is larger than PCT percent (for CI gates)")
    p.add_argument("--all", action="store_true", help="show every metric, not only time and significant changes")
    args = p.parse_args()
    if len(args.runs) < 2:
        p.error("give at least two runs (files or directories)")
    try:
        paths = cr.resolve_inputs(args.runs)
        docs = []
        for path in paths:
            doc = cr.load(path)
            if "conpat" in doc.get("context", {}):
                cr.validate(doc, path)
            docs.append(doc)
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
                        "geomean": family_geomeans(rows), "ranking": ranking_stability(docs[0], doc),
                        "context_diff": context_diff(docs[0], doc)})
    if args.format == "json":
        print(json.dumps(results, indent=2))
    else:
        print(render_text(results, args.format == "markdown", args.all))
    if args.fail_on_regression is not None:
        worst = [r for res in results for r in res["rows"]
                 if r["significant"] and r["change_pct"] < -args.fail_on_regression]
        if worst:
            w = min(worst, key=lambda r: r["change_pct"])
            print(f"compare: {len(worst)} significant regression(s) beyond {args.fail_on_regression}%; worst: "
                  f"{w['benchmark']} {w['metric']} {w['change_pct']:.1f}%", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
