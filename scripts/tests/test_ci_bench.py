"""scripts/ci-bench.sh end to end, as a CI job would run it: quick profile
with five repetitions on two benchmarks, against a fake baseline made from a
committed results file (every time scaled), so that the gate has a known
answer: a 1000x slower baseline passes, a 1000x faster one fails (wider than
anything this VM's slow state or a busy machine does to a blocking channel)."""

import json
import subprocess
from pathlib import Path

import pytest

import conpat_results as cr

ROOT = Path(__file__).resolve().parents[2]
CI = ROOT / "scripts" / "ci-bench.sh"
# The blocking channel only: a pure spinner (the rings) on a machine busy with
# anything else can be 100x slower than the committed reference.
FILTER = r"^channel\.pingpong/impl:channel/"


def fake_baseline(tmp_path: Path, factor: float) -> Path:
    """The committed reference run's pingpong rows, every time x factor, with every sample in the usual state."""
    source = next((f for d in sorted((ROOT / "results").iterdir()) if d.is_dir() for f in cr.results_files(d)), None)
    if source is None:
        pytest.skip("no committed results file to make a baseline from")
    doc = cr.load(source)
    keep = []
    for b in doc["benchmarks"]:
        if b.get("family") != "channel.pingpong" or b.get("run_type") != "iteration":
            continue
        b = dict(b, state_shift=False)
        for k in [k for k in b if k in ("real_time", "cpu_time") or (k.startswith("lat_p") and k.endswith("_ns"))]:
            b[k] = b[k] * factor
        b.pop("items_per_second", None)
        keep.append(b)
    assert keep, f"{source} has no channel.pingpong samples"
    doc["benchmarks"] = keep
    out = tmp_path / "baseline" / "ci-test" / "20200101T000000Z-base.json"
    out.parent.mkdir(parents=True)
    out.write_text(json.dumps(doc))
    return out.parent.parent


def ci(tmp_path: Path, baseline: Path, name: str):
    work = tmp_path / name
    r = subprocess.run(["bash", str(CI), "--no-deps", "--profile", "quick", "--repetitions", "5", "--filter", FILTER,
                        "--machine", "ci-test", "--baseline", str(baseline), "--work-dir", str(work)],
                       capture_output=True, text=True, timeout=900, cwd=tmp_path)
    return r, work


def test_ci_bench_passes_against_a_slower_baseline_and_leaves_everything_behind(tmp_path):
    r, work = ci(tmp_path, fake_baseline(tmp_path, 1000.0), "pass")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    results = list((work / "results" / "ci-test").glob("*.json.gz"))
    assert len(results) == 1
    doc = cr.load(results[0])
    assert {b["family"] for b in doc["benchmarks"]} == {"channel.pingpong"}
    assert (work / "gate.txt").read_text().startswith("gate passed")
    compare = (work / "compare.md").read_text()
    assert "faster" in compare and "| benchmark |" in compare
    assert (work / "report" / "index.html").stat().st_size > 1000
    assert (work / "report" / "REPORT.md").exists()
    summary = (work / "summary.md").read_text()
    assert "gate passed" in summary and "ci-test" in summary


def test_ci_bench_fails_the_job_on_a_regression(tmp_path):
    r, work = ci(tmp_path, fake_baseline(tmp_path, 0.001), "fail")
    assert r.returncode == 1, r.stdout[-2000:] + r.stderr[-2000:]
    verdict = (work / "gate.txt").read_text()
    assert verdict.startswith("gate FAILED") and "channel.pingpong" in verdict, verdict
    assert (work / "report" / "index.html").exists(), "the report is made even when the gate fails"


def test_ci_bench_refuses_bad_options_in_one_line(tmp_path):
    for args, needle in ((["--profile", "huge"], "--profile must be"), (["--gate", "ten"], "--fail-on-regression takes"),
                         (["--fail-on-regression", "ten"], "--fail-on-regression takes"),
                         (["--baseline", str(tmp_path), "--abtest-base", "HEAD"], "not both"),
                         (["--baseline", str(tmp_path / "nope")], "does not exist"),
                         (["--min-effect", "x"], "--min-effect takes"), (["--fdr", "5"], "--fdr takes"), (["--bogus"], "unknown option")):
        r = subprocess.run(["bash", str(CI), *args], capture_output=True, text=True)
        assert r.returncode == 2 and needle in r.stderr and len(r.stderr.strip().splitlines()) == 1, (args, r.stderr)


def test_ci_bench_help_explains_itself():
    r = subprocess.run(["bash", str(CI), "--help"], capture_output=True, text=True)
    assert r.returncode == 0
    for word in ("--baseline", "--fail-on-regression", "--abtest-base", "--history", "--pin", "--no-go",
                 "CONPAT_CI_BENCH_CMD", "Exit codes"):
        assert word in r.stdout
