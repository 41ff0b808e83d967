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
    # Go's workloads run as one process per Go release: family records "go@go1.19", ...;
    # the Rust peers (crossbeam-channel, flume) as one more, "rust".
    assert {r["family"] for r in ctx["families"] if not r["family"].startswith("go@") and r["family"] != "rust"} \
        == listed_families(binary)
    assert {r["family"][3:] for r in ctx["families"] if r["family"].startswith("go@")} == set(ctx.get("go_runtimes", {}))
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
    for b in cr.iterations(doc):
        assert b["impl"] and isinstance(b["params"], dict)
        assert b["items_per_second"] > 0
        assert b["pass"] in (1, 2, 3) or (b["pass"] in (4, 5) and b.get("top_up")), \
            "every sample says which repetition (or top-up pass) it is"
    # quick: 3 interleaved repetitions, each benchmark summarised by its median and interval
    assert ctx["repetitions"] == 3
    medians = [b for b in doc["benchmarks"] if b.get("aggregate_name") == "median"]
    assert medians and all(b["repetitions"] >= 3 and b["ci"]["lo"] <= b["real_time"] <= b["ci"]["hi"]
                           for b in medians)
    assert len(medians) == len(cr.samples(doc)), "one median per benchmark"
    probes = ctx["machine_state"]["probes"]
    assert len(probes) == 4, "a probe before each repetition and after the last"
    # One allowed CPU has no core-to-core round trip (null); the futex one is always there.
    assert all((p["c2c_round_trip_ns"] or 0) > 0 or ctx["hardware_threads"] == 1 for p in probes)
    assert all(p["futex_round_trip_ns"] > 0 for p in probes)
    foreign = set(ctx.get("foreign_impls", {}))  # the Rust peers' rows, like Go's, carry no probe of their own
    assert all(isinstance(b.get("state_c2c_ns"), (int, float)) for b in cr.iterations(doc)
               if b["impl"] != "" and not b["impl"].startswith("go_") and b["impl"] not in foreign) \
        or ctx["hardware_threads"] == 1, \
        "every C++ sample carries its own state probe"
    fs = ctx["derived"]["false_sharing"]
    assert fs["false_sharing_distance_bytes"] in (8, 64) and fs["hardware_destructive_interference_size"] > 0
    spsc = [b for b in cr.iterations(doc) if b["family"] == "channel.spsc"]
    assert all("lat_p99_ns" in b for b in spsc), "spsc reports latency percentiles"
    channel_rows = [b for b in cr.iterations(doc) if b["family"].startswith("channel.")]
    assert all(b.get("runner") == ("goroutine" if b["impl"].startswith("go_") else b["params"].get("runner", "thread"))
               for b in channel_rows), "every channel row says what its workers are"
    assert {"thread", "fiber"} <= {b["runner"] for b in channel_rows if b["impl"] == "channel"}
    if any(b["impl"] == "go_chan" for b in channel_rows):
        assert "timer" in ctx["impl_notes"]["go_chan"], "Go's timeout rows say their resolution is the timer's"
    if ctx["hardware_threads"] < 5:
        assert any(b["oversubscribed"] for b in doc["benchmarks"]), "4x1 on 2 cores is marked oversubscribed"
    checks = ctx["checks"]
    assert checks["exception_escaping_thread_ends_process"]["outcome"] is True, checks
    assert checks["errgroup_carries_exception"]["outcome"] is True, checks
    assert checks["loop_capture_by_reference_shares"]["outcome"] is True, checks
    assert checks["loop_capture_by_value_copies"]["outcome"] is True, checks
    # fan_in's merge on threads and fibers (and Go's FanIn), the ends' zero-cost rows.
    merge = [b for b in cr.iterations(doc) if b["family"] == "channel.merge"]
    assert {"thread", "fiber"} <= {b["runner"] for b in merge} and all(b["params"]["inputs"] >= 2 for b in merge)
    assert any(b["impl"] == "channel_ends" for b in channel_rows), "the ends run beside the channel they wrap"
    # Heap allocations per op: the counting operator new (C++) and, with Go, testing.AllocsPerRun.
    allocs = [b for b in cr.iterations(doc) if b["family"] in ("callback.dispatch", "callback.spawn")]
    assert allocs and all(b["allocs_per_op"] >= 0 and b["bytes_per_op"] >= 0 for b in allocs)
    per = {(b["family"], b["impl"], b["params"]["capture"]): b["allocs_per_op"] for b in allocs}
    assert per[("callback.dispatch", "template", "value")] == 0, "a template parameter holds a closure in place"
    assert per[("callback.dispatch", "std_function", "large")] >= 1, "64 bytes do not fit std::function's buffer"
    assert per[("callback.spawn", "std_thread", "value")] >= 1
    if shutil.which("go"):
        assert {"thread", "fiber", "goroutine"} <= {b["runner"] for b in merge}
        assert per[("callback.dispatch", "go_func", "ref")] >= 1, "a closure that escapes allocates in Go too"
        assert any("moved to heap" in line for line in ctx["go_escape"]["lines"]), ctx.get("go_escape")
    # The seed's experiments: every seed.* family, C++ threads and fibers and
    # Go, each row self-checked (an error would have failed the run above).
    seed = [b for b in cr.iterations(doc) if b["family"].startswith("seed.")]
    families = {"seed.buffered_fan_in", "seed.closed_fan_in", "seed.atomic_mutex", "seed.paced_writes",
                "seed.false_sharing"}
    assert {b["family"] for b in seed} == families
    runners = {(b["family"], b["runner"]) for b in seed}
    assert {("seed.buffered_fan_in", "thread"), ("seed.buffered_fan_in", "fiber"), ("seed.atomic_mutex", "thread"),
            ("seed.atomic_mutex", "fiber")} <= runners
    fan = [b for b in seed if b["family"] == "seed.buffered_fan_in"]
    assert all(b["requests"] == b["params"]["requests"] and b["e2e_p50_ms"] <= b["e2e_p95_ms"] <= b["e2e_p99_ms"]
               and b["throughput_rps"] > 0 and b["peak_live_producers"] >= 1 for b in fan), "every request answered"
    assert all(b["handoff_p95_ms"] > 0 and b["send_wait_mean_us"] >= 0 and b["start_late_p99_ms"] is not None
               for b in fan), "the waiting the channel causes, and how late the generator was"
    assert all(0 < b["rate_reached"] <= 1 for b in fan if b["params"]["burst"] < b["params"]["requests"])
    closed = [b for b in seed if b["family"] == "seed.closed_fan_in"]
    assert closed and all(b["peak_live_producers"] == b["params"]["workers"] for b in closed), "closed loop: workers"
    assert all(0 < b["rate_reached"] for b in seed if b["family"] == "seed.paced_writes")
    if shutil.which("go"):
        assert {f for f, r in runners if r == "goroutine"} == families, "every experiment runs in Go too"
        releases = {b["params"]["runtime"] for b in seed if b["runner"] == "goroutine"}
        assert releases == set(ctx["go_runtimes"]) and all(r.startswith("go1.") for r in releases), releases
        for rt, rec in ctx["go_runtimes"].items():  # each release's own loop-capture outcome
            assert rec["checks"]["go_loop_variable_shared"]["outcome"] is True, (rt, rec)
            if tuple(map(int, rt[2:].split("."))) >= (1, 22):
                assert rec["checks"]["go_loop_variable_shared_current_language"]["outcome"] is False, (rt, rec)
        assert checks["go_loop_variable_shared"]["outcome"] is True and "go1." in checks["go_loop_variable_shared"][
            "detail"], "the loop-variable outcome names Go's version"
        assert checks["go_recover_misses_other_goroutine"]["outcome"] is True, checks


def test_hang_wrong_result_and_crash_are_recorded_and_the_run_goes_on(binary, tmp_path):
    r = run(["--profile", "quick", "--min-time", "0.001", "--out-dir", str(tmp_path), "--binary", str(binary),
             "--watchdog", "1", "--quiet", "--", "--benchmark_filter=selftest|channel.pingpong/impl:channel/"],
            env={"CONPAT_BENCH_SELFTEST": "1"}, timeout=600)
    assert r.returncode == 1, "a failed family makes the run fail"
    doc = cr.load(only_file(tmp_path))
    families = doc["context"]["conpat"]["families"]
    by_family = {f["family"]: f for f in families if f["pass"] == 1}
    assert by_family["selftest.crash"]["status"] == "failed"
    later = [f for f in families if f["family"] == "selftest.crash" and f["pass"] > 1]
    assert later and all(f["status"] == "skipped" for f in later), "a crashing family is not rerun every pass"
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


def test_a_filter_matching_only_go_rows_runs_them(binary, tmp_path):
    if not shutil.which("go"):
        pytest.skip("Go is not installed")
    r = run(["--profile", "quick", "--repetitions", "1", "--out-dir", str(tmp_path), "--binary", str(binary),
             "--machine", "go-only", "--quiet", "--filter", r"^channel\.pingpong/impl:go_chan/"], timeout=600)
    assert r.returncode == 0, r.stdout[-1500:] + r.stderr[-1500:]
    doc = cr.load(only_file(tmp_path))  # schema-checked: the C++ binary's context, Go's rows only
    assert {(b["family"], b["impl"]) for b in cr.iterations(doc)} == {("channel.pingpong", "go_chan")}
    assert doc["context"]["conpat"]["machine"] == "go-only" and doc["context"]["conpat"]["go_runtimes"]


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


# ---- the driver against a stand-in binary: failures the real one rarely shows --------

FAKE = """#!/usr/bin/python3
import json, os, sys
args = sys.argv[1:]
names = ["fam.a/impl:x/n:1", "fam.b/impl:x/n:1"]
if any(a.startswith("--benchmark_list_tests") for a in args):
    print("\\n".join(names))
    sys.exit(0)
out = next(a.split("=", 1)[1] for a in args if a.startswith("--conpat_out="))
flt = next(a.split("=", 1)[1] for a in args if a.startswith("--benchmark_filter="))
family = "fam.a" if "fam\\\\.a" in flt else "fam.b"
mode = os.environ["FAKE_MODE"]
if mode == "truncated" and family == "fam.a":
    open(out, "w").write('{"context": {"conpat": {"machi')
    sys.exit(0)
ctx = json.load(open(os.environ["FAKE_CONTEXT"]))
if mode == "schema":
    del ctx["conpat"]["machine"]
name = family + "/impl:x/n:1"
bench = {"name": name, "run_name": name, "run_type": "iteration", "family": family, "impl": "x",
         "params": {"n": 1}, "oversubscribed": False, "real_time": 10.0, "cpu_time": 10.0, "time_unit": "ns",
         "iterations": 1, "items_per_second": 1e8}
json.dump({"context": ctx, "benchmarks": [bench]}, open(out, "w"))
"""


def fake_run(tmp_path, mode):
    from test_compare_report import context

    fake = tmp_path / "fake_bench"
    fake.write_text(FAKE)
    fake.chmod(0o755)
    ctx = tmp_path / "context.json"
    ctx.write_text(json.dumps(context("fake")))
    return run(["--profile", "quick", "--out-dir", str(tmp_path / "out"), "--machine", "fake", "--binary", str(fake),
                "--no-go", "--no-rust", "--quiet"], env={"FAKE_MODE": mode, "FAKE_CONTEXT": str(ctx)}, timeout=120)


def test_truncated_family_output_is_a_failed_family_not_a_traceback(tmp_path):
    r = fake_run(tmp_path, "truncated")
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    doc = cr.load(only_file(tmp_path / "out"))
    fams = {f["family"]: f for f in doc["context"]["conpat"]["families"] if f["pass"] == 1}
    assert fams["fam.a"]["status"] == "failed" and "unreadable output" in fams["fam.a"]["error"]
    assert fams["fam.b"]["status"] == "ok", "the other family is kept"


def test_a_merged_file_failing_the_schema_is_kept_under_another_name(tmp_path):
    r = fake_run(tmp_path, "schema")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    lines = [x for x in r.stderr.strip().splitlines() if "warning:" not in x]
    assert len(lines) == 1 and "schema mismatch" in lines[0] and ".invalid.json" in lines[0], lines
    kept = only_file(tmp_path / "out")
    assert kept.name.endswith(".invalid.json")
    kept_doc = json.loads(kept.read_text())
    samples = [b for b in kept_doc["benchmarks"] if b["run_type"] == "iteration"]
    assert len(samples) == 2 * 3, "nothing measured is lost: 2 benchmarks x 3 repetitions"
    with pytest.raises(cr.ResultsError):  # a kept invalid file is never taken for a run
        cr.newest(tmp_path / "out")
