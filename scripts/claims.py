#!/usr/bin/python3
"""Judges the seed article's claims (scripts/claims.json) on one run.

Each claim is measured on each side (C++ threads, C++ fibers, and Go under
each Go release the run holds: Go 1.19, Go 1.23, ...) and every answer
follows from confidence intervals, or a recorded check outcome, by a rule
that can come out either way:

  holds          the interval lies wholly where the claim says
  partly         (ratio and loss claims) the effect is there, wholly below
                 half the claimed size
  does not hold  the interval lies wholly where the claim fails
  inconclusive   the interval straddles a bound, or one sample

A ratio's interval is the median of the per-pass ratios' (both arms are
measured in every pass) where 6 or more passes give a >= 95 % interval,
else the conservative one from the two medians' intervals.
  untestable     the setup decides the figure before anything runs: the
                 zero-overhead model (seed_model.py) gives both arms the same
  invalid        the row's request generator fell behind (started requests
                 late, or reached under 90 % of its rate): it decides nothing
  not measured

The verdict is the answer of the side the claim names as judge (Go: the
article's language; with several Go releases, the newest, the others named
beside it); where that side was not run, the other sides together decide.

A run is anything with .ctx (context.conpat), .machine, .select(family,
**params) and .find({family, impl, params}) -> point with "params" and
"stats" {metric: median_ci} (report.py's Run).

Command line: scripts/claims.py RUN... [--format table|markdown|json]
prints every claim's verdict per run (the report shows the same on its
first screen). Exit codes: 0 done, 2 bad input.
"""
from __future__ import annotations

import argparse
import functools
import json
import re
import sys
from pathlib import Path

import conpat_results as cr
import seed_model

CLAIMS = Path(__file__).resolve().parent / "claims.json"
ANSWERS = ("holds", "partly", "does not hold", "inconclusive", "untestable", "invalid", "not measured")
# Answers that carry no information about the claim: left out when sides are combined.
SILENT = ("not measured", "invalid", "untestable")
INTRO = ("Each claim is tested by an experiment in which the claimed effect can appear and can fail to: the "
         "zero-overhead model of the experiment (scripts/seed_model.py: an ideal channel, the same schedule and "
         "draws) gives its two arms different figures. The article's own setup is shown beside it, marked "
         "*untestable* where the model gives both arms the same figure (the setup decides it, not the channel). "
         "Each answer comes from confidence intervals: a ratio claim *holds* when its interval lies above half the "
         "claimed effect (and above 1.1), is *partly* true when it lies between 1.1 and that, *does not hold* "
         "below 1.1, and is *inconclusive* when it straddles a bound (one sample is never a verdict). A row whose "
         "request generator fell behind is *invalid* and enters no verdict. Sides: C++ threads, C++ fibers, and Go "
         "under each Go release in the run; the verdict is Go's (the newest release's, the article's language).")


def load(path: Path = CLAIMS) -> dict:
    return json.loads(path.read_text())


def hw_n(run) -> int:
    """N in claims.json: the run's hardware threads, at least 2."""
    try:
        return max(2, int(run.ctx.get("hardware_threads") or 2))
    except (TypeError, ValueError):
        return 2


def resolve(params: dict, run) -> dict:
    n = hw_n(run)
    return {k: (n if v == "N" else 2 * n if v == "2N" else v) for k, v in params.items()}


def setup_text(claim: dict, run) -> str:
    """The claim's setup with {N}, {2N} and {param} (a parameter of the
    experiment's measured rows, e.g. {requests}: the profile's sweep; the
    claim's `defaults` where the run has none) filled in."""
    n = hw_n(run)
    text = claim.get("setup", "").replace("{2N}", str(2 * n)).replace("{N}", str(n))
    pts = []
    if "family" in claim:
        sel = claim.get("numerator", {}).get("params") or claim.get("params") or {}
        pts = run.select(claim["family"], **resolve(sel, run)) or run.select(claim["family"])
    values = {**claim.get("defaults", {}), **(pts[0]["params"] if pts else {})}  # defaults: not measured here
    for key, value in values.items():
        if isinstance(value, (int, float)):
            value = f"{value:,}"
        text = text.replace("{" + key + "}", str(value))
    return text


def fmt(v: float, unit: str = "", digits: int = 3) -> str:
    return f"{v:,.0f}{unit}" if abs(v) >= 10 ** digits else f"{v:.{digits}g}{unit}"


def ci(s: dict, unit: str = "", scale: float = 1.0) -> str:
    """'12.3 ns [11.9, 13.0]', or '12.3 ns (n=1, no interval)'."""
    v = fmt(s["median"] * scale, unit)
    if s["lo"] is None:
        return f"{v} (n={s['n']}, no interval)"
    return f"{v} [{fmt(s['lo'] * scale)}, {fmt(s['hi'] * scale)}]"


def point(run, family: str, impl: str, side: dict, params: dict):
    return run.find({"family": family, "impl": impl, "params": {**side["params"], **resolve(params, run)}})


def stat(p, metric: str):
    return None if p is None else p["stats"].get(metric)


def over(p) -> str:
    return " (oversubscribed)" if p and p.get("oversubscribed") else ""


# ---- rules -----------------------------------------------------------------------

def effect_answer(lo, hi, strong: float, fails_below: float) -> str:
    """A claimed effect (a ratio, or a loss) from its interval: holds above
    `strong`, does not hold below `fails_below`, partly wholly between,
    inconclusive across a bound or without an interval."""
    if lo is None or hi is None:
        return "inconclusive"
    strong = max(strong, fails_below)
    if lo > strong:
        return "holds"
    if hi < fails_below:
        return "does not hold"
    if lo > fails_below and hi < strong:
        return "partly"
    return "inconclusive"


def invalid_reason(p, doc: dict) -> str | None:
    """Why a row cannot decide (its generator fell behind), or None."""
    if p is None:
        return None
    v = doc.get("validity", {})
    share, floor = v.get("start_late_share_of_service_p50", 0.1), v.get("min_rate_reached", 0.9)
    late, reached = stat(p, "start_late_p99_ms"), stat(p, "rate_reached")
    p50 = p["params"].get("service_p50_ms")
    reasons = []
    if late and isinstance(p50, (int, float)) and late["median"] > share * p50:
        reasons.append(f"its generator started requests late (start-late P99 {fmt(late['median'], ' ms')} > "
                       f"{fmt(share * p50, ' ms')}, a tenth of the service median)")
    if reached and reached["median"] < floor:
        reasons.append(f"it reached {100 * reached['median']:.0f} % of its asked rate (< {100 * floor:.0f} %)")
    return "; ".join(reasons) or None


# ---- the zero-overhead model -----------------------------------------------------

MODEL_DEFAULTS = {"requests": 10000, "burst": 2000, "qps": 5000, "service_p50_ms": 20, "service_p99_ms": 80,
                  "consume_us": 80, "stall_every_ms": 0, "stall_ms": 0}


@functools.lru_cache(maxsize=256)
def _model(family: str, items: tuple) -> dict:
    p = {**MODEL_DEFAULTS, **dict(items)}
    kw = {"requests": int(p["requests"]), "p50_ms": float(p["service_p50_ms"]), "p99_ms": float(p["service_p99_ms"]),
          "consume_us": float(p["consume_us"]), "stall_every_ms": float(p["stall_every_ms"]),
          "stall_ms": float(p["stall_ms"])}
    if family == "seed.closed_fan_in":
        return seed_model.closed_loop(int(p["cap"]), workers=int(p.get("workers", 60)), **kw)
    return seed_model.open_loop(int(p["cap"]), qps=float(p["qps"]), burst=int(p["burst"]), **kw)


def model_of(family: str, params: dict) -> dict | None:
    """The model's figures for one arm of a fan-in experiment, or None (no model for the family)."""
    if family not in ("seed.buffered_fan_in", "seed.closed_fan_in"):
        return None
    keep = {k: v for k, v in params.items() if k not in ("runner", "runtime")}
    return _model(family, tuple(sorted(keep.items())))


def arm_params(run, claim: dict, role: str) -> dict:
    """An arm's full parameters: a measured row's where the run has one, else
    the claim's defaults and the arm's own."""
    sel = resolve(claim[role]["params"], run)
    pts = run.select(claim["family"], **sel)
    return dict(pts[0]["params"]) if pts else {**claim.get("defaults", {}), **sel}


def model_ratio(run, claim: dict):
    """(ratio, text) of the model for a ratio claim, or (None, "") without a model."""
    metric = claim["metric"]
    a = model_of(claim["family"], arm_params(run, claim, "numerator"))
    b = model_of(claim["family"], arm_params(run, claim, "denominator"))
    if a is None or b is None or metric not in a or not b[metric]:
        return None, ""
    r = a[metric] / b[metric]
    unit = claim.get("unit", "")
    return r, (f"ideal channel (seed_model.py): {claim['numerator']['label']} {fmt(a[metric], unit)}, "
               f"{claim['denominator']['label']} {fmt(b[metric], unit)}, {r:.2f}x")


# ---- arms measured in the same pass -----------------------------------------------

def per_pass(run, p, metric: str, usual_only: bool) -> dict:
    """{pass: value} of a point's samples (only those in the usual machine
    state with usual_only), from a run with its results document (report.py's
    Run; {} otherwise)."""
    doc = getattr(run, "doc", None)
    if p is None or not isinstance(doc, dict):
        return {}
    want = {k: str(v) for k, v in p["params"].items()}
    out = {}
    for b in cr.iterations(doc):
        if (b.get("family") == p["family"] and b.get("impl") == p["impl"] and "pass" in b
                and not (usual_only and b.get("state_shift")) and isinstance(b.get(metric), (int, float))
                and {k: str(v) for k, v in b.get("params", {}).items()} == want):
            out.setdefault(b["pass"], float(b[metric]))
    return out


def paired_ratio(run, pn, pd, metric: str):
    """The median of the per-pass ratios num / den, with its interval, over
    the passes in which both arms have a sample in the usual machine state
    (every pass where fewer than 3 such exist, as the medians do):
    (stats, pairs), or (None, pairs) with fewer than 3 pairs."""
    for usual_only in (True, False):
        a, b = per_pass(run, pn, metric, usual_only), per_pass(run, pd, metric, usual_only)
        ratios = [a[k] / b[k] for k in sorted(set(a) & set(b)) if b[k] > 0]
        if len(ratios) >= 3:
            return cr.median_ci(ratios), len(ratios)
    return None, len(ratios)


# ---- one side of one claim: (answer, text) --------------------------------------

def side_ratio(run, claim, side, impl, doc):
    fam, metric, unit = claim["family"], claim["metric"], claim.get("unit", "")
    num, den = claim["numerator"], claim["denominator"]
    mr, mtext = model_ratio(run, claim)
    if mr is not None and 1 / 1.05 <= mr <= 1.05:
        return "untestable", (f"untestable as stated: both arms run at the pace the schedule and the consumer set; "
                              f"{mtext}")
    pn, pd = point(run, fam, impl, side, num["params"]), point(run, fam, impl, side, den["params"])
    sn, sd = stat(pn, metric), stat(pd, metric)
    if not sn or not sd:
        return "not measured", "not measured in this run"
    bad = [f"{role['label']}: {r}" for role, r in ((num, invalid_reason(pn, doc)), (den, invalid_reason(pd, doc))) if r]
    lo, hi = cr.ratio_ci(sn, sd)
    interval = f" [{lo:.2f}, {hi:.2f}]" if lo is not None else " (no interval: 1 sample)"
    text = (f"{num['label']} {ci(sn, unit)}{over(pn)}, {den['label']} {ci(sd, unit)}{over(pd)}: "
            f"{sn['median'] / sd['median']:.2f}x{interval}, n={sn['n']}/{sd['n']}")
    paired, pairs = paired_ratio(run, pn, pd, metric)
    if paired is not None and paired["lo"] is not None:
        # Both arms in the same pass share the machine's state: with 6 pairs
        # or more (a >= 95 % interval) the per-pass ratios' interval decides;
        # with fewer, the conservative unpaired one above does.
        decides = paired["coverage"] >= 0.95
        if decides:
            lo, hi = paired["lo"], paired["hi"]
        text += (f"; paired by pass: {paired['median']:.2f}x [{paired['lo']:.2f}, {paired['hi']:.2f}] over {pairs} "
                 f"passes ({100 * paired['coverage']:.1f} % interval{'' if decides else ', under 95 %: not used'})")
    also = claim.get("also_metric")
    if also and stat(pn, also) and stat(pd, also):
        text += f"; {also}: {ci(stat(pn, also))} vs {ci(stat(pd, also))}"
    if mtext:
        text += f"; {mtext}"
    if bad:
        return "invalid", "invalid, not judged: " + "; ".join(bad) + "; " + text
    rule = doc.get("ratio_rule", {})
    fails = rule.get("does_not_hold_below", 1.1)
    answer = effect_answer(lo, hi, rule.get("holds_above_share_of_claim", 0.5) * claim.get("seed_value", 0), fails)
    return answer, text


def range_answer(s: dict, lo_bound, hi_bound) -> str:
    """Is the median inside [lo_bound, hi_bound] (None: open)? From its interval."""
    if s["lo"] is None:
        return "inconclusive"
    inside_all = (lo_bound is None or s["lo"] >= lo_bound) and (hi_bound is None or s["hi"] <= hi_bound)
    outside_all = (lo_bound is not None and s["hi"] < lo_bound) or (hi_bound is not None and s["lo"] > hi_bound)
    return "holds" if inside_all else ("does not hold" if outside_all else "inconclusive")


def combine(answers: list[str]) -> str:
    """One answer from several parts that must all hold."""
    if not answers or "not measured" in answers:
        return "not measured"
    for a in ("invalid", "untestable", "does not hold"):
        if a in answers:
            return a
    if all(a == "holds" for a in answers):
        return "holds"
    return "partly" if all(a in ("holds", "partly") for a in answers) else "inconclusive"


def range_text(lo, hi) -> str:
    return f">= {lo}" if hi is None else f"<= {hi}" if lo is None else f"{lo}-{hi}"


def side_pair(run, claim, side, impls, doc):
    answers, parts = [], []
    for role in ("first", "second"):
        sel = claim[role]
        p = point(run, claim["family"], impls[role], side, claim.get("params", {}))
        s = stat(p, claim["metric"])
        if not s:
            return "not measured", "not measured in this run"
        lo, hi = sel["range"]
        answers.append(range_answer(s, lo, hi))
        parts.append(f"{sel['label']} {ci(s, ' ns')}{over(p)} (claimed {range_text(lo, hi)} ns)")
    return combine(answers), "; ".join(parts)


def diff_ci(a: dict, b: dict):
    """A conservative interval for median(a) - median(b) from the two medians' intervals."""
    if a["lo"] is None or b["lo"] is None:
        return None, None
    return a["lo"] - b["hi"], a["hi"] - b["lo"]


def side_rate_rule(run, claim, side, impls, doc):
    """The decision rule as a number: the rate at which the difference in
    time per write between the two strategies reaches `matters_share` of a
    writer's time per write (1 / rate). From the difference's interval d at
    each valid rate, the crossing rate is share x 1e9 / d; the estimate is the
    one at the highest valid rate (the largest, best-resolved difference) and
    both halves are checked at every rate: below the threshold the difference
    stays under the share, at and above it exceeds it."""
    fam, metric, params = claim["family"], claim["metric"], claim.get("params", {})
    share, threshold = claim.get("matters_share", 0.01), claim["threshold"]
    tol = claim.get("tolerance_factor", 10 ** 0.5)
    floor = doc.get("validity", {}).get("min_rate_reached", 0.9)
    pref, other = impls["preferred"], impls["other"]
    rows, invalid = [], []
    for rate in sorted({int(p["params"]["rate"]) for p in run.select(fam) if "rate" in p["params"]}):
        at = {**params, "rate": rate}
        pts = {role: point(run, fam, impls[role], side, at) for role in ("preferred", "other", "baseline")}
        s = {role: stat(p, metric) for role, p in pts.items()}
        if not (s["preferred"] and s["other"]):
            continue
        reached = [stat(pts[r], "rate_reached") for r in ("preferred", "other")]
        if any(x and x["median"] < floor for x in reached):
            invalid.append(rate)
            continue
        rows.append((rate, s))
    if not rows:
        return "not measured", ("not measured in this run" if not invalid else
                                f"every rate invalid (under {100 * floor:.0f} % of the asked rate): {invalid}")
    parts = []
    for rate, s in rows:
        r = s["preferred"]["median"] / s["other"]["median"]
        lo, hi = cr.ratio_ci(s["preferred"], s["other"])
        line = f"{rate:,}/s: {pref}/{other} {r:.2f}x" + (f" [{lo:.2f}, {hi:.2f}]" if lo is not None else "")
        if s["baseline"]:
            base = s["baseline"]["median"]
            line += (f", overhead over {impls['baseline']} {s['preferred']['median'] - base:+.0f} / "
                     f"{s['other']['median'] - base:+.0f} ns")
        parts.append(line)
    if invalid:
        parts.append(f"invalid (under {100 * floor:.0f} % of the asked rate), not judged: "
                     + ", ".join(f"{r:,}/s" for r in invalid))
    # The crossing rate, from the highest valid rate's difference.
    rate, s = rows[-1]
    dlo, dhi = diff_ci(s["preferred"], s["other"])
    if dlo is None:
        return "inconclusive", "; ".join(parts) + "; no interval (one sample): no crossing rate"
    dabs_lo = 0.0 if dlo <= 0 <= dhi else min(abs(dlo), abs(dhi))
    dabs_hi = max(abs(dlo), abs(dhi))
    cross_lo = share * 1e9 / dabs_hi if dabs_hi > 0 else float("inf")
    cross_hi = share * 1e9 / dabs_lo if dabs_lo > 0 else float("inf")
    cross = share * 1e9 / abs(s["preferred"]["median"] - s["other"]["median"]) \
        if s["preferred"]["median"] != s["other"]["median"] else float("inf")
    band = (threshold / tol, threshold * tol)
    if band[0] <= cross_lo and cross_hi <= band[1]:
        answer = "holds"
    elif cross_hi < band[0] or cross_lo > band[1]:
        answer = "does not hold"
    else:
        answer = "inconclusive"
    # Both halves, rate by rate: the difference's interval against share x (1 / rate).
    below, above = [], []
    for r, sr in rows:
        d = diff_ci(sr["preferred"], sr["other"])
        if d[0] is None:
            continue
        budget = share * 1e9 / r
        small = max(abs(d[0]), abs(d[1])) < budget
        large = (d[0] > 0 or d[1] < 0) and min(abs(d[0]), abs(d[1])) > budget
        (below if r < threshold else above).append((r, small, large))
    halves = (f"below {threshold:,}/s the difference stays under {100 * share:g} % of a writer's time at "
              f"{sum(1 for _, sm, _ in below if sm)}/{len(below)} rates; at and above it exceeds it at "
              f"{sum(1 for _, _, lg in above if lg)}/{len(above)}")

    def rate_fmt(x):
        return "never" if x == float("inf") else f"{x:,.0f}/s"
    where = (f"the choice starts to matter (difference > {100 * share:g} % of a writer's time per write) at "
             f"{rate_fmt(cross)} [{rate_fmt(cross_lo)}, {rate_fmt(cross_hi)}] (from the difference at {rate:,}/s; "
             f"claimed {threshold:,}/s, accepted {band[0]:,.0f}-{band[1]:,.0f}/s)")
    return answer, "; ".join(parts) + "; " + where + "; " + halves


def side_metric(run, claim, side, impl, doc):
    p = point(run, claim["family"], impl, side, claim.get("params", {}))
    s = stat(p, claim["metric"])
    if not s:
        return "not measured", "not measured in this run"
    above = claim.get("holds_if", {}).get("above")
    if "not_below" in claim:  # holds above `above`, does not hold below not_below, partly between
        answer = effect_answer(s["lo"], s["hi"], above, claim["not_below"])
    else:
        answer = cr.three_way(s["lo"], s["hi"], above=above, below=claim.get("holds_if", {}).get("below"))
    scale, unit = (100.0, " %") if claim.get("percent") else (1.0, "")
    return answer, f"{claim['label']} {ci(s, unit, scale)}{over(p)}, n={s['n']} ({claim.get('seed_note', '')})"


def checks_of(run, side: dict) -> dict:
    """The recorded checks a side sees: a Go release's own where the run keeps them per release."""
    rt = side.get("runtime")
    per = (run.ctx.get("go_runtimes") or {}).get(rt) if rt else None
    return (per or {}).get("checks") or run.ctx.get("checks") or {}


def side_check(run, claim, names: dict, side: dict):
    checks = checks_of(run, side)
    optional = set(claim.get("optional_checks", []))
    answers, parts = [], []
    for name, expected in names.items():
        c = checks.get(name)
        if not isinstance(c, dict) or "outcome" not in c:
            if name in optional:
                continue
            return "not measured", f"check {name} not recorded in this run"
        answers.append("holds" if c["outcome"] == expected else "does not hold")
        parts.append(f"{name}: {c.get('detail', c['outcome'])}")
    return combine(answers), "; ".join(parts)


def judge_side(run, claim, side_id: str, sides: dict, doc: dict | None = None):
    doc = doc if doc is not None else load()
    side = sides[side_id]
    base = side.get("base", side_id)
    kind = claim["kind"]
    if kind == "check":
        return side_check(run, claim, claim["checks"][base], side)
    impl = claim["impls"][base]
    if kind == "ratio":
        return side_ratio(run, claim, side, impl, doc)
    if kind == "pair":
        return side_pair(run, claim, side, impl, doc)
    if kind == "rate_rule":
        return side_rate_rule(run, claim, side, impl, doc)
    if kind == "metric":
        return side_metric(run, claim, side, impl, doc)
    raise ValueError(f"claim {claim.get('id')}: unknown kind {kind!r}")


def release_key(rt: str):
    return tuple(int(x) for x in re.findall(r"\d+", rt)) or (0,)


def go_releases(run) -> list[str]:
    """The Go releases a run holds (rows' runtime param, context's go_runtimes), oldest first."""
    found = {p["params"]["runtime"] for p in getattr(run, "points", [])
             if p["params"].get("runner") == "goroutine" and p["params"].get("runtime")}
    found |= set(run.ctx.get("go_runtimes") or {})
    return sorted(found, key=release_key)


def sides_of(run, doc: dict) -> dict:
    """claims.json's sides, a per_runtime side expanded into one per Go
    release in the run ("go@go1.19", label "Go 1.19"); unchanged for a run
    without runtime params (a single, unnamed Go)."""
    out = {}
    for sid, side in doc["sides"].items():
        releases = go_releases(run) if side.get("per_runtime") else []
        if not releases:
            out[sid] = {**side, "base": sid}
            continue
        for rt in releases:
            out[f"{sid}@{rt}"] = {**side, "base": sid, "runtime": rt, "label": f"{side['label']} {rt[2:]}",
                                  "params": {**side["params"], "runtime": rt}}
    return out


def evaluate(run, claim: dict, sides: dict | None = None, doc: dict | None = None) -> dict:
    """{"verdict": answer, "by": which side(s) decided, "sides": [(side id, label, lang, answer, text)]}."""
    doc = doc if doc is not None else load()
    all_sides = sides_of(run, {**doc, "sides": sides} if sides is not None else doc)
    bases = list(claim["checks"] if claim["kind"] == "check" else claim["impls"])
    ids = [sid for sid, s in all_sides.items() if s["base"] in bases]
    results = [(sid, all_sides[sid]["label"], all_sides[sid]["lang"], *judge_side(run, claim, sid, all_sides, doc))
               for sid in ids]
    judge = claim.get("judge")
    judged = [r for r in results if all_sides[r[0]]["base"] == judge and r[3] not in SILENT]
    if judged:
        newest = judged[-1]  # sides of one base are listed oldest release first
        others = [f"{r[1]}: {r[3]}" for r in judged[:-1] if r[3] != newest[3]]
        return {"verdict": newest[3], "by": newest[1] + (f"; {', '.join(others)}" if others else ""),
                "sides": results}
    measured = [r for r in results if r[3] not in SILENT]
    if not measured:
        for a in ("untestable", "invalid"):
            if any(r[3] == a for r in results):
                return {"verdict": a, "by": "", "sides": results}
        return {"verdict": "not measured", "by": "", "sides": results}
    return {"verdict": combine([r[3] for r in measured]), "by": " and ".join(r[1] for r in measured), "sides": results}


def as_stated_claim(claim: dict) -> dict | None:
    """The claim on the article's own setup (claims.json `as_stated`), or None."""
    a = claim.get("as_stated")
    if not a:
        return None
    c = {k: v for k, v in claim.items() if k != "as_stated"}
    c.update(family=a["family"], metric=a.get("metric", claim["metric"]), experiment=f"{a['family']} (the article's setup)",
             setup=a["label"], also_metric=None,
             numerator={**claim["numerator"], "params": a["numerator"]},
             denominator={**claim["denominator"], "params": a["denominator"]},
             defaults={**MODEL_DEFAULTS, **a.get("defaults", {})})
    c["rule"] = "untestable where the zero-overhead model gives both arms the same figure"
    return c


def table(runs: list) -> list[dict]:
    """One row per claim and run (and one more per claim with an `as_stated`
    setup: "as_stated": True): claim, experiment, setup, rule, machine, C++
    and Go answers with their figures (lists of lines), verdict and its side."""
    doc = load()
    rows = []
    for c in doc["claims"]:
        variants = [(c, False)] + ([(as_stated_claim(c), True)] if c.get("as_stated") else [])
        for claim, stated in variants:
            for run in runs:
                ev = evaluate(run, claim, doc=doc)
                lang = {"C++": [], "Go": []}
                for _, label, lg, answer, text in ev["sides"]:
                    lang.setdefault(lg, []).append(f"{label}: {answer}: {text}" if len(
                        [s for s in ev["sides"] if s[2] == lg]) > 1 else f"{answer}: {text}")
                rows.append({"id": c["id"] + (".as_stated" if stated else ""),
                             "claim": c["claim"] + (" — the article's setup as stated" if stated else ""),
                             "experiment": claim.get("experiment", ""), "setup": setup_text(claim, run),
                             "rule": claim.get("rule", ""), "machine": run.machine,
                             "cpp": lang["C++"] or ["not measured"], "go": lang["Go"] or ["not measured"],
                             "verdict": ev["verdict"], "by": ev["by"], "as_stated": stated})
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                epilog="Verdicts: " + ", ".join(ANSWERS) + ". Exit codes: 0 done, 2 bad input.")
    p.add_argument("runs", nargs="+", help="results files (.json or .json.gz) or directories (their newest file)")
    p.add_argument("--format", choices=("table", "markdown", "json"), default="table",
                   help="output format (default: a terminal table)")
    args = p.parse_args(argv)
    import report  # report.Run aggregates a run the way the report judges it

    try:
        runs = [report.Run(path, cr.load(path)) for path in cr.resolve_inputs(args.runs)]
    except cr.ResultsError as e:
        print(f"claims: {e}", file=sys.stderr)
        return 2
    report.unique_labels(runs)
    rows = table(runs)
    if args.format == "json":
        print(json.dumps(rows, indent=2))
        return 0
    head = ["claim", "machine", "verdict", "by"]
    body = [[r["id"], r["machine"], r["verdict"], r["by"] or ""] for r in rows]
    if args.format == "markdown":
        print("| " + " | ".join(head) + " |\n|" + "---|" * len(head))
        print("\n".join("| " + " | ".join(map(str, b)) + " |" for b in body))
    else:
        widths = [max(len(str(x)) for x in col) for col in zip(head, *body)]
        for line in [head] + body:
            print("  ".join(str(x).ljust(w) for x, w in zip(line, widths)).rstrip())
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    cr.quiet_pipe()
    sys.exit(main())
