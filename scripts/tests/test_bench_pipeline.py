"""The benchmark driver end to end: results file, failures kept apart, bad input."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import conpat_results as cr

ROOT = Path(__file__).resolve().parents[2]
BENCH = [sys.executable, str(ROOT / "scripts" / "bench.py")]


def run(args, env=None, **kw):
    return subprocess.run(BENCH + args, capture_output=True, text=True, env={**os.environ, **(env or {})}, **kw)


def only_file(d: Path) -> Path:
    files = list(d.rglob("*.json"))
    assert len(files) == 1, files
    return files[0]


def listed_families(binary) -> set:
    out = subprocess.run([str(binary), "--conpat_profile=quick", "--benchmark_list_tests"],
                         capture_output=True, text=True, check=True).stdout
    return {line.split("/", 1)[0] for line in out.split()}


def test_quick_profile_writes_a_valid_complete_file(binary, tmp_path):
    r = run(["--profile", "quick", "--min-time", "0.001", "--out-dir", str(tmp_path), "--machine", "ci-box",
             "--binary", str(binary), "--quiet"], timeout=600)
    assert r.returncode == 0, r.stderr
    path = only_file(tmp_path)
    assert path.parent.name == "ci-box"
    assert str(path) in r.stdout, "the driver prints where the results went"
    doc = cr.load(path)
    cr.validate(doc, path)
    ctx = doc["context"]["conpat"]
    for key in ("machine", "cpu_model", "hardware_threads", "smt", "caches", "kernel", "governor", "compiler",
                "cxx_flags", "libraries", "git_commit", "git_dirty", "build_type", "profile", "start_time",
                "end_time"):
        assert key in ctx, key
    assert ctx["machine"] == "ci-box" and ctx["profile"] == "quick"
    assert set(ctx["libraries"]) >= {"boost", "tbb", "benchmark", "nlohmann_json"}
    assert ctx["optimised"] is True
    assert {r["family"] for r in ctx["families"]} - {"go"} == listed_families(binary)
    # Noise is recorded per family (null only when a family ran under one clock tick).
    assert all(r["status"] == "ok" and "steal_pct" in r and "other_cpu_pct" in r for r in ctx["families"]), \
        ctx["families"]
    errors = [b["name"] for b in doc["benchmarks"] if b.get("error_occurred")]
    assert errors == []
    assert {b["family"] for b in doc["benchmarks"]} == listed_families(binary)
    go = [b for b in doc["benchmarks"] if b["impl"].startswith("go_")]
    if shutil.which("go"):
        assert go and ctx["libraries"]["go"].startswith("go"), "Go's workloads run beside the C++ ones"
        assert {b["family"] for b in go} <= listed_families(binary), "Go uses the C++ family names"
    for b in doc["benchmarks"]:
        assert b["impl"] and isinstance(b["params"], dict)
        assert b["items_per_second"] > 0
    fs = ctx["derived"]["false_sharing"]
    assert fs["false_sharing_distance_bytes"] in (8, 64) and fs["hardware_destructive_interference_size"] > 0
    spsc = [b for b in doc["benchmarks"] if b["family"] == "channel.spsc"]
    assert all("lat_p99_ns" in b for b in spsc), "spsc reports latency percentiles"
    assert any(b["oversubscribed"] for b in doc["benchmarks"]), "4x1 on 2 cores is marked oversubscribed" \
        if ctx["hardware_threads"] < 5 else True


def test_hang_wrong_result_and_crash_are_recorded_and_the_run_goes_on(binary, tmp_path):
    r = run(["--profile", "quick", "--min-time", "0.001", "--out-dir", str(tmp_path), "--binary", str(binary),
             "--watchdog", "1", "--quiet", "--", "--benchmark_filter=selftest|channel.pingpong/impl:channel/"],
            env={"CONPAT_BENCH_SELFTEST": "1"}, timeout=600)
    assert r.returncode == 1, "a failed family makes the run fail"
    doc = cr.load(only_file(tmp_path))
    by_family = {f["family"]: f for f in doc["context"]["conpat"]["families"]}
    assert by_family["selftest.crash"]["status"] == "failed"
    assert by_family["channel.pingpong"]["status"] == "ok", "other families still complete"
    by_name = {b["family"]: b for b in doc["benchmarks"]}
    assert "watchdog: selftest.hang/impl:channel" in by_name["selftest.hang"]["error_message"]
    assert "wrong result" in by_name["selftest.wrong"]["error_message"]
    assert by_name["selftest.crash"]["error_occurred"]
    assert not by_name["channel.pingpong"].get("error_occurred")


def test_filter_matching_nothing_is_a_clear_error(binary, tmp_path):
    r = run(["--profile", "quick", "--out-dir", str(tmp_path), "--binary", str(binary), "--",
             "--benchmark_filter=no-such-benchmark"])
    assert r.returncode == 2
    assert "matches no benchmark" in r.stderr and "Traceback" not in r.stderr
    assert not list(tmp_path.rglob("*.json"))


def test_missing_binary_is_a_clear_error(tmp_path):
    r = run(["--binary", str(tmp_path / "nope")])
    assert r.returncode == 2 and "not built" in r.stderr and "Traceback" not in r.stderr


def test_results_files_are_never_overwritten(tmp_path):
    target = tmp_path / "m" / "x.json"
    cr.write_new(target, {"a": 1})
    with pytest.raises(cr.ResultsError, match="never overwrites"):
        cr.write_new(target, {"a": 2})
    assert json.loads(target.read_text()) == {"a": 1}


def test_names_parse_into_family_impl_and_params():
    assert cr.parse_name("channel.spsc/impl:mpmc_ring_padded/cap:1024/payload:8/real_time") == (
        "channel.spsc", "mpmc_ring_padded", {"cap": 1024, "payload": 8})
    assert cr.parse_name("x.y/impl:a/rate:0.1/mode:fast/repeats:5") == ("x.y", "a", {"rate": 0.1, "mode": "fast"})
