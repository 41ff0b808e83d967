#!/usr/bin/python3
"""A/B test two revisions of conpat, interleaved and paired on one machine.

Builds both revisions (BASE and HEAD; HEAD defaults to the working tree,
uncommitted changes included) in their own git worktrees under
build/abtest/ with the same CMake preset, and refuses when their compiler,
flags or build type differ. Then it runs both in one run: for each pass and
each family (in a shuffled order per pass), BASE and HEAD back to back, in
ABBA order across passes (A B, then B A, ...), each half between two
machine-state probes. Sample k of BASE pairs with sample k of HEAD. A pair
whose halves were taken in different machine states (the core-to-core round
trip each C++ sample carries, or the probes around a Go half) is left out
and counted; benchmarks that lost more than a fifth of their pairs that way
(or fell below 6) run again in top-up passes: at most a quarter as many as
the passes, and none more once a top-up did not reduce the pairs missing.
After the first pass, both builds run every C++ benchmark for the same
fixed iteration count (taken from the first pass: about --min-time per
sample) instead of Google Benchmark's estimate per sample, which costs
more than the sample itself; --estimate-iterations turns that off, and
it is off by itself when either binary predates --conpat_iterations.

Per benchmark and metric the change is the Hodges-Lehmann estimate of the
paired log-ratios log(HEAD / BASE) (slower positive; rates inverted) with
the exact Wilcoxon signed-rank interval, printed criterion's way:
`change: [-2.1% +0.4% +2.9%]`. A row is slower or faster only when its
whole interval lies beyond +/- --min-effect; the rows of each metric are
picked at false discovery rate --fdr (Benjamini-Hochberg) and every
interval is shown at the level that procedure adjusts to. Fewer pairs than
the exact test needs to reach 95 % at all (6) is "too few pairs".
--fail-on-regression PCT exits 1 when a gated row's whole adjusted interval
lies above +PCT.

Both results files are written (under --out-dir), and the comparison, worst
first, to stdout or --out (table, markdown or JSON; the JSON is a list of
one comparison, as compare.py writes, whose rows add `change_ci_pct`).

Exit codes: 0 done (gate passed or not asked); 1 the gate tripped, or a
family failed; 2 bad input, a build failed, the builds are not comparable,
or too few pairs to gate.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402
import compare  # noqa: E402
import conpat_results as cr  # noqa: E402
import stats  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
REPO = ROOT  # the repository whose revisions are built (tests point it elsewhere)
LEVEL = 0.95
# Samples per benchmark: eight times the passes at an eighth of the minimum
# time (pairs, not repetitions, carry the test). A sample's noise on a small
# VM is mostly which state it landed in (thread placement, the VM's
# core-to-core mode), not its length, so more, shorter pairs narrow the
# interval; with the iteration counts fixed after the first pass (see
# fixed_iterations) a sample costs its minimum time once. An A/A run on the
# 2-vCPU VM, channel.spsc + channel.pingpong, both builds one binary:
#   10 pairs x 0.1 s:    491 s, median |change| 6.0 %, median interval width 96 points
#   20 pairs x 0.05 s:   512 s, 2.9 %, 54 points
#   40 pairs x 0.025 s:  646 s (another job was building), 2.2 %, 29 points
#   the same, counts fixed after pass 1: 347 s, 1.6 %, 27 points
PAIRS = {name: 8 * prof["repetitions"] for name, prof in bench.PROFILES.items()}
MIN_TIME = {name: prof["min_time"] / 8 for name, prof in bench.PROFILES.items()}
# The interval holds off noise (an A/A run on the 2-vCPU VM: unadjusted 95 %
# intervals left out 0 in 6 of 123 rows, as chance predicts); the minimum
# effect keeps out what code layout alone moves between two builds (a few
# percent at most), well under the 10 % a CI gate asks about.
DEFAULT_MIN_EFFECT = 3.0


class Fail(Exception):
    """Bad input or a failed step: one line, exit code."""

    def __init__(self, msg: str, code: int = 2):
        super().__init__(msg)
        self.code = code


def say(msg: str) -> None:
    print(f"abtest: {msg}", flush=True)


def run(cmd: list, cwd: Path | None = None, quiet: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=quiet, text=True)


def git(*args, cwd: Path | None = None) -> str:
    cwd = cwd or REPO
    r = run(["git", *args], cwd=cwd)
    if r.returncode != 0:
        raise Fail(f"git {' '.join(args)}: {(r.stderr or r.stdout).strip().splitlines()[-1:] or ['failed']}")
    return r.stdout.strip()


# ---- sources and builds -----------------------------------------------------------

def prepare_worktree(role: str, rev: str | None, work: Path) -> dict:
    """A worktree at build/abtest/<role> checked out at rev (None: HEAD plus the
    working tree's uncommitted changes). Reused across runs; stale worktree
    registrations are pruned first."""
    if rev is None:
        sha = git("rev-parse", "--verify", "HEAD^{commit}")
    else:
        try:
            sha = git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
        except Fail:
            raise Fail(f"'{rev}' is not a commit in this repository") from None
    wt = work / role
    git("worktree", "prune")
    registered = git("worktree", "list", "--porcelain")
    if wt.exists() and f"worktree {wt.resolve()}" not in registered.splitlines():
        raise Fail(f"{wt} exists but is not a git worktree of this repository; remove it")
    if not wt.exists():
        wt.parent.mkdir(parents=True, exist_ok=True)
        git("worktree", "add", "--detach", "--force", str(wt), sha)
    else:
        git("checkout", "--quiet", "--detach", "--force", sha, cwd=wt)
        git("clean", "-fdq", cwd=wt)  # untracked files from an earlier working-tree copy; build/ is ignored
    dirty = False
    if rev is None:
        diff = run(["git", "diff", "HEAD", "--binary"], cwd=REPO)
        if diff.stdout.strip():
            r = subprocess.run(["git", "apply", "--whitespace=nowarn", "-"], cwd=wt, input=diff.stdout,
                               capture_output=True, text=True)
            if r.returncode != 0:
                raise Fail(f"cannot copy the working tree's changes into {wt}: {r.stderr.strip()[:200]}")
            dirty = True
        for f in git("ls-files", "--others", "--exclude-standard", "-z").split("\0"):
            if f:
                (wt / f).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(REPO / f, wt / f)
                dirty = True
    label = rev if rev is not None else "working tree"
    return {"role": role, "rev": label, "sha": sha, "short": sha[:7], "dirty": dirty, "dir": wt}


def cache_value(cache: Path, key: str) -> str:
    for line in cache.read_text().splitlines():
        if line.startswith(key + ":") or line.startswith(key + "="):
            return line.split("=", 1)[1].strip()
    return ""


def build(side: dict, preset: str, jobs: int, quiet: bool) -> None:
    wt = side["dir"]
    say(f"building {side['role']} ({side['rev']}, {side['short']}{'+changes' if side['dirty'] else ''}) "
        f"in {wt} (preset {preset})")
    # Configure only when the presets changed (or on the first build): a new
    # configure records a new git commit in the compile definitions and so
    # recompiles everything; the commit is passed at run time instead.
    stamp = wt / "build" / f".abtest-{preset}-presets"
    presets = (wt / "CMakePresets.json").read_text() if (wt / "CMakePresets.json").is_file() else ""
    cmds = [["nice", "-n", "10", "cmake", "--build", "--preset", preset, "-j", str(jobs), "--target", "conpat_bench"]]
    if not (wt / "build" / preset / "CMakeCache.txt").is_file() or not stamp.is_file() or stamp.read_text() != presets:
        cmds.insert(0, ["nice", "-n", "10", "cmake", "--preset", preset])
    for cmd in cmds:
        r = run(cmd, cwd=wt, quiet=True)
        if r.returncode != 0:
            tail = "\n".join((r.stdout + r.stderr).strip().splitlines()[-15:])
            raise Fail(f"building {side['role']} ({side['rev']}) failed: {' '.join(cmd[3:])}\n{tail}")
    stamp.write_text(presets)
    bdir = wt / "build" / preset
    cache = bdir / "CMakeCache.txt"
    bt = cache_value(cache, "CMAKE_BUILD_TYPE")
    cxx = cache_value(cache, "CMAKE_CXX_COMPILER")
    version = run([cxx, "--version"]).stdout.splitlines()[:1] if cxx else []
    flags = " ".join(x for x in (cache_value(cache, "CMAKE_CXX_FLAGS"),
                                 cache_value(cache, f"CMAKE_CXX_FLAGS_{bt.upper()}")) if x)
    side["build"] = {"preset": preset, "build_type": bt, "compiler": version[0] if version else cxx,
                     "cxx_flags": flags}
    side["binary"] = bdir / "benches" / "conpat_bench"
    if not side["binary"].is_file():
        raise Fail(f"{side['binary']}: not built")


def build_go(side: dict, work: Path) -> Path | None:
    src = side["dir"] / "benches" / "go"
    go = shutil.which("go")
    if go is None or not (src / "main.go").is_file():
        return None
    target = side["dir"] / "build" / "go_bench"
    env = {**os.environ, "GOCACHE": str(work / "gocache"), "GOFLAGS": "-mod=mod", "CGO_ENABLED": "0"}
    env.setdefault("HOME", str(work))
    r = subprocess.run([go, "build", "-o", str(target), "."], cwd=src, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        say(f"warning: building {side['role']}'s Go workloads failed; they are left out: {r.stderr.strip()[:200]}")
        return None
    return target


# ---- the interleaved run -------------------------------------------------------------

def max_top_ups(passes: int) -> int:
    """How many top-up passes an abtest may add: a quarter of its passes
    (a top-up runs only the benchmarks short of pairs; on a machine that
    keeps changing state, more would cost more than they recover)."""
    return max(1, passes // 4)


def shortfall(pairs: dict, passes: int) -> dict[str, int]:
    """The benchmarks a top-up runs again, with the pairs each lacks: those
    that lost more than a fifth of their pairs to a change of machine state
    (or fell below the fewest that reach 95 %). A pair lost here and there
    costs little power; re-running every benchmark for it costs a whole pass."""
    need = max(stats.min_pairs(LEVEL), passes - passes // 5)
    return {cr.key_label(k): need - len(r["pairs"]) for k, r in pairs.items()
            if len(r["pairs"]) < need and r["dropped_state"] and not r["failed"]}


def half_order(pass_k: int, family_index: int) -> tuple:
    """ABBA: a family runs A then B in one pass and B then A in the next."""
    return ("base", "head") if (pass_k + family_index) % 2 else ("head", "base")


TIME_SUFFIX = re.compile(r"/(?:real|manual)_time$")
UNIT_S = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}


def supports_fixed_iterations(binary: Path) -> bool:
    """Whether this conpat_bench takes --conpat_iterations (older builds do not)."""
    r = subprocess.run([str(binary), "--conpat_help"], capture_output=True, text=True)
    return r.returncode == 0 and "--conpat_iterations" in r.stdout


def fixed_iterations(samples: list, min_time: float) -> dict:
    """Registered name -> iteration count that makes one sample last about
    min_time, from the first pass's samples of both builds (the geometric
    mean of their times per iteration). Google Benchmark estimates the count
    afresh for every sample, and that estimate costs about 1.5 times the
    sample itself; the later passes reuse these counts, the same for both
    builds."""
    per_iter: dict = {}
    for b in samples:
        if (b.get("run_type") != "iteration" or b.get("error_occurred") or "run_name" not in b
                or not isinstance(b.get("real_time"), (int, float)) or b["real_time"] <= 0):
            continue
        t = float(b["real_time"]) * UNIT_S.get(b.get("time_unit", "ns"), 1e-9)
        per_iter.setdefault(TIME_SUFFIX.sub("", b["run_name"]), []).append(math.log(t))
    return {name: max(1, math.ceil(min_time / math.exp(statistics.fmean(ts)))) for name, ts in per_iter.items()}


def mark_states(sides: dict, probes: list) -> dict:
    """Marks every sample state_shift from its own core-to-core probe (C++)
    or the probes around its half (Go), against the usual round trip of the
    whole run (both builds): the 25th percentile, as bench.py does."""
    c2c = sorted(float(b["state_c2c_ns"]) for s in sides.values() for b in s["benchmarks"]
                 if b.get("run_type") == "iteration" and isinstance(b.get("state_c2c_ns"), (int, float))
                 and b["state_c2c_ns"] > 0)
    usual = c2c[(len(c2c) - 1) // 4] if c2c else None
    pc = sorted(p["c2c_round_trip_ns"] for p in probes if p.get("c2c_round_trip_ns"))
    usual_probe = pc[(len(pc) - 1) // 4] if pc else None
    marked = 0
    for s in sides.values():
        for b in s["benchmarks"]:
            if b.get("run_type") != "iteration":
                continue
            v = b.get("state_c2c_ns")
            if isinstance(v, (int, float)) and v > 0 and usual:
                off = v > cr.STATE_FACTOR * usual
            else:
                around = [probes[i].get("c2c_round_trip_ns") for i in b.get("_probes", ()) if i < len(probes)]
                off = bool(usual_probe) and any(x and x > cr.STATE_FACTOR * usual_probe for x in around)
            b["state_shift"] = off
            marked += off
    return {"usual_c2c_round_trip_ns": usual, "factor": cr.STATE_FACTOR, "marked": marked,
            "rule": f"a sample is in another state when its own core-to-core round trip (state_c2c_ns) is over "
                    f"{cr.STATE_FACTOR}x the run's 25th percentile over both builds; Go's samples take the state "
                    "of the probes before and after their half"}


def by_pass(benchmarks: list) -> dict:
    """(key, pass) -> the sample (iterations only)."""
    out = {}
    for b in benchmarks:
        if b.get("run_type") == "iteration" and "pass" in b:
            out[(cr.key_of(b), b["pass"])] = b
    return out


def make_pairs(base: list, head: list) -> dict:
    """key -> {"pairs": [(a, b)], "dropped_state": n, "failed": n, "oversubscribed": bool}."""
    pa, pb = by_pass(base), by_pass(head)
    out: dict = {}
    for (key, k), a in pa.items():
        b = pb.get((key, k))
        rec = out.setdefault(key, {"pairs": [], "dropped_state": 0, "failed": 0, "oversubscribed": False,
                                   "both_shifted": 0})
        if b is None or a.get("error_occurred") or b.get("error_occurred"):
            rec["failed"] += 1
            continue
        rec["oversubscribed"] |= bool(a.get("oversubscribed") or b.get("oversubscribed"))
        if bool(a.get("state_shift")) != bool(b.get("state_shift")):
            rec["dropped_state"] += 1
            continue
        rec["both_shifted"] += bool(a.get("state_shift"))
        rec["pairs"].append((a, b))
    return out


def paired_rows(pairs: dict, min_effect: float, fdr: float) -> list:
    rows, shifts = [], []
    for key in sorted(pairs):
        rec = pairs[key]
        metrics = {}
        for a, b in rec["pairs"]:
            ma, mb = cr.metrics_of(a), cr.metrics_of(b)
            for m in ma:
                if m in mb and ma[m] > 0 and mb[m] > 0:
                    metrics.setdefault(m, []).append((ma[m], mb[m]))
        if not rec["pairs"]:
            metrics = {"time_ns": []}
        for metric in cr.COMPARED:
            if metric not in metrics:
                continue
            vals = metrics[metric]
            sign = 1.0 if metric in cr.LOWER_IS_BETTER else -1.0
            d = [sign * math.log(vb / va) for va, vb in vals]
            shift = stats.paired(d)
            n = len(d)
            rows.append({"benchmark": cr.key_label(key), "family": key[0], "impl": key[1], "params": dict(key[2]),
                         "metric": metric,
                         "baseline": statistics.median(v[0] for v in vals) if vals else None,
                         "value": statistics.median(v[1] for v in vals) if vals else None,
                         "ratio": math.exp(sign * shift.estimate) if vals else None,
                         "change_pct": stats.pct(shift.estimate) if vals else None,
                         "change_ci_pct": [None, None], "ci_level": None, "p_value": None,
                         "pairs": n, "pairs_dropped_state": rec["dropped_state"], "pairs_failed": rec["failed"],
                         "pairs_both_shifted": rec["both_shifted"],
                         "tested": stats.max_coverage_paired(n) >= LEVEL, "significant": False,
                         "verdict": "too few pairs", "oversubscribed": rec["oversubscribed"]})
            shifts.append(shift)
    for metric in {r["metric"] for r in rows}:
        idx = [i for i, r in enumerate(rows) if r["metric"] == metric]
        res = stats.judge([shifts[i] for i in idx], min_effect, fdr, LEVEL)
        for i, j in zip(idx, res["rows"]):
            r = rows[i]
            r.update(change_ci_pct=j["ci_pct"], ci_level=j["coverage"], p_value=j["p_value"])
            if j["verdict"] == "too few":
                r["tested"], r["verdict"] = False, "too few pairs"
            else:
                r["verdict"] = j["verdict"]
                r["significant"] = j["verdict"] in (stats.SLOWER, stats.FASTER)
    return compare.worst_first(rows)


def assemble(side: dict, probes: list, passes: int, start_iso: str, warnings: list) -> dict:
    """One build's results file: its samples, medians, the run's probes and records."""
    context = side["context"]
    conpat = context["conpat"]
    benchmarks = [{k: v for k, v in b.items() if not k.startswith("_")} for b in side["benchmarks"]]
    benchmarks += bench.median_aggregates(benchmarks)
    conpat["repetitions"] = passes
    c2c = [p["c2c_round_trip_ns"] for p in probes if p.get("c2c_round_trip_ns")]
    conpat["machine_state"] = {"probes": [{k: v for k, v in p.items() if k != "index"} for p in probes],
                               "median_c2c_round_trip_ns": statistics.median(c2c) if c2c else None,
                               "shifted_passes": [], "samples": side["state"],
                               "rule": "abtest: a probe before and after every half; samples are judged one by one"}
    conpat["start_time"] = start_iso
    conpat["end_time"] = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    conpat["families"] = side["records"]
    if side.get("go_context"):
        conpat["libraries"]["go"] = side["go_context"].get("go_version", "unknown")
    conpat["derived"] = {}
    conpat["warnings"] = sorted(set(conpat.get("warnings", [])) | set(warnings))
    return {"context": context, "benchmarks": benchmarks}



def check_recorded_builds(sides: dict) -> None:
    """What the binaries themselves recorded (compiler, flags, build type) must
    agree; checked once both have run a family."""
    if sides["base"]["context"] is None or sides["head"]["context"] is None:
        return
    cb, ch = sides["base"]["context"]["conpat"], sides["head"]["context"]["conpat"]
    diff = [(f, cb.get(f), ch.get(f)) for f in compare.BUILD_FIELDS if cb.get(f) != ch.get(f)]
    if diff:
        raise Fail("not comparable: build flags differ: " + "; ".join(f"{f}: base '{a}', head '{b}'"
                                                                      for f, a, b in diff))

def main() -> int:
    p = argparse.ArgumentParser(
        prog="abtest.py",
        description="Build two revisions and measure them interleaved (ABBA) and paired on this machine; print "
                    "every change with its interval, worst first, and gate on regressions.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Google Benchmark flags go after --, e.g. -- '--benchmark_filter=^channel\\.(spsc|pingpong)/'.\n"
               "Reading the output: change: [low estimate high] is HEAD against BASE in percent, slower positive, "
               "with its interval\n(adjusted for the number of rows); verdicts: slower / faster (the whole interval "
               "beyond +/- --min-effect),\nno change, too few pairs (fewer than 6 usable pairs).\n"
               "Exit codes: 0 done; 1 regression (or a family failed); 2 bad input, build failed, not comparable, "
               "too few pairs to gate.")
    p.add_argument("--base", required=True, metavar="REV", help="the baseline revision (any git commit-ish)")
    p.add_argument("--head", metavar="REV",
                   help="the revision to test (default: the working tree, uncommitted changes included)")
    p.add_argument("--preset", default="release", help="CMake preset both builds use (default release)")
    p.add_argument("--binaries", nargs=2, metavar=("BASE_BIN", "HEAD_BIN"),
                   help="measure two conpat_bench executables already built instead of building --base and --head "
                        "(their recorded compiler and flags must still agree); --base then only labels the run")
    p.add_argument("--profile", choices=sorted(bench.PROFILES), default="default",
                   help="benchmark sweep, as bench.py's (default: default)")
    p.add_argument("--repetitions", type=int,
                   help="passes, i.e. pairs per benchmark (default: eight times the profile's repetitions, at a "
                        "eighth of its minimum time: quick 24, default 40, full 80); 6 is the fewest that reach 95 %%")
    p.add_argument("--min-time", type=float, help="seconds per sample (default: an eighth of the profile's)")
    p.add_argument("--no-go", action="store_true", help="leave out the Go workloads")
    p.add_argument("--estimate-iterations", action="store_true",
                   help="let Google Benchmark estimate the iteration count of every sample (by default passes "
                        "after the first reuse the first pass's counts, when both builds can: about twice as "
                        "many samples in the same time)")
    p.add_argument("--no-top-up", action="store_true",
                   help="do not run again the benchmarks that lost pairs to a change of machine state (by "
                        "default: up to a quarter as many top-up passes as passes, stopping when one does not "
                        "reduce the pairs missing)")
    p.add_argument("--min-effect", type=float, default=DEFAULT_MIN_EFFECT,
                   help=f"smallest change, in percent, that counts: slower/faster only when the whole interval lies "
                        f"beyond it (default {DEFAULT_MIN_EFFECT:g}, from A/A runs: see README.md)")
    p.add_argument("--fdr", type=float, default=0.05,
                   help="false discovery rate across the rows of each metric (Benjamini-Hochberg; default 0.05)")
    p.add_argument("--fail-on-regression", type=float, metavar="PCT",
                   help="exit 1 when a gated row's whole adjusted interval lies above +PCT percent")
    p.add_argument("--gate-metric", action="append", choices=cr.COMPARED, metavar="METRIC",
                   help="a metric to gate on besides time (repeatable)")
    p.add_argument("--gate-oversubscribed", action="store_true",
                   help="gate the rows that run more threads than cores too (default: shown, not gated)")
    p.add_argument("--format", choices=("table", "markdown", "json"), default="table",
                   help="format of the comparison (default: a terminal table)")
    p.add_argument("--out", metavar="FILE", help="write the comparison to FILE instead of stdout")
    p.add_argument("--out-dir", default=str(ROOT / "build" / "abtest" / "results"),
                   help="where both results files go, under <machine>/ (default build/abtest/results)")
    p.add_argument("--work-dir", default=str(ROOT / "build" / "abtest"),
                   help="the worktrees and builds (default build/abtest; reused between runs)")
    p.add_argument("--machine", default=os.uname().nodename.split(".")[0], help="machine label (default: hostname)")
    p.add_argument("--jobs", type=int, default=2, help="parallel compile jobs (default 2)")
    p.add_argument("--watchdog", type=float, default=30.0, help="seconds without progress before a benchmark fails")
    p.add_argument("--family-timeout", type=float, help="seconds before a family's process is killed")
    p.add_argument("--pin", action="store_true", help="pin the benchmarks' threads to distinct CPUs")
    p.add_argument("--quiet", action="store_true", help="progress lines only, not Google Benchmark's tables")
    args = bench.parse_with_filter(p)
    try:
        return abtest(args)
    except Fail as e:
        print(f"abtest: {e}", file=sys.stderr)
        return e.code


def abtest(args: argparse.Namespace) -> int:
    prof = bench.PROFILES[args.profile]
    passes = args.repetitions if args.repetitions is not None else PAIRS[args.profile]
    min_time = args.min_time if args.min_time is not None else MIN_TIME[args.profile]
    if passes < 1 or min_time <= 0 or args.watchdog <= 0:
        raise Fail("--repetitions, --min-time and --watchdog must be positive")
    if not 0 < args.fdr < 1 or args.min_effect < 0:
        raise Fail("--fdr must be in (0, 1) and --min-effect >= 0")
    if args.fail_on_regression is not None and args.fail_on_regression < 0:
        raise Fail("--fail-on-regression takes a percentage >= 0")
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", args.machine):
        raise Fail(f"machine label '{args.machine}' may only hold letters, digits, '.', '_' and '-'")
    if args.out and Path(args.out).is_dir():
        raise Fail(f"--out {args.out}: is a directory")
    user_filter = [a for a in args.passthrough if a.startswith("--benchmark_filter=")]
    passthrough = [a for a in args.passthrough if not a.startswith("--benchmark_filter=")]
    if any(a.startswith("--benchmark_repetitions=") for a in passthrough):
        raise Fail("give --repetitions (passes, i.e. pairs), not --benchmark_repetitions")
    passthrough += ["--benchmark_repetitions=1", "--benchmark_enable_random_interleaving=true"]
    timeout = args.family_timeout or prof["family_timeout"]
    work = Path(args.work_dir).resolve()

    if args.binaries:
        sides = {}
        for role, binary in zip(("base", "head"), args.binaries):
            binary = Path(binary).resolve()
            if not binary.is_file() or not os.access(binary, os.X_OK):
                raise Fail(f"{binary}: not an executable")
            rev = args.base if role == "base" else (args.head or "working tree")
            sides[role] = {"role": role, "rev": rev, "sha": rev, "short": re.sub(r"[^A-Za-z0-9]", "", rev)[:12] or role,
                           "dirty": False, "dir": binary.parent, "binary": binary,
                           "build": {"preset": None, "build_type": None, "compiler": None, "cxx_flags": None}}
    else:
        sides = {"base": prepare_worktree("base", args.base, work),
                 "head": prepare_worktree("head", args.head, work)}
        for s in sides.values():
            build(s, args.preset, args.jobs, args.quiet)
    fb, fh = sides["base"]["build"], sides["head"]["build"]
    diff = [(f, fb[f], fh[f]) for f in ("compiler", "cxx_flags", "build_type") if fb[f] != fh[f]]
    say(f"build: {fb['compiler']}, flags '{fb['cxx_flags']}' ({fb['build_type']}, preset {args.preset})")
    if diff:
        raise Fail("not comparable: build flags differ: " + "; ".join(f"{f}: base '{a}', head '{b}'"
                                                                      for f, a, b in diff))

    # What both builds have: the same names, run in the same processes.
    listed = {r: set(bench.list_benchmarks(s["binary"], args.profile, user_filter)) for r, s in sides.items()}
    names = sorted(listed["base"] & listed["head"])
    only = {r: len(listed[r] - listed["head" if r == "base" else "base"]) for r in listed}
    go_names: list = []
    if not args.no_go:
        gob = {r: build_go(s, work) for r, s in sides.items()}
        if all(gob.values()):
            for r, s in sides.items():
                s["go_binary"] = gob[r]
            gl = {r: set(bench.list_go(gob[r], args.profile, bench.go_filter(user_filter))) for r in sides}
            go_names = sorted(gl["base"] & gl["head"])
    if not names and not go_names:
        raise Fail(f"the filter '{bench.go_filter(user_filter)}' matches no benchmark both revisions have")
    families = bench.group_by_family(names)
    if go_names:
        families["go"] = go_names
    say(f"{len(names) + len(go_names)} benchmarks in {len(families)} families, {passes} pass(es) of both builds "
        f"(ABBA), min time {min_time} s, profile {args.profile}"
        + (f"; left out, only in one build: base {only['base']}, head {only['head']}" if any(only.values()) else ""))

    start_iso = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    t0 = time.monotonic()
    probes: list = []
    for s in sides.values():
        s.update(benchmarks=[], records=[], context=None, go_context=None)
        s["args"] = argparse.Namespace(profile=args.profile, machine=args.machine, watchdog=args.watchdog,
                                       min_time=min_time, pin=args.pin, quiet=args.quiet,
                                       git_sha=s["short"], git_dirty=s["dirty"])
    total = 2 * len(names + go_names) * passes
    progress = {"done": 0, "total": total}

    def take_probe() -> int:
        pr = bench.probe(sides["base"]["binary"]) or {}
        pr.update(index=len(probes), before_pass=0,
                  time=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
        pr.setdefault("c2c_round_trip_ns", None)
        pr.setdefault("futex_round_trip_ns", None)
        probes.append(pr)
        return len(probes) - 1

    def half(role: str, family: str, fnames: list, pass_k: int, tmp: str, label: str, top_up: bool) -> None:
        s = sides[role]
        elapsed = time.monotonic() - t0
        eta = (f", ETA {bench.fmt_secs(elapsed / progress['done'] * (progress['total'] - progress['done']))}"
               if progress["done"] else "")
        say(f"{label} {role} {family} ({len(fnames)} benchmarks) — elapsed {bench.fmt_secs(elapsed)}{eta}")
        before = take_probe()
        out = Path(tmp) / f"{role}.{family}.{pass_k}.json"
        if family == "go":
            cmd = [str(s["go_binary"]), "-profile", args.profile, "-min-time", str(min_time), "-out", str(out),
                   "-filter", "^(" + "|".join(re.escape(n) for n in fnames) + ")$"]
        else:
            cmd = bench.cpp_command(s["binary"], fnames, s["args"], passthrough + fixed["args"], out)
        rec = bench.run_family(cmd, family, fnames, s["args"], out, timeout)
        rec.update(**{"pass": pass_k}, **({"top_up": True} if top_up else {}))
        s["records"].append(rec)
        doc = None
        if rec["status"] == "ok":
            try:
                doc = cr.load(out, check=False)
            except cr.ResultsError as e:
                rec["status"], rec["error"] = "failed", f"unreadable output: {e}"
        if doc is None:
            print(f"abtest: {role} {family} {rec['status']}: {rec.get('error', '')}", file=sys.stderr)
            s["benchmarks"] += [bench.placeholder(n, rec, pass_k) for n in fnames]
        else:
            if family == "go":
                s["go_context"] = s["go_context"] or doc["context"]
            else:
                s["context"] = s["context"] or doc["context"]
            for b in doc["benchmarks"]:
                b["pass"] = pass_k
                for k in ("name", "run_name"):  # one name per benchmark, fixed count or not
                    if isinstance(b.get(k), str):
                        b[k] = bench.ITERATIONS_PART.sub("", b[k])
                b["_probes"] = (before, before + 1)
                if top_up:
                    b["top_up"] = True
            s["benchmarks"] += doc["benchmarks"]
        progress["done"] += len(fnames)

    fam_index = {f: i for i, f in enumerate(sorted(families))}
    # After the first pass both builds run each benchmark for a fixed number of
    # iterations (when both binaries can): see fixed_iterations.
    fixed: dict = {"args": [], "used": False,
                   "possible": bool(names) and not args.estimate_iterations
                   and all(supports_fixed_iterations(s["binary"]) for s in sides.values())}
    with tempfile.TemporaryDirectory(prefix="conpat-abtest-") as tmp:
        for pass_k in range(1, passes + 1):
            if pass_k == 2 and fixed["possible"]:
                counts = fixed_iterations(sides["base"]["benchmarks"] + sides["head"]["benchmarks"], min_time)
                if counts:
                    path = Path(tmp) / "iterations.json"
                    path.write_text(json.dumps(counts, indent=1, sort_keys=True) + "\n")
                    fixed.update(args=[f"--conpat_iterations={path}"], used=True)
            order = list(families.items())
            random.Random(pass_k).shuffle(order)
            for j, (family, fnames) in enumerate(order, 1):
                for role in half_order(pass_k, fam_index[family]):
                    half(role, family, fnames, pass_k, tmp, f"[pass {pass_k}/{passes}] [{j}/{len(order)}]", False)
                # As soon as both binaries have recorded their build: refuse before the
                # remaining passes are spent on builds that cannot be compared.
                check_recorded_builds(sides)
        take_probe()
        missing_before = None
        for t in range(1, (0 if args.no_top_up else max_top_ups(passes)) + 1):
            mark_states(sides, probes)
            pairs = make_pairs(sides["base"]["benchmarks"], sides["head"]["benchmarks"])
            lacking = shortfall(pairs, passes)
            short = sorted(lacking)
            if not short:
                break
            missing = sum(lacking.values())
            if missing_before is not None and missing >= missing_before:
                say(f"top-ups stopped: the last one did not reduce the pairs still missing ({missing}); the "
                    "machine keeps changing state")
                break
            missing_before = missing
            label_of = {cr.key_label(cr.key_of(dict(zip(("family", "impl", "params"), cr.parse_name(n))))): n
                        for n in names}
            short_names = [label_of[k] for k in short if k in label_of]  # Go has no top-ups: one process for all
            if not short_names:
                break
            pass_k = passes + t
            fams = bench.group_by_family(short_names)
            progress["total"] += 2 * len(short_names)
            say(f"top-up {t}: {len(short_names)} benchmark(s) lost pairs to a change of machine state; "
                "running them again")
            for j, (family, fnames) in enumerate(sorted(fams.items()), 1):
                for role in half_order(pass_k, fam_index[family]):
                    half(role, family, fnames, pass_k, tmp, f"[top-up {t}] [{j}/{len(fams)}]", True)
            take_probe()

    if sides["base"]["context"] is None or sides["head"]["context"] is None:
        raise Fail("every C++ family failed in one of the builds; nothing to compare", code=1)
    check_recorded_builds(sides)
    cb = sides["base"]["context"]["conpat"]
    if fb["cxx_flags"] is None:
        fb = {"preset": None, **{f: cb.get(f) for f in compare.BUILD_FIELDS}}
    state = mark_states(sides, probes)
    for s in sides.values():
        s["state"] = {**state, "marked": sum(1 for b in s["benchmarks"] if b.get("state_shift"))}
    pairs = make_pairs(sides["base"]["benchmarks"], sides["head"]["benchmarks"])
    rows = paired_rows(pairs, args.min_effect, args.fdr)
    dropped = sum(r["dropped_state"] for r in pairs.values())
    kept = sum(len(r["pairs"]) for r in pairs.values())

    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    files = {}
    for role, s in sides.items():
        doc = assemble(s, probes, passes, start_iso,
                       [f"abtest {role}: measured interleaved with {'head' if role == 'base' else 'base'} "
                        f"({sides['head' if role == 'base' else 'base']['short']})"])
        target = Path(args.out_dir) / args.machine / f"{stamp}-{s['short']}{'-dirty' if s['dirty'] else ''}-{role}.json"
        try:
            cr.validate(doc, target)
        except cr.ResultsError as e:
            target = target.with_name(target.stem + ".invalid.json")
            print(f"abtest: {e}; kept as {target}", file=sys.stderr)
        try:
            cr.write_new(target, doc)
        except cr.ResultsError as e:
            raise Fail(str(e), code=1) from None
        files[role] = str(target)

    res = {"baseline": files["base"], "other": files["head"], "paired": True, "comparable": True, "build_diff": [],
           "base": {"rev": sides["base"]["rev"], "commit": sides["base"]["sha"], "dirty": sides["base"]["dirty"]},
           "head": {"rev": sides["head"]["rev"], "commit": sides["head"]["sha"], "dirty": sides["head"]["dirty"]},
           "build": fb, "profile": args.profile, "passes": passes, "min_time_s": min_time,
           "fixed_iterations": fixed["used"],
           "min_effect_pct": args.min_effect, "fdr": args.fdr,
           "pairs": {"kept": kept, "dropped_state": dropped, "usual_c2c_round_trip_ns": state["usual_c2c_round_trip_ns"],
                     "probes": len(probes)},
           "rows": rows}
    gate_text = None
    code = 0
    if args.fail_on_regression is not None:
        code, gate_text = gate(rows, args.fail_on_regression, args.gate_metric, args.gate_oversubscribed)
        res["gate"] = {"threshold_pct": args.fail_on_regression,
                       "metrics": sorted(compare.gate_metrics(args.gate_metric)), "exit_code": code,
                       "message": gate_text}
    text = render(res, args.format)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n")
    else:
        print(text)
    failed = [f"{role} {r['family']}" for role, s in sides.items() for r in s["records"] if r["status"] != "ok"]
    say(f"done in {bench.fmt_secs(time.monotonic() - t0)}; {kept} pairs kept, {dropped} left out (halves in "
        f"different machine states); results: {files['base']} {files['head']}"
        + (f"; comparison: {args.out}" if args.out else ""))
    if failed:
        print(f"abtest: failed: {', '.join(failed)}", file=sys.stderr)
    if gate_text:
        print(gate_text, file=sys.stderr)
    return code or (1 if failed else 0)


def gate(rows: list, pct: float, metrics: list | None, oversubscribed: bool) -> tuple:
    """(exit code, message): 1 when a gated row's whole adjusted interval lies
    above +pct; 2 when most gated rows have too few pairs to say; a passed
    gate says from what size on a regression would have tripped it."""
    gated = compare.gate_metrics(metrics)
    grows = [r for r in rows if r["metric"] in gated and (oversubscribed or not r["oversubscribed"])]
    tested = [r for r in grows if r["tested"]]
    if grows and len(tested) * 2 < len(grows):
        return 2, (f"abtest: cannot gate: {len(grows) - len(tested)} of {len(grows)} gated rows have too few pairs "
                   f"(fewer than {stats.min_pairs(LEVEL)}); run more --repetitions")
    code, msg = compare.gate(rows, pct, gated, oversubscribed, "abtest")
    # What a passed gate could have seen: a row trips it once its interval's
    # low end clears +pct, i.e. at about pct plus the distance from its
    # estimate down to that low end (the machine's noise in this run, and the
    # rows' number, set it; not the code).
    below = sorted(r["change_pct"] - r["change_ci_pct"][0] for r in tested
                   if r["verdict"] != "slower" and r["change_ci_pct"][0] is not None)
    if code == 0 and below:
        msg += (f"; a regression would have tripped it from about +{pct + below[len(below) // 2]:.0f}% in the median "
                f"row (+{pct + below[(len(below) * 9) // 10]:.0f}% in the noisiest tenth); more --repetitions or a "
                "quieter machine lower that")
    return code, msg


def render(res: dict, fmt: str) -> str:
    if fmt == "json":
        return json.dumps([res], indent=2)
    md = fmt == "markdown"
    rows = res["rows"]
    head = (f"{res['head']['rev']} ({res['head']['commit'][:7]}{', with uncommitted changes' if res['head']['dirty'] else ''})"
            f" vs base {res['base']['rev']} ({res['base']['commit'][:7]})")
    out = [f"## abtest: {head}" if md else f"== abtest: {head}",
           f"paired: {res['passes']} pass(es) of both builds interleaved (ABBA), {res['min_time_s']} s per sample"
           + (" (iteration counts fixed after the first pass)" if res.get("fixed_iterations") else "") + ", "
           f"profile {res['profile']}; build '{res['build']['cxx_flags']}' ({res['build']['compiler']}) on both",
           f"pairs: {res['pairs']['kept']} kept, {res['pairs']['dropped_state']} left out because their halves were "
           f"taken in different machine states",
           "change: [interval low, estimate, interval high] of head vs base in percent, slower positive (rates "
           "inverted): Hodges-Lehmann estimate of the paired log-ratios, exact Wilcoxon signed-rank interval "
           f"adjusted for the number of rows; slower/faster only when the whole interval lies beyond "
           f"+/-{res['min_effect_pct']:g} %", ""]
    shown = [r for r in rows if r["metric"] == "time_ns" or r["significant"]]
    out.append(compare.table(["benchmark", "metric", "base", "head", "change", "pairs", "verdict"],
                             [[r["benchmark"] + (" [oversubscribed]" if r["oversubscribed"] else ""), r["metric"],
                               r["baseline"], r["value"], compare.change_text(r),
                               f"{r['pairs']}" + (f" (-{r['pairs_dropped_state']})" if r["pairs_dropped_state"] else ""),
                               r["verdict"]] for r in shown], md))
    out.append("")
    out.append(compare.summary_line(rows, res["fdr"], unit="pairs", need=stats.min_pairs(LEVEL)))
    if res.get("gate"):
        out.append(res["gate"]["message"])
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
