"""compare.py and report.py on small fixture results written for the purpose."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

import conpat_results as cr

SCRIPTS = Path(__file__).resolve().parents[1]


def context(machine: str) -> dict:
    return {"conpat": {
        "schema_version": 1, "machine": machine, "cpu_model": f"CPU of {machine}", "hardware_threads": 2,
        "physical_cores": 2, "smt": False, "caches": [{"level": 1, "type": "Data", "size": "48K"}],
        "kernel": "Linux 6", "governor": "unavailable", "compiler": "g++ 12", "cxx_flags": "-O2",
        "build_type": "Release", "optimised": True,
        "libraries": {"boost": "1_74", "tbb": "2021.8", "benchmark": "1.7.1", "nlohmann_json": "3.11.2"},
        "git_commit": "abc1234", "git_dirty": False, "profile": "default",
        "start_time": "2026-01-01T00:00:00Z", "end_time": "2026-01-01T00:10:00Z",
        "cache_line_bytes": 64, "hardware_destructive_interference_size": 64, "warnings": [],
        "families": [{"family": "channel.spsc", "status": "ok", "benchmarks": 1, "wall_s": 1.0,
                      "steal_pct": 0.1, "other_cpu_pct": 0.2}],
        "derived": {"false_sharing": {"false_sharing_distance_bytes": 64, "hardware_destructive_interference_size": 64},
                    "writer_freq": {"unit_ns": 0.5, "ns_per_write": {"atomic_add": {"0": 18, "1000": 500},
                                                                      "mutex": {"0": 45, "1000": 505}},
                                    "crossovers": []}}}}


def bench(name: str, time_ns: float, reps: int = 1, spread: float = 0.01, **counters) -> list:
    family, impl, params = cr.parse_name(name)
    out = []
    for r in range(reps):
        t = time_ns * (1 + spread * (r - reps / 2) / reps)
        out.append({"name": name + "/real_time", "run_name": name + "/real_time", "run_type": "iteration",
                    "family": family, "impl": impl, "params": params, "oversubscribed": False,
                    "real_time": t, "cpu_time": t, "time_unit": "ns", "iterations": 100,
                    "items_per_second": 1e9 / t, **counters})
    return out


def run_doc(machine: str, slow: float = 1.0, reps: int = 5) -> dict:
    b = []
    for impl, base in (("channel", 100.0), ("ring", 10.0)):
        for cap in (0, 16, 1024):
            if impl == "ring" and cap == 0:
                continue
            t = base * (2.0 if cap == 0 else 1.0) * (slow if impl == "ring" else 1.0)
            b += bench(f"channel.spsc/impl:{impl}/cap:{cap}/payload:8/work:0", t, reps,
                       lat_p50_ns=t * 2, lat_p90_ns=t * 3, lat_p99_ns=t * 4, lat_p999_ns=t * 5)
        b += bench(f"channel.mpmc/impl:{impl}/cap:1024/producers:2/consumers:2", base * 2, reps)
    b += bench("collect.false_sharing/impl:counter/align:64/threads:2", 1e6, reps,
               packed_ns_per_op=15.0, padded_ns_per_op=5.0, packed_padded_slowdown=3.0)
    for s in (8, 64, 256):
        b += bench(f"collect.stride/impl:atomic_add/stride:{s}/threads:2", 1e6, reps, ns_per_op=15.0 if s < 64 else 5.0)
    for impl, c in (("atomic_add", 18.0), ("mutex", 45.0)):
        for w in (0, 1000):
            b += bench(f"collect.writer_freq/impl:{impl}/work:{w}/writers:2", 1e6, reps, ns_per_write=c + w * 0.5)
    for t in (0, 100000):
        b += bench(f"timeout.recv_for/impl:channel/timeout_ns:{t}", t + 1000, reps,
                   overshoot_p50_ns=1000.0, overshoot_p99_ns=2000.0)
    for pct in ("0", "10"):
        b += bench(f"callback.error_rate/impl:expected/error_pct:{pct}", 2.0, reps, ns_per_op=2.0)
    return {"context": context(machine), "benchmarks": b}


def write(tmp_path: Path, name: str, doc) -> Path:
    p = tmp_path / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return p


def script(name: str, *args):
    return subprocess.run([sys.executable, str(SCRIPTS / name), *map(str, args)], capture_output=True, text=True)


def one_line_error(r) -> str:
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


# ---- parsing and statistics ---------------------------------------------------

def test_fixtures_are_valid_results_files(tmp_path):
    cr.validate(run_doc("a"), "fixture")


def test_samples_group_repetitions_by_family_impl_params():
    s = cr.samples(run_doc("a", reps=5))
    key = ("channel.spsc", "ring", (("cap", "16"), ("payload", "8"), ("work", "0")))
    assert len(s[key]["metrics"]["time_ns"]) == 5
    assert cr.median([3, 1, 2]) == 2 and cr.median([1, 2, 3, 4]) == 2.5


def test_mann_whitney_separates_clear_shifts_only():
    sys.path.insert(0, str(SCRIPTS))
    import compare

    assert compare.mann_whitney([1, 1.1, 0.9, 1.05, 0.95], [2, 2.1, 1.9, 2.05, 1.95]) < 0.05
    assert compare.mann_whitney([1, 2, 3, 4, 5], [1.5, 2.5, 3.5, 4.5, 5.5]) > 0.05
    assert compare.mann_whitney([1], [2]) is None


# ---- compare ------------------------------------------------------------------

def test_compare_finds_a_significant_regression_and_gates_on_it(tmp_path):
    a = write(tmp_path, "a.json", run_doc("a"))
    b = write(tmp_path, "b.json", run_doc("b", slow=2.0))
    r = script("compare.py", a, b)
    assert r.returncode == 0, r.stderr
    assert "channel.spsc/impl:ring/cap:16" in r.stdout and "worse" in r.stdout
    assert "cpu_model" in r.stdout, "machine differences are shown"
    assert "ranking" in r.stdout
    r = script("compare.py", a, b, "--fail-on-regression", "10")
    assert r.returncode == 1 and "regression" in r.stderr
    r = script("compare.py", a, b, "--fail-on-regression", "80")
    assert r.returncode == 0, "a 50 % regression does not trip an 80 % gate"


def test_compare_json_and_markdown(tmp_path):
    a = write(tmp_path, "a.json", run_doc("a"))
    b = write(tmp_path, "b.json", run_doc("b", slow=2.0))
    out = json.loads(script("compare.py", a, b, "--format", "json").stdout)
    rows = {(r["benchmark"], r["metric"]): r for r in out[0]["rows"]}
    ring = rows[("channel.spsc/impl:ring/cap:16/payload:8/work:0", "time_ns")]
    assert ring["ratio"] == pytest.approx(2.0, rel=0.01) and ring["significant"] and ring["p_value"] < 0.05
    same = rows[("channel.spsc/impl:channel/cap:16/payload:8/work:0", "time_ns")]
    assert not same["significant"]
    assert out[0]["geomean"]["channel.spsc"] > 1
    md = script("compare.py", a, b, "--format", "markdown").stdout
    assert md.startswith("## ") and "| benchmark |" in md


def test_compare_single_repetitions_report_ratio_without_a_test(tmp_path):
    a = write(tmp_path, "a.json", run_doc("a", reps=1))
    b = write(tmp_path, "b.json", run_doc("b", slow=2.0, reps=1))
    out = json.loads(script("compare.py", a, b, "--format", "json").stdout)
    assert all(r["p_value"] is None and not r["significant"] for r in out[0]["rows"])


def test_compare_takes_directories_and_uses_the_newest_file(tmp_path):
    write(tmp_path, "A/m/20260101T000000Z-aaa.json", run_doc("old", slow=9.0))
    write(tmp_path, "A/m/20260102T000000Z-bbb.json", run_doc("a"))
    write(tmp_path, "B/m/20260103T000000Z-ccc.json", run_doc("b"))
    out = json.loads(script("compare.py", tmp_path / "A", tmp_path / "B", "--format", "json").stdout)
    assert out[0]["baseline"].endswith("20260102T000000Z-bbb.json")


@pytest.mark.parametrize("case", ["missing", "invalid_json", "schema", "nothing_in_common", "empty_dir", "old_version"])
def test_compare_bad_input_is_one_line_and_exit_2(tmp_path, case):
    good = write(tmp_path, "good.json", run_doc("a"))
    if case == "missing":
        bad = tmp_path / "nope.json"
    elif case == "invalid_json":
        bad = write(tmp_path, "bad.json", "{not json")
    elif case == "schema":
        doc = run_doc("b")
        del doc["context"]["conpat"]["machine"]
        bad = write(tmp_path, "bad.json", doc)
    elif case == "nothing_in_common":
        doc = run_doc("b")
        for x in doc["benchmarks"]:
            x["family"] = "other.family"
        bad = write(tmp_path, "bad.json", doc)
    elif case == "empty_dir":
        bad = tmp_path / "empty"
        bad.mkdir()
    else:
        doc = run_doc("b")
        doc["context"]["conpat"]["schema_version"] = 0
        bad = write(tmp_path, "bad.json", doc)
    line = one_line_error(script("compare.py", good, bad))
    assert str(bad) in line or bad.name in line
    if case == "old_version":
        assert "version 0" in line


# ---- report -------------------------------------------------------------------

PLOTS = ["channel_spsc_throughput", "channel_latency", "channel_mpmc_scaling", "false_sharing", "stride",
         "writer_freq", "timeout_overshoot", "error_rate"]


def test_report_makes_every_plot_html_and_markdown(tmp_path):
    a = write(tmp_path, "r/a/x.json", run_doc("a"))
    out = tmp_path / "report"
    r = script("report.py", a, "--out", out)
    assert r.returncode == 0, r.stderr
    for name in PLOTS:
        for ext in ("png", "svg"):
            assert (out / f"{name}.{ext}").stat().st_size > 1000, name
    page = (out / "index.html").read_text()
    assert page.count("<svg") == len(PLOTS), "every plot is inlined"
    assert "<script" not in page and "src=\"http" not in page and "<link" not in page, "self-contained"
    md = (out / "REPORT.md").read_text()
    assert "holds: 2.00x" in md, "buffered vs unbuffered verdict from the fixture"
    assert "packed loses 67 %" in md
    assert "does not hold: no crossover" in md


def test_report_with_two_machines_adds_the_heatmap(tmp_path):
    a = write(tmp_path, "a.json", run_doc("a"))
    b = write(tmp_path, "b.json", run_doc("b", slow=2.0))
    out = tmp_path / "report"
    assert script("report.py", a, b, "--out", out).returncode == 0
    assert (out / "machines_heatmap.svg").exists()
    assert "| claim | a | b |" in (out / "REPORT.md").read_text()


def test_report_bad_input_overwrites_nothing(tmp_path):
    out = tmp_path / "report"
    out.mkdir()
    (out / "index.html").write_text("old report")
    empty = tmp_path / "empty"
    empty.mkdir()
    one_line_error(script("report.py", empty, "--out", out))
    one_line_error(script("report.py", write(tmp_path, "bad.json", "[]"), "--out", out))
    assert (out / "index.html").read_text() == "old report"
