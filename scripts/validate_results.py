#!/usr/bin/python3
"""Validate conpat results files against the JSON Schema (results/schema/).

Exit codes: 0 valid, 1 a check failed, 2 unusable input (missing file,
invalid JSON, schema mismatch).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import conpat_results as cr  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description="Validate conpat results files against the versioned JSON Schema.")
    p.add_argument("files", nargs="+", help="results files (.json or .json.gz) to check")
    p.add_argument("--no-errors", action="store_true",
                   help="also fail if any benchmark has error_occurred or any family did not finish ok")
    p.add_argument("--families", default="",
                   help="comma-separated families that must each have at least one benchmark")
    args = p.parse_args()
    failed = False
    for f in args.files:
        try:
            doc = cr.load(f)
            if "conpat" not in doc["context"]:
                raise cr.ResultsError(f"{f}: not a conpat results file (no context.conpat: a plain Google Benchmark "
                                      "file? compare.py and report.py read those too; the schema is conpat's)")
            cr.validate(doc, f)
        except cr.ResultsError as e:
            print(f"validate: {e}", file=sys.stderr)
            return 2
        problems = []
        if args.no_errors:
            problems += [f"{b['name']}: {b.get('error_message', 'error')}" for b in doc["benchmarks"]
                         if b.get("error_occurred")]
            problems += [f"family {r['family']}: {r['status']} {r.get('error', '')}"
                         for r in doc["context"]["conpat"]["families"] if r["status"] != "ok"]
        have = {b["family"] for b in doc["benchmarks"]}
        problems += [f"no benchmark of family {fam}" for fam in filter(None, args.families.split(","))
                     if fam not in have]
        for pr in problems:
            print(f"validate: {f}: {pr}", file=sys.stderr)
        failed |= bool(problems)
        if not problems:
            print(f"validate: {f}: ok ({len(doc['benchmarks'])} benchmarks, "
                  f"{len(doc['context']['conpat']['families'])} families)")
    return 1 if failed else 0


if __name__ == "__main__":
    cr.quiet_pipe()
    sys.exit(main())
