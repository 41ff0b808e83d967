"""Judges the seed article's claims (scripts/claims.json) on one run.

Each claim is measured on each side (C++ threads, C++ fibers, Go) and every
answer follows from confidence intervals, or a recorded check outcome, by a
rule that can come out either way: "holds", "does not hold",
"inconclusive" (the interval straddles the rule, or one sample), or "not
measured". The verdict is the answer of the side the claim names as judge
(Go: the article's language); where that side was not run, the other sides
together decide.

A run is anything with .ctx (context.conpat) and .find({family, impl,
params}) -> point with "stats" {metric: median_ci} (report.py's Run).
"""
from __future__ import annotations

import json
from pathlib import Path

import conpat_results as cr

CLAIMS = Path(__file__).resolve().parent / "claims.json"
ANSWERS = ("holds", "does not hold", "inconclusive", "not measured")


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
    family's measured rows, e.g. {requests}: the profile's sweep; the
    claim's `defaults` where the run has none) filled in."""
    n = hw_n(run)
    text = claim.get("setup", "").replace("{2N}", str(2 * n)).replace("{N}", str(n))
    pts = run.select(claim["family"]) if "family" in claim else []
    values = {**claim.get("defaults", {}), **(pts[0]["params"] if pts else {})}  # defaults: not measured here
    for key, value in values.items():
        if isinstance(value, (int, float)):
            value = f"{value:,}"
        text = text.replace("{" + key + "}", str(value))
    return text


def rule_of(claim: dict) -> dict:
    rule = claim.get("holds_if")
    if not isinstance(rule, dict) or not ({"above", "below"} & set(rule)):
        raise ValueError(f"claim {claim.get('id')}: holds_if must be {{'above': x}} or {{'below': x}}")
    return rule


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


# ---- one side of one claim: (answer, text) --------------------------------------

def side_ratio(run, claim, side, impl):
    fam, metric, unit = claim["family"], claim["metric"], claim.get("unit", "")
    num, den = claim["numerator"], claim["denominator"]
    pn, pd = point(run, fam, impl, side, num["params"]), point(run, fam, impl, side, den["params"])
    sn, sd = stat(pn, metric), stat(pd, metric)
    if not sn or not sd:
        return "not measured", "not measured in this run"
    rule = rule_of(claim)
    lo, hi = cr.ratio_ci(sn, sd)
    answer = cr.three_way(lo, hi, above=rule.get("above"), below=rule.get("below"))
    interval = f" [{lo:.2f}, {hi:.2f}]" if lo is not None else " (no interval: 1 sample)"
    text = (f"{num['label']} {ci(sn, unit)}{over(pn)}, {den['label']} {ci(sd, unit)}{over(pd)}: "
            f"{sn['median'] / sd['median']:.2f}x{interval}, n={sn['n']}/{sd['n']}")
    also = claim.get("also_metric")
    if also and stat(pn, also) and stat(pd, also):
        text += f"; {also}: {ci(stat(pn, also))} vs {ci(stat(pd, also))}"
    return answer, text


def range_answer(s: dict, lo_bound, hi_bound) -> str:
    """Is the median inside [lo_bound, hi_bound] (None: open)? From its interval."""
    if s["lo"] is None:
        return "inconclusive"
    inside_all = (lo_bound is None or s["lo"] >= lo_bound) and (hi_bound is None or s["hi"] <= hi_bound)
    outside_all = (lo_bound is not None and s["hi"] < lo_bound) or (hi_bound is not None and s["lo"] > hi_bound)
    return "holds" if inside_all else ("does not hold" if outside_all else "inconclusive")


def combine(answers: list[str]) -> str:
    if not answers or "not measured" in answers:
        return "not measured"
    if "does not hold" in answers:
        return "does not hold"
    return "holds" if all(a == "holds" for a in answers) else "inconclusive"


def side_pair(run, claim, side, impls):
    answers, parts = [], []
    for role in ("first", "second"):
        sel = claim[role]
        p = point(run, claim["family"], impls[role], side, claim.get("params", {}))
        s = stat(p, claim["metric"])
        if not s:
            return "not measured", "not measured in this run"
        lo, hi = sel["range"]
        answers.append(range_answer(s, lo, hi))
        claimed = f">= {lo}" if hi is None else f"{lo}-{hi}"
        parts.append(f"{sel['label']} {ci(s, ' ns')}{over(p)} (claimed {claimed} ns)")
    return combine(answers), "; ".join(parts)


def diff_ci(a: dict, b: dict):
    """A conservative interval for median(a) - median(b) from the two medians' intervals."""
    if a["lo"] is None or b["lo"] is None:
        return None, None
    return a["lo"] - b["hi"], a["hi"] - b["lo"]


def side_rate_rule(run, claim, side, impls):
    """At every rate >= threshold the preferred strategy costs no more per
    write than the other (ratio < 1). Also: each one's overhead over the
    shares-nothing baseline, and the lowest rate at which the choice
    matters — their difference above `matters_share` of a writer's time per
    write (1 / rate) over its whole interval."""
    fam, metric, params = claim["family"], claim["metric"], claim.get("params", {})
    rows = []
    for rate in sorted({int(p["params"]["rate"]) for p in run.select(fam) if "rate" in p["params"]}):
        at = {**params, "rate": rate}
        s = {role: stat(point(run, fam, impls[role], side, at), metric) for role in ("preferred", "other", "baseline")}
        if s["preferred"] and s["other"]:
            rows.append((rate, s))
    if not rows:
        return "not measured", "not measured in this run"
    answers, parts = [], []
    for rate, s in rows:
        if rate < claim["threshold"]:
            continue
        lo, hi = cr.ratio_ci(s["preferred"], s["other"])
        answers.append(cr.three_way(lo, hi, below=1.0))
    if not answers:
        return "not measured", f"no rate at or above {claim['threshold']:,}/s measured"
    pref, other = impls["preferred"], impls["other"]
    for rate, s in rows:
        r = s["preferred"]["median"] / s["other"]["median"]
        lo, hi = cr.ratio_ci(s["preferred"], s["other"])
        line = f"{rate:,}/s: {pref}/{other} {r:.2f}x" + (f" [{lo:.2f}, {hi:.2f}]" if lo is not None else "")
        if s["baseline"]:
            base = s["baseline"]["median"]
            line += (f", overhead over {impls['baseline']} {s['preferred']['median'] - base:+.0f} / "
                     f"{s['other']['median'] - base:+.0f} ns")
        parts.append(line)
    share = claim.get("matters_share", 0.01)
    matters = None
    for k, (rate, s) in enumerate(rows):
        d = diff_ci(s["preferred"], s["other"])
        if d[0] is None:
            continue
        low = min(abs(d[0]), abs(d[1])) if (d[0] > 0) == (d[1] > 0) else 0.0
        if low * rate / 1e9 > share:
            matters = (rows[k - 1][0] if k else None, rate)
            break
    if matters is None:
        where = f"at no measured rate does the difference exceed {100 * share:g} % of a writer's time per write"
    elif matters[0] is None:
        where = f"the choice matters (difference > {100 * share:g} % of a writer's time) from the lowest rate, {matters[1]:,}/s"
    else:
        where = (f"the choice starts to matter (difference > {100 * share:g} % of a writer's time per write) "
                 f"between {matters[0]:,} and {matters[1]:,} writes/s")
    return combine(answers), "; ".join(parts) + "; " + where


def side_metric(run, claim, side, impl):
    p = point(run, claim["family"], impl, side, claim.get("params", {}))
    s = stat(p, claim["metric"])
    if not s:
        return "not measured", "not measured in this run"
    rule = rule_of(claim)
    answer = cr.three_way(s["lo"], s["hi"], above=rule.get("above"), below=rule.get("below"))
    scale, unit = (100.0, " %") if claim.get("percent") else (1.0, "")
    return answer, f"{claim['label']} {ci(s, unit, scale)}{over(p)}, n={s['n']} ({claim.get('seed_note', '')})"


def side_check(run, claim, names: dict):
    checks = run.ctx.get("checks") or {}
    answers, parts = [], []
    for name, expected in names.items():
        c = checks.get(name)
        if not isinstance(c, dict) or "outcome" not in c:
            return "not measured", f"check {name} not recorded in this run"
        answers.append("holds" if c["outcome"] == expected else "does not hold")
        parts.append(f"{name}: {c.get('detail', c['outcome'])}")
    return combine(answers), "; ".join(parts)


def judge_side(run, claim, side_id: str, sides: dict):
    kind, side = claim["kind"], sides[side_id]
    if kind == "check":
        return side_check(run, claim, claim["checks"][side_id])
    impl = claim["impls"][side_id]
    if kind == "ratio":
        return side_ratio(run, claim, side, impl)
    if kind == "pair":
        return side_pair(run, claim, side, impl)
    if kind == "rate_rule":
        return side_rate_rule(run, claim, side, impl)
    if kind == "metric":
        return side_metric(run, claim, side, impl)
    raise ValueError(f"claim {claim.get('id')}: unknown kind {kind!r}")


def evaluate(run, claim: dict, sides: dict) -> dict:
    """{"verdict": answer, "by": which side(s) decided, "sides": [(side id, label, lang, answer, text)]}."""
    ids = list(claim["checks"] if claim["kind"] == "check" else claim["impls"])
    results = [(sid, sides[sid]["label"], sides[sid]["lang"], *judge_side(run, claim, sid, sides)) for sid in ids]
    judge = claim.get("judge")
    by_id = {r[0]: r for r in results}
    if judge in by_id and by_id[judge][3] != "not measured":
        return {"verdict": by_id[judge][3], "by": by_id[judge][1], "sides": results}
    measured = [r for r in results if r[3] != "not measured"]
    if not measured:
        return {"verdict": "not measured", "by": "", "sides": results}
    return {"verdict": combine([r[3] for r in measured]), "by": " and ".join(r[1] for r in measured), "sides": results}


def table(runs: list) -> list[dict]:
    """One row per claim and run: claim, experiment, setup, machine, C++ and
    Go answers with their figures (lists of lines), verdict and its side."""
    doc = load()
    rows = []
    for c in doc["claims"]:
        for run in runs:
            ev = evaluate(run, c, doc["sides"])
            lang = {"C++": [], "Go": []}
            for _, label, lg, answer, text in ev["sides"]:
                lang.setdefault(lg, []).append(f"{label}: {answer}: {text}" if len(
                    [s for s in ev["sides"] if s[2] == lg]) > 1 else f"{answer}: {text}")
            rows.append({"id": c["id"], "claim": c["claim"], "experiment": c.get("experiment", ""),
                         "setup": setup_text(c, run), "rule": c.get("rule", ""), "machine": run.machine,
                         "cpp": lang["C++"] or ["not measured"], "go": lang["Go"] or ["not measured"],
                         "verdict": ev["verdict"], "by": ev["by"]})
    return rows
