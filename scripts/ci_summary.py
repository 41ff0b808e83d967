#!/usr/bin/python3
"""A comparison as a CI job summary: regressions first, worst first, each with
its interval; then improvements, largest first; then the counts.

Reads the JSON that compare.py --format json or abtest.py --format json
writes (a list of comparisons, each with compare.py's rows). "change" is
criterion's `[low estimate high]` in percent, slower positive ((time ratio
- 1) x 100; rates inverted), at the interval's adjusted level. Only the
first --limit rows of each kind are listed; the full table is the
comparison's own markdown (compare.md / abtest.md in the artifact).

Exit codes: 0 done, 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import conpat_results as cr  # noqa: E402
import stats  # noqa: E402


def change_text(r: dict) -> str:
    return stats.criterion(r["change_pct"], r.get("change_ci_pct") or [None, None])


def render(comparisons: list, limit: int, gated: set | None = None) -> str:
    rows = [r for c in comparisons for r in c.get("rows", [])]
    slower = [r for r in rows if r.get("verdict") == "slower"]
    faster = [r for r in rows if r.get("verdict") == "faster"]
    # worst first: the largest lower bound of the slowdown; best first: the largest speed-up
    slower.sort(key=lambda r: -((r.get("change_ci_pct") or [0])[0] or 0))
    faster.sort(key=lambda r: ((r.get("change_ci_pct") or [0, 0])[1] or 0))
    tested = [r for r in rows if r.get("tested")]
    paired = any(c.get("paired") for c in comparisons)
    out = []

    def table(title: str, picked: list) -> None:
        out.append(f"### {title} ({len(picked)})")
        out.append("")
        if not picked:
            out.append("none")
            out.append("")
            return
        out.append("| benchmark | metric | change [low est high] | baseline | new |")
        out.append("|---|---|---|---|---|")
        for r in picked[:limit]:
            mark = " (oversubscribed)" if r.get("oversubscribed") else ""
            out.append(f"| `{r['benchmark']}`{mark} | {r['metric']} | {change_text(r)} | {r.get('baseline', '')} "
                       f"| {r.get('value', '')} |")
        if len(picked) > limit:
            out.append(f"| ... and {len(picked) - limit} more (full table in the artifact) | | | | |")
        out.append("")

    table("Regressions, worst first", slower)
    table("Improvements, largest first", faster)
    out.append(f"**Counts**: {len(rows)} rows, {len(tested)} tested: {len(slower)} slower, {len(faster)} faster, "
               f"{len(tested) - len(slower) - len(faster)} no change, {len(rows) - len(tested)} not tested "
               f"({'paired A/B, interleaved' if paired else 'unpaired: two stored runs'}; change: percent, slower "
               "positive, per iteration for time_ns)")
    return "\n".join(out) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("comparison", help="compare.py or abtest.py JSON output")
    p.add_argument("--limit", type=int, default=20, help="rows listed per kind (default 20)")
    args = p.parse_args(argv)
    try:
        doc = json.loads(Path(args.comparison).read_text())
    except (OSError, json.JSONDecodeError) as e:
        print(f"ci_summary: {args.comparison}: cannot read ({e})", file=sys.stderr)
        return 2
    if isinstance(doc, dict):
        doc = [doc]
    if not isinstance(doc, list) or not all(isinstance(c, dict) and isinstance(c.get("rows"), list) for c in doc):
        print(f"ci_summary: {args.comparison}: not compare.py/abtest.py JSON (a list of comparisons with 'rows')",
              file=sys.stderr)
        return 2
    try:
        sys.stdout.write(render(doc, args.limit))
    except BrokenPipeError:
        sys.stderr.close()
    return 0


if __name__ == "__main__":
    cr.quiet_pipe()
    sys.exit(main())
