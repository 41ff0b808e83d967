#!/usr/bin/python3
"""Run summaries: one JSON line per run, appended to history/<machine>.jsonl.

A results file holds every sample (1.5-3 MB, about 250 KB gzipped for a
default run); a summary line holds, per benchmark, the median time with its
95 % interval and the number of samples (`time_ns`: real time per
iteration, in ns), plus the run's metadata (machine, profile, commit, start
and end time, the stored file's name). History plots and CI read these
lines, never the sample files, so their cost stays that of the newest
lines however many runs were stored.

  scripts/history.py append RUN --history FILE.jsonl   summarise RUN (.json or .json.gz), append one line
  scripts/history.py show FILE.jsonl [--last N]         one line per stored run: stamp, commit, profile, rows

Exit codes: 0 done, 2 bad input (one line on stderr).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import conpat_results as cr  # noqa: E402

FORMAT = 1
DIGITS = 4  # medians and bounds: far finer than the run-to-run noise
# Metrics summarised besides time, for the benchmarks that carry them (the history view draws it).
EXTRA = ("packed_ns_per_op",)
# Reading a history: only the newest lines, so the cost does not grow with the stored runs.
TAIL = 200


def _g(v):
    return None if v is None else float(f"{v:.{DIGITS}g}")


def summarize(doc: dict, name: str = "") -> dict:
    """One run's summary line: {"format", "machine", "profile", "git_commit", "git_dirty",
    "start_time", "end_time", "file", "repetitions", "metrics": {metric: {benchmark: [median, lo, hi, n]}}}
    (lo/hi null below 2 samples). Samples taken in another machine state are left
    out as every summary does (conpat_results.in_state)."""
    ctx = doc.get("context", {}).get("conpat", {}) or {}
    metrics: dict = {}
    for key, rec in cr.samples(doc, extra=EXTRA).items():
        label = cr.key_label(key)
        for m in ("time_ns",) + EXTRA:
            values = rec["metrics"].get(m)
            if values:
                s = cr.median_ci(values)
                metrics.setdefault(m, {})[label] = [_g(s["median"]), _g(s["lo"]), _g(s["hi"]), s["n"]]
    return {"format": FORMAT, "machine": cr.machine_label(doc), "profile": ctx.get("profile"),
            "git_commit": ctx.get("git_commit"), "git_dirty": ctx.get("git_dirty"),
            "start_time": ctx.get("start_time"), "end_time": ctx.get("end_time"), "file": name,
            "repetitions": ctx.get("repetitions"), "metrics": metrics}


def line_of(doc: dict, name: str = "") -> str:
    return json.dumps(summarize(doc, name), separators=(",", ":"), sort_keys=True)


def tail_lines(path: str | os.PathLike, n: int = TAIL, block: int = 1 << 16) -> list[str]:
    """The last n non-empty lines of a file, read from its end (the cost is that of those lines)."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            end = pos = f.tell()
            data = b""
            while pos > 0 and data.count(b"\n") <= n:
                step = min(block, pos)
                pos -= step
                f.seek(pos)
                data = f.read(step) + data
    except FileNotFoundError:
        raise cr.ResultsError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise cr.ResultsError(f"{path}: is a directory, not a history file") from None
    except OSError as e:
        raise cr.ResultsError(f"{path}: cannot read ({e.strerror})") from None
    del end
    lines = [ln for ln in data.decode("utf-8", "replace").split("\n") if ln.strip()]
    if pos > 0:
        lines = lines[1:]  # the first may be cut
    return lines[-n:] if n else lines


def read(path: str | os.PathLike, n: int = TAIL) -> list[dict]:
    """The newest n summaries of a history file, oldest first; raises ResultsError on a line that is not one."""
    out = []
    for i, line in enumerate(tail_lines(path, n)):
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            raise cr.ResultsError(f"{path}: line {i + 1} from the end-window is not JSON ({e.msg})") from None
        if not isinstance(rec, dict) or rec.get("format") != FORMAT or not isinstance(rec.get("metrics"), dict):
            raise cr.ResultsError(f"{path}: not a conpat history file (a line without format {FORMAT} and metrics)")
        out.append(rec)
    return out


def files_in(path: str | os.PathLike) -> list[Path]:
    """A history file, or the <machine>.jsonl files of a directory."""
    path = Path(path)
    if path.is_dir():
        return sorted(path.glob("*.jsonl"))
    if not path.exists():
        raise cr.ResultsError(f"{path}: no such file or directory")
    return [path]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("append", help="summarise a results file and append its line to a history file")
    a.add_argument("run", help="results file (.json or .json.gz)")
    a.add_argument("--history", required=True, metavar="FILE", help="history file to append to (created if missing)")
    a.add_argument("--name", help="the stored file's name to record (default: RUN's file name)")
    s = sub.add_parser("show", help="list the runs a history file holds")
    s.add_argument("history", help="history file (.jsonl)")
    s.add_argument("--last", type=int, default=TAIL, help=f"only the newest N runs (default {TAIL})")
    args = p.parse_args(argv)
    try:
        if args.cmd == "append":
            doc = cr.load(args.run)
            if "conpat" not in doc["context"]:
                raise cr.ResultsError(f"{args.run}: not a conpat results file (a plain Google Benchmark file "
                                      "has no context.conpat)")
            line = line_of(doc, args.name or Path(args.run).name)
            out = Path(args.history)
            out.parent.mkdir(parents=True, exist_ok=True)
            with open(out, "a") as f:
                f.write(line + "\n")
            print(f"history: {out}: +1 run ({len(line)} bytes)")
        else:
            if args.last < 1:
                p.error("--last takes a number >= 1")
            for rec in read(args.history, args.last):
                rows = len(rec["metrics"].get("time_ns", {}))
                print(f"{rec.get('start_time')}  {rec.get('git_commit')}{'*' if rec.get('git_dirty') else ''}  "
                      f"{rec.get('profile')}  {rows} benchmarks  {rec.get('file')}")
    except cr.ResultsError as e:
        print(f"history: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        sys.stderr.close()
        return 0
    return 0


if __name__ == "__main__":
    cr.quiet_pipe()
    sys.exit(main())
