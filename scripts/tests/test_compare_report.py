"""compare.py and report.py on small fixture results written for the purpose."""

import json
import random
import re
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
        "checks": {"exception_escaping_thread_ends_process": {"outcome": True, "detail": "child ended by SIGABRT"},
                   "errgroup_carries_exception": {"outcome": True, "detail": "rethrown"},
                   "future_carries_exception": {"outcome": True, "detail": "rethrown"},
                   "loop_capture_by_reference_shares": {"outcome": True, "detail": "read [3 3 3]"},
                   "loop_capture_by_value_copies": {"outcome": True, "detail": "read [0 1 2]"},
                   "go_loop_variable_shared": {"outcome": True, "detail": "go1.19.8: read [3 3 3]"},
                   "go_recover_misses_other_goroutine": {"outcome": True, "detail": "child exited with code 2"},
                   "go_recover_catches_same_goroutine": {"outcome": True, "detail": "recovered"}},
        "derived": {"false_sharing": {"false_sharing_distance_bytes": 64, "hardware_destructive_interference_size": 64},
                    "writer_freq": {"unit_ns": 0.5, "ns_per_write": {"atomic_add": {"0": 18, "1000": 500},
                                                                      "mutex": {"0": 45, "1000": 505}},
                                    "crossovers": []}}}}


def bench(name: str, time_ns: float, reps: int = 1, spread: float = 0.01, rng=None, **counters) -> list:
    """reps repetitions: evenly spread by `spread` around time_ns, or, with an
    rng, log-normal noise of that relative size (for A/A pairs)."""
    family, impl, params = cr.parse_name(name)
    out = []
    for r in range(reps):
        if rng is not None:
            t = time_ns * rng.lognormvariate(0, spread)
        else:
            t = time_ns * (1 + spread * (r - reps / 2) / reps)
        out.append({"name": name + "/real_time", "run_name": name + "/real_time", "run_type": "iteration",
                    "family": family, "impl": impl, "params": params, "oversubscribed": False,
                    "real_time": t, "cpu_time": t, "time_unit": "ns", "iterations": 100,
                    "items_per_second": 1e9 / t,
                    # counters vary with the repetition's noise, as measured ones do
                    **{k: v * t / time_ns for k, v in counters.items()}})
    return out


def run_doc(machine: str, slow: float = 1.0, reps: int = 5, seed: int | None = None, noise: float = 0.01,
            slow_family: str | None = None, unbuffered_factor: float = 2.0, mutex_ns: float = 45.0,
            buffer_gain: float = 2.0, fs_loss: float = 0.6) -> dict:
    """A fixture run. `slow` multiplies the ring's times (or, with
    slow_family, every time in that family); a seed draws log-normal noise."""
    rng = random.Random(seed) if seed is not None else None

    def f(family, impl, t):
        if slow_family is not None:
            return t * (slow if family == slow_family else 1.0)
        return t * (slow if impl == "ring" else 1.0)

    b = []
    for impl, base in (("channel", 100.0), ("ring", 10.0)):
        for cap in (0, 16, 1024):
            if impl == "ring" and cap == 0:
                continue
            t = f("channel.spsc", impl, base * (unbuffered_factor if cap == 0 else 1.0))
            b += bench(f"channel.spsc/impl:{impl}/cap:{cap}/payload:8/work:0", t, reps, noise, rng,
                       ns_per_item=t / 4096, lat_p50_ns=t * 2, lat_p90_ns=t * 3, lat_p99_ns=t * 4, lat_p999_ns=t * 5)
        b += bench(f"channel.mpmc/impl:{impl}/cap:1024/producers:2/consumers:2", f("channel.mpmc", impl, base * 2),
                   reps, noise, rng)
    b += bench("collect.false_sharing/impl:counter/align:64/threads:2", 1e6, reps, noise, rng,
               packed_ns_per_op=15.0, padded_ns_per_op=5.0, packed_padded_slowdown=3.0)
    for s in (8, 64, 256):
        b += bench(f"collect.stride/impl:atomic_add/stride:{s}/threads:2", 1e6, reps, noise, rng,
                   ns_per_op=15.0 if s < 64 else 5.0)
    for impl, c in (("atomic_add", 18.0), ("mutex", mutex_ns)):
        for w in (0, 1000):
            b += bench(f"collect.writer_freq/impl:{impl}/work:{w}/writers:2", 1e6, reps, noise, rng,
                       ns_per_write=c + w * 0.5)
    for t in (0, 100000):
        b += bench(f"timeout.recv_for/impl:channel/timeout_ns:{t}", t + 1000, reps, noise, rng,
                   overshoot_p50_ns=1000.0, overshoot_p99_ns=2000.0)
    for pct in ("0", "10"):
        b += bench(f"callback.error_rate/impl:expected/error_pct:{pct}", 2.0, reps, noise, rng, ns_per_op=2.0)
    b += seed_rows(reps, noise, rng, mutex_ns, buffer_gain, fs_loss)
    return {"context": context(machine), "benchmarks": b}


def seed_rows(reps, noise, rng, mutex_ns, buffer_gain, fs_loss, late_ms=0.5) -> list:
    """The seed.* families on every side: C++ threads, C++ fibers, Go.
    buffer_gain: cap 1024's advantage over cap 0 in throughput and P95 (its
    2.5th power in peak producers); late_ms: the open-loop generators' start-late P99."""
    b = []
    go = lambda impl, runner: "go_" + impl if runner == "goroutine" else impl  # noqa: E731
    tail = "service_p50_ms:20/service_p99_ms:80/consume_us:80"
    for runner in ("thread", "fiber", "goroutine"):
        ch = "go_chan" if runner == "goroutine" else "channel"
        for cap in (0, 1024):
            g = buffer_gain if cap == 1024 else 1.0
            for qps, burst, req, stall in ((5000, 2000, 10000, 0), (20000, 2000, 10000, 0), (2000, 0, 4000, 150)):
                b += bench(f"seed.buffered_fan_in/impl:{ch}/runner:{runner}/cap:{cap}/qps:{qps}/burst:{burst}/requests:{req}/"
                           f"{tail}/stall_every_ms:{200 if stall else 0}/stall_ms:{stall}",
                           2e9, reps, noise, rng, throughput_rps=4000.0, e2e_p95_ms=120.0, handoff_p95_ms=120.0 / g,
                           peak_live_producers=2000.0 / g ** 2.5, peak_blocked_producers=1000.0 / g,
                           start_late_p99_ms=late_ms, rate_reached=1.0)
            b += bench(f"seed.closed_fan_in/impl:{ch}/runner:{runner}/cap:{cap}/workers:60/requests:2000/{tail}/"
                       "stall_every_ms:200/stall_ms:150", 2e9, reps, noise, rng, throughput_rps=1000.0 * g,
                       e2e_p95_ms=170.0, handoff_p95_ms=170.0 / g, peak_blocked_producers=60.0 / g)
        for w in (1, 2):
            b += bench(f"seed.atomic_mutex/impl:{go('atomic_add', runner)}/runner:{runner}/writers:{w}", 1e6, reps, noise,
                       rng, ns_per_op=15.0)
            b += bench(f"seed.atomic_mutex/impl:{go('mutex', runner)}/runner:{runner}/writers:{w}", 1e6, reps, noise,
                       rng, ns_per_op=mutex_ns * 3)
        if runner == "fiber":
            continue
        for rate in (1000, 10000, 1000000, 10000000):
            for impl, ns in (("slots_padded", 20.0), ("atomic_add", 30.0), ("mutex", mutex_ns)):
                b += bench(f"seed.paced_writes/impl:{go(impl, runner)}/runner:{runner}/writers:2/rate:{rate}", 1e6, reps,
                           noise, rng, write_ns=ns)
        b += bench(f"seed.false_sharing/impl:{'go_counter' if runner == 'goroutine' else 'counter'}/runner:{runner}"
                   f"/writers:2/align:64", 1e6, reps, noise, rng, throughput_loss=fs_loss)
    return b


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
    assert cr.mann_whitney([1, 1.1, 0.9, 1.05, 0.95], [2, 2.1, 1.9, 2.05, 1.95]) < 0.01
    assert cr.mann_whitney([1, 2, 3, 4, 5], [1.5, 2.5, 3.5, 4.5, 5.5]) > 0.05
    assert cr.mann_whitney([1], [2]) is None


def test_median_interval_from_order_statistics():
    one = cr.median_ci([5.0])
    assert one["median"] == 5.0 and one["lo"] is None and one["n"] == 1
    five = cr.median_ci([5, 1, 4, 2, 3])
    assert (five["median"], five["lo"], five["hi"]) == (3, 1, 5)
    assert five["coverage"] == pytest.approx(1 - 2 / 32), "below 6 samples: [min, max], 93.75 %"
    ten = cr.median_ci(range(1, 11))
    assert (ten["lo"], ten["hi"]) == (2, 9) and ten["coverage"] >= 0.95
    assert cr.ratio_ci(cr.median_ci([10, 11, 12]), cr.median_ci([4, 5, 6])) == (10 / 6, 12 / 4)


@pytest.mark.parametrize("lo,hi,answer", [(1.1, 1.5, "holds"), (0.5, 0.9, "does not hold"),
                                          (0.9, 1.2, "inconclusive"), (None, None, "inconclusive")])
def test_three_way_verdicts_can_come_out_each_way(lo, hi, answer):
    assert cr.three_way(lo, hi, above=1.0) == answer


# ---- reading files --------------------------------------------------------------

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def test_plain_google_benchmark_positional_arguments_stay_apart():
    doc = cr.load(FIXTURES / "plain_gbench.json")
    s = cr.samples(doc)
    keys = sorted(s)
    assert [dict(k[2]) for k in keys] == [{"arg0": "64"}, {"arg0": "8"}], keys
    assert all(len(s[k]["metrics"]["time_ns"]) == 5 for k in keys), "aggregates are not samples"
    assert cr.parse_name("BM_Foo/8/64/real_time") == ("BM_Foo", "", {"arg0": 8, "arg1": 64})


def test_plain_files_from_different_hosts_are_not_the_same_machine(tmp_path):
    a = FIXTURES / "plain_gbench.json"
    doc = json.loads(a.read_text())
    doc["context"]["host_name"] = "another-box"
    doc["context"]["num_cpus"] = 64
    b = write(tmp_path, "b.json", doc)
    r = script("compare.py", a, b)
    assert r.returncode == 0, r.stderr
    assert "benchmark.host_name" in r.stdout and "another-box" in r.stdout
    assert "same machine" not in r.stdout


def test_a_conpat_file_missing_required_fields_is_not_filled_in_before_validation(tmp_path):
    doc = run_doc("a")
    for x in doc["benchmarks"]:
        del x["family"]
    line = one_line_error(script("compare.py", write(tmp_path, "a.json", run_doc("a")), write(tmp_path, "b.json", doc)))
    assert "schema mismatch" in line and "family" in line


def test_directory_input_skips_the_schema_and_non_results_json(tmp_path):
    write(tmp_path, "results/schema/v1.json", {"$schema": "x"})
    write(tmp_path, "results/m/20260102T000000Z-bbb.json", run_doc("a"))
    write(tmp_path, "results/m/20260103T000000Z-ccc.invalid.json", run_doc("bad"))
    assert cr.newest(tmp_path / "results").name == "20260102T000000Z-bbb.json"
    only_schema = tmp_path / "only"
    write(only_schema, "schema/v1.json", {"$schema": "x"})
    with pytest.raises(cr.ResultsError):
        cr.newest(only_schema)


# ---- compare ------------------------------------------------------------------

def test_compare_finds_a_significant_regression_and_gates_on_it(tmp_path):
    # Three rows of 69 slowed: 8 samples a side single them out at FDR 5 % (5 cannot: p >= 0.008 each)
    a = write(tmp_path, "a.json", run_doc("a", reps=8))
    b = write(tmp_path, "b.json", run_doc("b", slow=2.0, reps=8))
    r = script("compare.py", a, b)
    assert r.returncode == 0, r.stderr
    assert "channel.spsc/impl:ring/cap:16" in r.stdout and "slower" in r.stdout
    assert "slower is positive" in r.stdout, "the convention is stated"
    assert "cpu_model" in r.stdout, "machine differences are shown"
    assert "ranking" in r.stdout and "by chance alone" in r.stdout
    assert "median |ratio - 1|" in r.stdout and "% of rows within 15 %" in r.stdout
    r = script("compare.py", a, b, "--fail-on-regression", "10")
    assert r.returncode == 1 and "regression" in r.stderr and "change: [+" in r.stderr
    r = script("compare.py", a, b, "--fail-on-regression", "120")
    assert r.returncode == 0, "a 100 % slowdown does not trip a 120 % gate"


def test_compare_json_and_markdown(tmp_path):
    a = write(tmp_path, "a.json", run_doc("a", reps=8))
    b = write(tmp_path, "b.json", run_doc("b", slow=2.0, reps=8))
    out = json.loads(script("compare.py", a, b, "--format", "json").stdout)
    rows = {(r["benchmark"], r["metric"]): r for r in out[0]["rows"]}
    ring = rows[("channel.spsc/impl:ring/cap:16/payload:8/work:0", "time_ns")]
    assert ring["ratio"] == pytest.approx(2.0, rel=0.01) and ring["significant"] and ring["p_value"] < 0.01
    assert ring["change_pct"] == pytest.approx(100, rel=0.02), "slower is positive: time ratio - 1"
    lo, hi = ring["change_ci_pct"]
    assert 90 < lo <= ring["change_pct"] <= hi < 110, "the interval is around the change"
    assert ("channel.spsc/impl:ring/cap:16/payload:8/work:0", "items_per_second") not in rows, \
        "items/s is the same measurement as time and is not tested twice"
    same = rows[("channel.spsc/impl:channel/cap:16/payload:8/work:0", "time_ns")]
    assert not same["significant"] and same["verdict"] == "no change"
    assert out[0]["geomean"]["channel.spsc"] > 1
    md = script("compare.py", a, b, "--format", "markdown").stdout
    assert md.startswith("## ") and "| benchmark |" in md


@pytest.mark.parametrize("pct,trips", [(14, True), (9, False)])
def test_regression_threshold_from_both_sides(tmp_path, pct, trips):
    # 9 %: slower (beyond the 5 % minimum effect) but the interval reaches below 10 %: no trip
    a = write(tmp_path, "a.json", run_doc("a", reps=8))
    b = write(tmp_path, "b.json", run_doc("b", slow=1 + pct / 100, slow_family="channel.mpmc", reps=8))
    r = script("compare.py", a, b, "--fail-on-regression", "10", "--format", "json")
    row = next(x for x in json.loads(r.stdout)[0]["rows"]
               if x["family"] == "channel.mpmc" and x["metric"] == "time_ns")
    assert row["change_pct"] == pytest.approx(pct, abs=0.5) and row["significant"]
    assert r.returncode == (1 if trips else 0), r.stderr


def test_a_faster_run_does_not_trip_the_gate(tmp_path):
    a = write(tmp_path, "a.json", run_doc("a"))
    b = write(tmp_path, "b.json", run_doc("b", slow=0.5))
    r = script("compare.py", a, b, "--fail-on-regression", "10", "--format", "json")
    assert r.returncode == 0
    assert any(x["verdict"] == "faster" and x["change_pct"] < -40 for x in json.loads(r.stdout)[0]["rows"])


def test_aa_pair_comes_out_no_change_and_passes_the_gate(tmp_path):
    # Two runs of the same code: same distributions, different draws (3 % noise).
    a = write(tmp_path, "a.json", run_doc("a", seed=1, noise=0.03))
    b = write(tmp_path, "b.json", run_doc("a", seed=2, noise=0.03))
    r = script("compare.py", a, b, "--fail-on-regression", "10", "--format", "json")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)[0]["rows"]
    no_change = sum(1 for x in rows if x["verdict"] == "no change")
    assert no_change >= 0.95 * len(rows), f"{no_change} of {len(rows)}"


@pytest.mark.parametrize("family", ["channel.spsc", "channel.mpmc"])
def test_one_family_twenty_percent_slower_is_caught(tmp_path, family):
    a = write(tmp_path, "a.json", run_doc("a", seed=1, noise=0.03, reps=8))
    b = write(tmp_path, "b.json", run_doc("a", seed=2, noise=0.03, slow=1.2, slow_family=family, reps=8))
    r = script("compare.py", a, b, "--fail-on-regression", "10")
    assert r.returncode == 1, r.stdout[-500:]
    assert family in r.stderr


def test_everything_three_times_slower_is_caught(tmp_path):
    a = write(tmp_path, "a.json", run_doc("a", seed=1, noise=0.03))
    doc = run_doc("a", seed=2, noise=0.03)
    for x in doc["benchmarks"]:
        x["real_time"] *= 3
        x["items_per_second"] /= 3
    r = script("compare.py", a, write(tmp_path, "b.json", doc), "--fail-on-regression", "10", "--format", "json")
    assert r.returncode == 1
    time_rows = [x for x in json.loads(r.stdout)[0]["rows"] if x["metric"] == "time_ns"]
    assert all(x["verdict"] == "slower" for x in time_rows)


def test_single_repetitions_get_no_test_and_the_gate_refuses(tmp_path):
    a = write(tmp_path, "a.json", run_doc("a", reps=1))
    b = write(tmp_path, "b.json", run_doc("b", slow=3.0, reps=1))
    out = json.loads(script("compare.py", a, b, "--format", "json").stdout)
    assert all(r["p_value"] is None and not r["significant"] and "too few samples" in r["verdict"]
               for r in out[0]["rows"])
    line = one_line_error(script("compare.py", a, b, "--fail-on-regression", "10"))
    assert "cannot gate" in line and "PROFILE=default" in line


def test_ranking_counts_only_multi_implementation_groups_and_significant_flips(tmp_path):
    a = run_doc("a")
    b = run_doc("b")
    # channel.mpmc: ring 20, channel 200. Make them a near-tie in b, with ring a hair slower.
    for x in b["benchmarks"]:
        if x["family"] == "channel.mpmc" and x["impl"] == "ring":
            x["real_time"] *= 10.05
    sys.path.insert(0, str(SCRIPTS))
    import compare

    ranking = compare.ranking_stability(cr.load(write(tmp_path, "a.json", a)), cr.load(write(tmp_path, "b.json", b)),
                                        0.01)
    assert all(r["family"] != "channel.spsc" or r["params"].get("cap") != "0" for r in ranking), \
        "cap 0 has one implementation: not a ranking"
    mpmc = next(r for r in ranking if r["family"] == "channel.mpmc")
    assert mpmc["status"] == "tied", mpmc
    c = run_doc("c")
    for x in c["benchmarks"]:
        if x["family"] == "channel.mpmc" and x["impl"] == "ring":
            x["real_time"] *= 20
    ranking = compare.ranking_stability(cr.load(write(tmp_path, "a.json", a)), cr.load(write(tmp_path, "c.json", c)),
                                        0.01)
    assert next(r for r in ranking if r["family"] == "channel.mpmc")["status"] == "changed"


def test_compare_takes_directories_and_uses_the_newest_file(tmp_path):
    write(tmp_path, "A/m/20260101T000000Z-aaa.json", run_doc("old", slow=9.0))
    write(tmp_path, "A/m/20260102T000000Z-bbb.json", run_doc("a"))
    write(tmp_path, "B/m/20260103T000000Z-ccc.json", run_doc("b"))
    out = json.loads(script("compare.py", tmp_path / "A", tmp_path / "B", "--format", "json").stdout)
    assert out[0]["baseline"].endswith("20260102T000000Z-bbb.json")


@pytest.mark.parametrize("case", ["missing", "invalid_json", "schema", "nothing_in_common", "empty_dir", "old_version",
                                  "context_list", "entry_not_object", "only_schema_dir"])
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
    elif case == "context_list":
        bad = write(tmp_path, "bad.json", {"context": [], "benchmarks": []})
    elif case == "entry_not_object":
        bad = write(tmp_path, "bad.json", {"benchmarks": [1, 2]})
    elif case == "only_schema_dir":
        bad = tmp_path / "res"
        write(bad, "schema/v1.json", {"benchmarks": []})
    else:
        doc = run_doc("b")
        doc["context"]["conpat"]["schema_version"] = 0
        bad = write(tmp_path, "bad.json", doc)
    line = one_line_error(script("compare.py", good, bad))
    assert str(bad) in line or bad.name in line
    if case == "old_version":
        assert "version 0" in line


def test_a_context_less_file_sharing_benchmarks_compares_without_a_traceback(tmp_path):
    doc = run_doc("b")
    del doc["context"]
    r = script("compare.py", write(tmp_path, "a.json", run_doc("a")), write(tmp_path, "b.json", doc))
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr


# ---- report -------------------------------------------------------------------

# One plot per family of the fixture (file: the family's name), and the spsc latency percentiles.
PLOTS = ["channel_spsc", "channel_spsc_latency", "channel_mpmc", "collect_false_sharing", "collect_stride",
         "collect_writer_freq", "timeout_recv_for", "callback_error_rate", "seed_buffered_fan_in",
         "seed_closed_fan_in", "seed_atomic_mutex", "seed_paced_writes", "seed_false_sharing"]


def claims_of(md: str) -> dict:
    """claim text -> one dict per machine (machine, cpp, go, verdict cells), from REPORT.md's claims table."""
    rows = {}
    for line in md.splitlines():
        if line.startswith("| ") and "**" in line:
            cells = [c.strip() for c in line.strip("|").split(" | ")]
            rows.setdefault(cells[0], []).append({"machine": cells[2], "cpp": cells[3], "go": cells[4],
                                                  "verdict": cells[5]})
    return rows


def report(tmp_path, *docs, name="report"):
    paths = [write(tmp_path, f"in/{i}.json", d) for i, d in enumerate(docs)]
    out = tmp_path / name
    r = script("report.py", *paths, "--out", out)
    assert r.returncode == 0, r.stderr
    return out, claims_of((out / "REPORT.md").read_text())


def row_of(claims: dict, prefix: str, machine: int = 0) -> dict:
    return next(v for k, v in claims.items() if k.startswith(prefix))[machine]


def verdict_of(claims: dict, prefix: str, machine: int = 0) -> str:
    return row_of(claims, prefix, machine)["verdict"].split("**")[1]


def test_report_makes_every_plot_html_and_markdown(tmp_path):
    out, claims = report(tmp_path, run_doc("a"))
    for name in PLOTS:
        for ext in ("png", "svg"):
            assert (out / f"{name}.{ext}").stat().st_size > 1000, name
    page = (out / "index.html").read_text()
    assert page.count("<svg") == len(PLOTS), "every plot is inlined"
    assert "<script" not in page and "src=\"http" not in page and "<link" not in page, "self-contained"
    for needed in ("commit: abc1234", "g++ 12", "Linux 6", "repetitions per benchmark: 5", "2026-01-01T00:00:00Z"):
        assert needed in page and needed in (out / "REPORT.md").read_text(), needed
    for prefix in ("A 1024-slot result channel beats", "A 1024-slot result channel cuts", "A 1024-slot result channel keeps",
                   "Padding", "recover", "Goroutines started"):
        assert verdict_of(claims, prefix) == "holds", prefix
    row = row_of(claims, "A 1024-slot result channel beats")
    assert "2.00x [" in row["go"] and "C++ threads: holds" in row["cpp"] and "C++ fibers: holds" in row["cpp"], \
        "each side's ratio with its interval"
    assert "(Go)" in row["verdict"], "Go decides"
    assert "2 writers (2 hardware threads), not at 16" in (out / "REPORT.md").read_text(), "the setup says what was tested"


def test_report_aggregates_repetitions_into_one_point(tmp_path):
    out, claims = report(tmp_path, run_doc("a", reps=5))
    assert "n=5/5" in row_of(claims, "A 1024-slot result channel beats")["go"]
    sys.path.insert(0, str(SCRIPTS))
    import report as report_py

    doc = run_doc("a", reps=5)
    run = report_py.Run(Path("a.json"), cr.load(write(tmp_path, "a.json", doc)))
    spsc = run.select("channel.spsc", payload=8, work=0)
    assert len(spsc) == 5, "one point per benchmark (channel at 0/16/1024, ring at 16/1024), not per repetition"
    times = sorted(x["real_time"] for x in doc["benchmarks"] if x["run_name"].startswith("channel.spsc/impl:ring/cap:16/"))
    point = next(p for p in spsc if p["impl"] == "ring" and p["params"]["cap"] == 16)
    assert point["stats"]["time_ns"]["median"] == pytest.approx(times[2])
    assert (point["stats"]["time_ns"]["lo"], point["stats"]["time_ns"]["hi"]) == pytest.approx((times[0], times[-1]))


@pytest.mark.parametrize("gain,answer", [(2.0, "holds"), (0.8, "does not hold"), (1.1, "inconclusive")])
def test_buffered_claim_can_hold_fail_or_be_inconclusive(tmp_path, gain, answer):
    _, claims = report(tmp_path, run_doc("a", buffer_gain=gain, seed=3, noise=0.05))
    assert verdict_of(claims, "A 1024-slot result channel beats") == answer


def test_verdict_falls_back_to_cpp_when_go_did_not_run(tmp_path):
    doc = run_doc("a", buffer_gain=0.8)
    doc["benchmarks"] = [b for b in doc["benchmarks"] if b["params"].get("runner") != "goroutine"]
    _, claims = report(tmp_path, doc)
    row = row_of(claims, "A 1024-slot result channel beats")
    assert row["go"].startswith("not measured") and verdict_of(claims, "A 1024-slot result channel beats") == \
        "does not hold" and "C++ threads and C++ fibers" in row["verdict"]


def test_one_sample_is_never_a_verdict(tmp_path):
    _, claims = report(tmp_path, run_doc("a", reps=1))
    for prefix in ("A 1024-slot result channel beats", "An atomic add costs 10-20 ns, a mutex 100+ ns (un", "At 5k",
                   "Padding"):
        assert verdict_of(claims, prefix) == "inconclusive", prefix


@pytest.mark.parametrize("mutex_ns,answer", [(45.0, "does not hold"), (2030.0, "holds")])
def test_rate_rule_claim_follows_the_numbers(tmp_path, mutex_ns, answer):
    _, claims = report(tmp_path, run_doc("a", mutex_ns=mutex_ns))
    assert verdict_of(claims, "At 5k") == answer
    row = row_of(claims, "At 5k")
    if mutex_ns == 45.0:  # mutex 45 vs atomic 30 ns: 15 ns is 1 % of a writer's time at 666,667 writes/s
        assert re.search(r"starts to matter \(difference > 1 % of a writer's time per write\) at 6[5-7]\d,\d{3}/s \[",
                         row["go"]), row["go"]
        assert "overhead over go_slots_padded +25 / +10 ns" in row["go"], row["go"]
    else:  # a 2,000 ns difference is 1 % of a writer's time at 5,000 writes/s
        assert re.search(r"at [45],\d{3}/s \[", row["go"]), row["go"]


def test_pair_claim_outside_the_ranges_does_not_hold(tmp_path):
    _, claims = report(tmp_path, run_doc("a"))  # atomic 15 ns (inside 10-20), mutex 135 ns (100+)
    assert verdict_of(claims, "An atomic add costs 10-20 ns, a mutex 100+ ns (un") == "holds"
    _, claims = report(tmp_path, run_doc("a", mutex_ns=20.0), name="r2")  # mutex 60 ns: not 100+
    assert verdict_of(claims, "An atomic add costs 10-20 ns, a mutex 100+ ns (un") == "does not hold"


def test_check_claim_reads_the_recorded_outcome(tmp_path):
    doc = run_doc("a")
    doc["context"]["conpat"]["checks"]["go_recover_misses_other_goroutine"]["outcome"] = False
    _, claims = report(tmp_path, doc)
    assert verdict_of(claims, "recover") == "does not hold"
    assert row_of(claims, "recover")["cpp"].startswith("holds"), "C++'s outcome is its own"
    del doc["context"]["conpat"]["checks"]
    _, claims = report(tmp_path, doc, name="r2")
    assert verdict_of(claims, "recover") == "not measured"


def test_plain_google_benchmark_file_has_no_conpat_verdicts(tmp_path):
    out = tmp_path / "report"
    r = script("report.py", FIXTURES / "plain_gbench.json", "--out", out)
    assert r.returncode == 0, r.stderr
    claims = claims_of((out / "REPORT.md").read_text())
    # The article's setups as stated are untestable without a measurement (the model decides them); the rest unmeasured.
    assert all(v[0]["verdict"].startswith("**untestable**" if k.endswith("the article's setup as stated") else
                                          "**not measured**") for k, v in claims.items()), claims
    assert sum(k.endswith("the article's setup as stated") for k in claims) == 3
    md = (out / "REPORT.md").read_text()
    assert "{requests}" not in md and "{N}" not in md and "60 closed-loop producers" in md and "(4,000 in all" in md, \
        "setups are filled in unmeasured"


def test_report_with_two_machines_adds_the_heatmap(tmp_path):
    out, claims = report(tmp_path, run_doc("a"), run_doc("b", slow=2.0))
    assert (out / "machines_heatmap.svg").exists()
    assert [r["machine"] for r in next(iter(claims.values()))] == ["a", "b"]


def test_report_refuses_a_directory_that_is_not_a_report(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    line = one_line_error(script("report.py", write(tmp_path, "a.json", run_doc("a")), "--out", out))
    assert "not a conpat report directory" in line
    assert (out / "notes.txt").read_text() == "keep me"


def test_report_replaces_a_previous_report(tmp_path):
    a = write(tmp_path, "a.json", run_doc("a"))
    out = tmp_path / "report"
    assert script("report.py", a, "--out", out).returncode == 0
    assert (out / ".conpat-report").is_file()
    (out / "stale.png").write_text("old plot")
    assert script("report.py", a, "--out", out).returncode == 0
    assert not (out / "stale.png").exists(), "a previous report is replaced as a whole"


def test_report_bad_input_overwrites_nothing(tmp_path):
    out = tmp_path / "report"
    out.mkdir()
    (out / "index.html").write_text("old report")
    empty = tmp_path / "empty"
    empty.mkdir()
    one_line_error(script("report.py", empty, "--out", out))
    one_line_error(script("report.py", write(tmp_path, "bad.json", "[]"), "--out", out))
    one_line_error(script("report.py", write(tmp_path, "none.json", {"benchmarks": []}), "--out", out))
    assert (out / "index.html").read_text() == "old report"


def test_gate_looks_at_time_unless_asked_for_latency(tmp_path):
    a = write(tmp_path, "a.json", run_doc("a"))
    doc = run_doc("a")
    for x in doc["benchmarks"]:
        if "lat_p99_ns" in x:
            x["lat_p99_ns"] *= 2  # only the tail moved
    b = write(tmp_path, "b.json", doc)
    assert script("compare.py", a, b, "--fail-on-regression", "10").returncode == 0
    r = script("compare.py", a, b, "--fail-on-regression", "10", "--gate-metric", "lat_p99_ns")
    assert r.returncode == 1 and "lat_p99_ns" in r.stderr


# ---- machine state of each sample ----------------------------------------------

def with_states(doc: dict, c2c_of) -> dict:
    """Gives every sample a state_c2c_ns from c2c_of(benchmark, repetition index)."""
    seen: dict = {}
    for b in doc["benchmarks"]:
        k = seen[b["run_name"]] = seen.get(b["run_name"], -1) + 1
        b["state_c2c_ns"] = c2c_of(b, k)
    return doc


def test_samples_in_another_state_are_marked_and_left_out_when_enough_remain():
    sys.path.insert(0, str(SCRIPTS))
    import bench as bench_py

    # 6 samples per benchmark; the second is taken in a slow state (600 ns, 4x slower).
    doc = run_doc("a", reps=6, seed=3, noise=0.02)
    doc = with_states(doc, lambda b, k: 600.0 if k == 1 else 60.0)
    for b in doc["benchmarks"]:
        if b["state_c2c_ns"] > 100:
            b["real_time"] *= 4
    info = bench_py.mark_sample_states(doc["benchmarks"], {"shifted_passes": []})
    assert info["usual_c2c_round_trip_ns"] == 60.0
    assert info["marked"] == len(doc["benchmarks"]) // 6
    s = cr.samples(doc)
    key = next(k for k in s if k[1] == "ring" and dict(k[2]).get("cap") == "16")
    assert s[key]["n_taken"] == 6 and s[key]["n_off_state"] == 1 and not s[key]["state_mixed"]
    assert len(s[key]["metrics"]["time_ns"]) == 5
    assert max(s[key]["metrics"]["time_ns"]) < 15, "the slow sample is not in the summary"
    assert len(cr.samples(doc, all_states=True)[key]["metrics"]["time_ns"]) == 6, "every sample is kept"
    aggs = {a["run_name"]: a for a in bench_py.median_aggregates(doc["benchmarks"])}
    agg = aggs["channel.spsc/impl:ring/cap:16/payload:8/work:0/real_time"]
    assert agg["repetitions"] == 5 and agg["samples_taken"] == 6 and agg["state_shift_repetitions"] == 1
    assert agg["ci"]["hi"] < 15


def test_too_few_samples_in_the_usual_state_keep_every_sample_and_say_so():
    doc = with_states(run_doc("a", reps=5), lambda b, k: 600.0 if k < 3 else 60.0)
    for b in doc["benchmarks"]:
        b["state_shift"] = b["state_c2c_ns"] > 100
        b["real_time"] *= 3 if b["state_shift"] else 1
    s = cr.samples(doc)
    rec = next(iter(s.values()))
    assert rec["state_mixed"] and rec["n_off_state"] == 0 and len(rec["metrics"]["time_ns"]) == 5


def test_benchmarks_short_of_usual_samples_are_named_for_a_top_up():
    sys.path.insert(0, str(SCRIPTS))
    import bench as bench_py

    doc = with_states(run_doc("a", reps=5), lambda b, k: 600.0 if (k == 0 and "impl:ring" in b["name"]) else 60.0)
    bench_py.mark_sample_states(doc["benchmarks"], {"shifted_passes": []})
    short = bench_py.short_of_state(doc["benchmarks"], 5)
    assert short and all("impl:ring" in n for n in short)
    assert bench_py.short_of_state(doc["benchmarks"], 4) == []


def test_samples_without_their_own_probe_take_their_pass_state():
    sys.path.insert(0, str(SCRIPTS))
    import bench as bench_py

    doc = run_doc("a", reps=5)
    seen: dict = {}
    for b in doc["benchmarks"]:
        b["pass"] = seen[b["run_name"]] = seen.get(b["run_name"], 0) + 1
    bench_py.mark_sample_states(doc["benchmarks"], {"shifted_passes": [2]})
    assert {b["pass"] for b in doc["benchmarks"] if b["state_shift"]} == {2}


def test_aa_pair_with_state_episodes_agrees_once_they_are_left_out(tmp_path):
    """A slow episode (4x) in a different repetition of each run: without the
    state marks the medians move; with them both runs agree and the gate passes."""
    def run_with_episode(seed, slow_rep):
        doc = with_states(run_doc("a", reps=6, seed=seed, noise=0.02),
                          lambda b, k: 500.0 if k in slow_rep else 55.0)
        for b in doc["benchmarks"]:
            if b["state_c2c_ns"] > 100:
                b["real_time"] *= 4
                b["cpu_time"] *= 4
                b["items_per_second"] /= 4
        sys.path.insert(0, str(SCRIPTS))
        import bench as bench_py

        bench_py.mark_sample_states(doc["benchmarks"], {"shifted_passes": []})
        return doc

    a = write(tmp_path, "a.json", run_with_episode(1, {0}))
    b = write(tmp_path, "b.json", run_with_episode(2, {3}))
    r = script("compare.py", a, b, "--format", "json", "--fail-on-regression", "10")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)[0]["rows"]
    time_rows = [x for x in rows if x["metric"] == "time_ns"]
    assert all(abs(x["ratio"] - 1) < 0.15 for x in time_rows), [x["ratio"] for x in time_rows]


# ---- report: hover values, two machines, history ---------------------------------

def test_every_plotted_point_has_its_value_on_hover(tmp_path):
    out, _ = report(tmp_path, run_doc("a"))
    svg = (out / "channel_spsc.svg").read_text()
    # channel at 0/16/1024 and ring at 16/1024: five points, five tooltips with the exact median.
    assert svg.count("<title>") >= 5
    assert "channel, cap=1024: ns_per_item" in svg
    page = (out / "index.html").read_text()
    assert page.count("<title>") > 20, "the inlined SVGs keep their tooltips"


def test_two_machine_report_has_heatmap_claims_columns_and_metadata_differences(tmp_path):
    a = run_doc("box-a")
    b = run_doc("box-b-taskset-c0", slow=2.0)
    b["context"]["conpat"].update(hardware_threads=1, cpu_model="CPU of box-b")
    out, claims = report(tmp_path, a, b)
    md = (out / "REPORT.md").read_text()
    assert (out / "machines_heatmap.svg").stat().st_size > 1000
    assert all([r["machine"] for r in rows] == ["box-a", "box-b-taskset-c0"] for rows in claims.values()), \
        "one verdict row per machine"
    assert "CPU: CPU of box-a, 2 hardware threads" in md and "CPU: CPU of box-b, 1 hardware threads" in md
    heat = (out / "machines_heatmap.svg").read_text()
    assert "channel.spsc: box-b-taskset-c0 / box-a geomean time ratio" in heat
    page = (out / "index.html").read_text()
    assert len(page.encode()) < 2_000_000, f"index.html is {len(page.encode())} bytes"


def test_two_runs_of_one_machine_label_are_told_apart(tmp_path):
    a, b = run_doc("box"), run_doc("box")
    b["context"]["conpat"]["git_commit"] = "def5678"
    out, claims = report(tmp_path, a, b)
    assert [r["machine"] for r in next(iter(claims.values()))] == ["box@abc1234", "box@def5678"]


def test_history_draws_a_machine_across_commits_and_rings_a_change(tmp_path):
    d = tmp_path / "results" / "box"
    for i, (sha, slow) in enumerate((("aaa1111", 1.0), ("bbb2222", 1.0), ("ccc3333", 1.6))):
        doc = run_doc("box", slow=slow, seed=i, noise=0.01)
        doc["context"]["conpat"].update(git_commit=sha, start_time=f"2026-01-0{i + 1}T00:00:00Z")
        write(d, f"2026010{i + 1}T000000Z-{sha}.json", doc)
    out = tmp_path / "report"
    r = script("report.py", d, "--out", out)
    assert r.returncode == 0, r.stderr
    svg = (out / "history_box.svg").read_text()
    for sha in ("aaa1111", "bbb2222", "ccc3333"):
        assert sha in svg
    # Only the fixture's "ring" slows down, and it is not a history series: no point is ringed.
    assert "false sharing, 2 threads: packed at bbb2222" in svg
    assert "History on box" in (out / "REPORT.md").read_text()
    tips = [t.split("</title>")[0] for t in svg.split("<title>")[1:]]
    assert [t for t in tips if "changed from the run before" in t] == [], "nothing in the history series moved"
    tested = [t for t in tips if "tested: no change from the run before" in t]
    # The fixture holds three of the history's series (spsc and mpmc 2x2 channel, false sharing), each tested
    # at bbb2222 and ccc3333 (5 samples a side).
    assert len(tested) == 3 * 2, tested


def test_history_marks_the_commit_where_a_series_moved(tmp_path):
    d = tmp_path / "results" / "box"
    for i, (sha, slow) in enumerate((("aaa1111", 1.0), ("bbb2222", 1.5))):
        doc = run_doc("box", seed=i, noise=0.01, slow=slow, slow_family="collect.false_sharing")
        for b in doc["benchmarks"]:
            if b["family"] == "collect.false_sharing":
                b["packed_ns_per_op"] *= slow
        doc["context"]["conpat"].update(git_commit=sha, start_time=f"2026-01-0{i + 1}T00:00:00Z")
        write(d, f"2026010{i + 1}T000000Z-{sha}.json", doc)
    out = tmp_path / "report"
    r = script("report.py", d, "--out", out)
    assert r.returncode == 0, r.stderr
    tips = (out / "history_box.svg").read_text().split("<title>")[1:]
    moved = [t.split("</title>")[0] for t in tips if "changed from the run before (95 % intervals apart" in t]
    assert len(moved) == 1 and "at bbb2222" in moved[0] and "1.496x the first run" in moved[0], moved  # summaries: 4 digits


def test_history_says_which_points_could_not_be_tested(tmp_path):
    d = tmp_path / "results" / "box"
    for i, (sha, reps) in enumerate((("aaa1111", 5), ("bbb2222", 3))):
        doc = run_doc("box", seed=i, reps=reps)
        doc["context"]["conpat"].update(git_commit=sha, start_time=f"2026-01-0{i + 1}T00:00:00Z")
        write(d, f"2026010{i + 1}T000000Z-{sha}.json", doc)
    out = tmp_path / "report"
    assert script("report.py", d, "--out", out).returncode == 0
    tips = [t.split("</title>")[0] for t in (out / "history_box.svg").read_text().split("<title>")[1:]]
    at_b = [t for t in tips if "at bbb2222" in t]
    assert at_b and all("not tested (fewer than 5 samples a side)" in t for t in at_b), at_b


def test_rows_thinned_by_the_machine_state_are_not_tested_and_the_gate_says_so(tmp_path):
    def doc_with_off(off_reps, seed):
        doc = with_states(run_doc("a", reps=5, seed=seed), lambda b, k: 600.0 if (k in off_reps and "impl:ring" in b["name"]) else 60.0)
        for b in doc["benchmarks"]:
            b["state_shift"] = b["state_c2c_ns"] > 100
            b["real_time"] *= 3 if b["state_shift"] else 1
        return doc

    # 3 usual samples a side: no exact test reaches 95 % (3 and 4, or 4 and 4 would)
    a = write(tmp_path, "a.json", doc_with_off({0, 1}, 1))
    b = write(tmp_path, "b.json", doc_with_off({3, 4}, 2))
    r = script("compare.py", a, b, "--format", "json", "--fail-on-regression", "10")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)[0]["rows"]
    thinned = [x for x in rows if x["state_thinned"]]
    assert thinned and all("impl:ring" in x["benchmark"] for x in thinned)
    assert all(x["verdict"].startswith("too few samples in the usual machine state") for x in thinned)
    assert "were not tested: too few samples in the usual machine state" in r.stderr
    # Most rows thinned (3 usual samples of 5 in both runs): no gate verdict can be given.
    thin = []
    for seed in (3, 4):
        c = write(tmp_path, f"c{seed}.json",
                  with_states(run_doc("a", reps=5, seed=seed), lambda b, k: 600.0 if k < 2 else 60.0))
        doc = json.loads(c.read_text())
        for x in doc["benchmarks"]:
            x["state_shift"] = x["state_c2c_ns"] > 100
            x["real_time"] *= 3 if x["state_shift"] else 1
        c.write_text(json.dumps(doc))
        thin.append(c)
    assert "usual machine state" in one_line_error(script("compare.py", *thin, "--fail-on-regression", "10"))


def test_a_benchmark_the_state_did_not_move_keeps_every_sample():
    # Marked samples within 10 % of the others: the state did not matter here.
    doc = with_states(run_doc("a", reps=6, seed=5, noise=0.01), lambda b, k: 600.0 if k < 3 else 60.0)
    for b in doc["benchmarks"]:
        b["state_shift"] = b["state_c2c_ns"] > 100
    rec = next(iter(cr.samples(doc).values()))
    assert len(rec["metrics"]["time_ns"]) == 6 and rec["n_off_state"] == 0 and not rec["state_mixed"]
    # ...and 1.5x slower marked samples are left out.
    for b in doc["benchmarks"]:
        b["real_time"] *= 1.5 if b["state_shift"] else 1
    rec = next(iter(cr.samples(doc).values()))
    assert len(rec["metrics"]["time_ns"]) == 3 and rec["n_off_state"] == 3


def test_a_baseline_and_a_new_run_of_one_machine_draw_one_history(tmp_path):
    for where, shas in (("base", ("aaa1111", "bbb2222")), ("new", ("bbb2222", "ccc3333"))):
        for i, sha in enumerate(shas):
            doc = run_doc("box", seed=i)
            doc["context"]["conpat"].update(git_commit=sha)
            write(tmp_path / where / "box", f"2026010{i + 1}T000000Z-{sha}.json", doc)
    out = tmp_path / "report"
    r = script("report.py", tmp_path / "base" / "box", tmp_path / "new" / "box", "--out", out)
    assert r.returncode == 0, r.stderr
    assert [p.name for p in out.glob("history_*.svg")] == ["history_box.svg"]
    assert "ccc3333" in (out / "history_box.svg").read_text(), "the later run's directory is drawn"


# ---- channel_table.py -----------------------------------------------------------


def channel_doc(reps: int = 5) -> dict:
    b = []
    for cap, go, thread, fiber in ((0, 100.0, 125.0, 90.0), (1024, 40.0, 20.0, 10.0)):
        name = f"channel.spsc/impl:{{}}/cap:{cap}/payload:8/work:0"
        b += bench(name.format("go_chan"), go * 4096, reps, ns_per_item=go)
        b += bench(name.format("channel"), thread * 4096, reps, ns_per_item=thread)
        b += bench(f"channel.spsc/impl:channel/runner:fiber/cap:{cap}/payload:8/work:0", fiber * 4096, reps,
                   ns_per_item=fiber)
    b += bench("channel.spsc/impl:spsc_ring_padded/cap:1024/payload:8/work:0", 10.0 * 4096, reps, ns_per_item=10.0)
    b += bench("channel.spsc/impl:channel/cap:1024/payload:64/work:0", 99.0 * 4096, reps, ns_per_item=99.0)
    b += bench("channel.pingpong/impl:go_chan/cap:0", 240.0, reps, ns_per_item=240.0)
    b += bench("channel.pingpong/impl:channel/cap:0", 200.0, reps, ns_per_item=200.0, rtt_per_c2c=4.0, c2c_ns=50.0)
    b += bench("channel.fan_in/impl:go_chan/runner:goroutine/workers:16/cap:64", 16 * 300.0, reps, ns_per_item=300.0)
    b += bench("channel.fan_in/impl:channel/runner:fiber/workers:16/cap:64", 16 * 400.0, reps, ns_per_item=400.0)
    return {"context": context("m1"), "benchmarks": b}


def test_channel_table_pairs_go_with_both_runners_cell_by_cell(tmp_path):
    import channel_table

    rows = channel_table.table(channel_doc())
    by_cell = {r[0]: r for r in rows[1:]}
    assert list(by_cell) == ["spsc cap 0", "spsc cap 1024", "pingpong cap 0", "fan_in 16 workers cap 64"], \
        "cells in reading order; the 64-byte payload row is not a cell of this table"
    assert by_cell["spsc cap 0"][3].startswith("0.80 ["), "Go / thread below 1: conpat slower"
    assert by_cell["spsc cap 0"][5].startswith("1.11 ["), "Go / fiber above 1: conpat faster"
    assert by_cell["spsc cap 1024"][3].startswith("2.00 [") and by_cell["spsc cap 1024"][5].startswith("4.00 [")
    assert by_cell["pingpong cap 0"][5] == "—", "no fiber row, no ratio"
    assert by_cell["fan_in 16 workers cap 64"][3] == "—" and by_cell["fan_in 16 workers cap 64"][5].startswith("0.75 [")
    figures = channel_table.machine_figures(channel_doc())
    assert any(f.startswith("spsc cap 1024: channel / spsc_ring_padded = 2.00 [") for f in figures), figures
    assert any(f.startswith("pingpong cap 0 (thread): round trip = 4 [") for f in figures), figures
    r = script("channel_table.py", write(tmp_path, "r/run.json", channel_doc()), "--format", "text")
    assert r.returncode == 0 and "spsc cap 1024" in r.stdout and "Go / fiber" in r.stdout, r.stderr


def test_channel_table_puts_the_rust_peers_beside_conpat_and_go():
    import channel_table
    import report

    doc = channel_doc()
    doc["context"]["conpat"]["foreign_impls"] = {"crossbeam_channel": "rust", "flume": "rust"}
    b = doc["benchmarks"]
    # Go rows as the Go harness names them now: with their runtime release.
    b += bench("channel.seq/impl:go_chan/cap:4096/runtime:go1.23", 4096 * 15.0, 5, ns_per_item=15.0)
    b += bench("channel.seq/impl:go_chan/cap:4096/runtime:go1.19", 4096 * 60.0, 5, ns_per_item=60.0)
    doc["context"]["conpat"]["libraries"]["go"] = "go1.19.8"  # the Go on PATH: its rows are the table's
    b += bench("channel.seq/impl:channel/cap:4096", 4096 * 30.0, 5, ns_per_item=30.0)
    b += bench("channel.seq/impl:crossbeam_channel/cap:4096", 4096 * 45.0, 5, ns_per_item=45.0)
    b += bench("channel.seq/impl:flume/cap:4096", 4096 * 90.0, 5, ns_per_item=90.0)
    b += bench("channel.spsc/impl:crossbeam_channel/cap:0/payload:8/work:0", 4096 * 250.0, 5, ns_per_item=250.0)
    b += bench("channel.fan_in/impl:flume/runner:thread/workers:16/cap:64", 16 * 800.0, 5, ns_per_item=800.0)
    b += bench("channel.fan_in/impl:channel/runner:thread/workers:16/cap:64", 16 * 400.0, 5, ns_per_item=400.0)
    rows = channel_table.table(doc)
    head = rows[0]
    assert head[6:] == ["crossbeam_channel ns", "crossbeam_channel / thread", "flume ns", "flume / thread"]
    by_cell = {r[0]: dict(zip(head, r)) for r in rows[1:]}
    seq = by_cell["seq cap 4096"]
    assert seq["Go / thread"].startswith("2.00 ["), "the Go on PATH's row (runtime:go1.19) is the cell's Go row"
    assert seq["crossbeam_channel / thread"].startswith("1.50 [") and seq["flume / thread"].startswith("3.00 [")
    spsc0 = by_cell["spsc cap 0"]
    assert spsc0["crossbeam_channel / thread"].startswith("2.00 [") and spsc0["flume ns"] == "—", \
        "a peer without the cell shows a dash"
    assert by_cell["fan_in 16 workers cap 64"]["flume / thread"].startswith("2.00 ["), "fan_in rows name runner:thread"
    # The report groups the Rust peers with Go's, drawn as foreign implementations.
    run = report.Run(Path("r/run.json"), doc)
    assert report.group_of("crossbeam_channel", [run]) == "Go and Rust" and report.is_foreign("flume")
    assert report.group_of("channel", [run]) == "conpat"


def test_channel_table_explains_bad_input(tmp_path):
    assert "no such file" in one_line_error(script("channel_table.py", tmp_path / "missing.json"))
    doc = run_doc("m1")
    doc["benchmarks"] = [b for b in doc["benchmarks"] if not b["family"].startswith("channel.")]
    assert "holds no channel" in one_line_error(script("channel_table.py", write(tmp_path, "x.json", doc)))


# ---- report: first screen, changes, summary.csv ---------------------------------------

def section(md: str, title: str) -> list[str]:
    """The table rows of one '## ' section of REPORT.md."""
    body = md.split(f"## {title}", 1)[1].split("\n## ", 1)[0]
    return [line for line in body.splitlines() if line.startswith("| ") and not line.startswith("| ---")][1:]


def test_summary_names_the_fastest_with_its_margin_and_channel_against_go(tmp_path):
    sys.path.insert(0, str(SCRIPTS))
    import report as report_py

    doc = channel_doc()
    doc["benchmarks"] = [b for b in doc["benchmarks"] if "spsc_ring_padded" not in b["name"]]
    run = report_py.Run(Path("m1.json"), cr.load(write(tmp_path, "m1.json", doc)))
    rows = {r["family"]: r for r in report_py.summary_rows([run])}
    spsc = rows["channel.spsc"]["cells"]["m1"]
    assert rows["channel.spsc"]["cells"]["m1"]["params"] == {"cap": 1024, "payload": 8, "work": 0}
    f = spsc["fastest"]
    assert (f["fastest"], f["runner_up"]) == ("channel (fiber)", "channel") and f["ratio"] == pytest.approx(2.0)
    assert f["lo"] < 2.0 < f["hi"] and not f["tie"]
    vs = {(r, g): ratio for r, g, ratio, lo, hi in spsc["vs"]}
    assert vs == {("channel", "go_chan"): pytest.approx(2.0), ("channel (fiber)", "go_chan"): pytest.approx(4.0)}, \
        "Channel's speed over Go's: Go's time / Channel's"
    assert report_py.vs_text(spsc["vs"]).startswith("thread 2.00x [")
    pp = rows["channel.pingpong"]["cells"]["m1"]["fastest"]
    assert pp["fastest"] == "channel" and pp["ratio"] == pytest.approx(1.2)
    # A margin whose interval reaches 1 is a tie, not a win.
    assert report_py.fastest([("a", cr.median_ci([10, 11, 12]), {}), ("b", cr.median_ci([10.5, 11.5, 12.5]), {})],
                             "time_ns")["tie"]
    # Rates: higher is faster.
    f = report_py.fastest([("a", cr.median_ci([10, 11, 12]), {}), ("b", cr.median_ci([30, 31, 32]), {})],
                          "items_per_second")
    assert f["fastest"] == "b" and f["ratio"] == pytest.approx(31 / 11)


def test_summary_compares_against_one_go_release_and_names_only_swept_parameters(tmp_path):
    sys.path.insert(0, str(SCRIPTS))
    import report as report_py

    doc = channel_doc()
    b = doc["benchmarks"]
    b += bench("channel.spsc/impl:go_chan/cap:1024/payload:8/work:0/runtime:go1.23", 10.0 * 4096, 5, ns_per_item=10.0)
    b += bench("channel.spsc/impl:go_chan/cap:1024/payload:8/work:0/runtime:go1.19", 80.0 * 4096, 5, ns_per_item=80.0)
    b[:] = [x for x in b if not (x["name"].startswith("channel.spsc/impl:go_chan/") and "runtime" not in x["name"])]
    b += bench("channel.spsc/impl:crossbeam_channel/cap:1024/payload:8/work:0", 5.0 * 4096, 5, ns_per_item=5.0)
    doc["context"]["conpat"]["foreign_impls"] = {"crossbeam_channel": "rust"}
    for go, ratio in (("go1.19.8", 4.0), ("go1.23.4", 0.5), (None, 0.5)):  # the Go on PATH's release, else the newest
        libs = doc["context"]["conpat"]["libraries"]
        libs.pop("go", None) if go is None else libs.update(go=go)
        run = report_py.Run(Path("m1.json"), cr.load(write(tmp_path, "m1.json", doc)))
        cell = {r["family"]: r for r in report_py.summary_rows([run])}["channel.spsc"]["cells"]["m1"]
        vs = {(r, g): x for r, g, x, lo, hi in cell["vs"]}
        assert vs == {("channel", "go_chan"): pytest.approx(ratio), ("channel (fiber)", "go_chan"): pytest.approx(
            ratio * 2)}, (go, vs)  # and the Rust peer is left to the channel table
        assert "·" not in cell["fastest"]["fastest"] + cell["fastest"]["runner_up"], "no runtime or None in a label"
        assert cell["swept"] == {"cap": 1024, "payload": 8}, "work is 0 everywhere: not named on the first screen"
    every = [r for r in report_py.workload_rows([run]) if r["family"] == "channel.spsc"]
    assert [r["params"] for r in every] == [{"cap": c, "payload": 8, "work": 0} for c in (0, 1024)], \
        "one row per workload, not one more per Go release"


def test_a_claims_setup_as_stated_rides_on_its_row_when_every_machine_agrees():
    sys.path.insert(0, str(SCRIPTS))
    import report as report_py

    def grp(cid, verdicts, stated=False):
        return [{"id": cid + (".as_stated" if stated else ""), "verdict": v, "machine": f"m{i}", "as_stated": stated}
                for i, v in enumerate(verdicts)]

    groups = [grp("a", ["holds", "holds"]), grp("a", ["untestable", "untestable"], True),
              grp("b", ["holds", "inconclusive"]), grp("b", ["holds", "untestable"], True), grp("c", ["holds"] * 2)]
    folded = report_py.fold_as_stated(groups)
    assert [(g[0]["id"], s[0]["id"] if s else None) for g, s in folded] == \
        [("a", "a.as_stated"), ("b", None), ("b.as_stated", None), ("c", None)], "b's machines disagree: its own row"


def test_report_lists_an_abtests_changes_worst_first(tmp_path):
    a = write(tmp_path, "in/a.json", run_doc("box"))
    out = tmp_path / "report"
    r = script("report.py", a, "--abtest", FIXTURES / "abtest_small.json", "--out", out)
    assert r.returncode == 0, r.stderr
    rows = section((out / "REPORT.md").read_text(), "Changes")
    assert [x.split(" | ")[0].lstrip("| ").split("/")[0] for x in rows] == \
        ["channel.mpmc", "channel.spsc", "collect.stride", "callback.error_rate"], rows
    assert "+31.0 % [+20.5, +44.0]" in rows[0] and "| -22.0 % |" in rows[2], "an interval where the row has one"
    page = (out / "index.html").read_text()
    assert page.index("id='summary'") < page.index("id='claims'") < page.index("id='changes'") < page.index("<svg")


def test_report_compares_the_newest_run_with_a_baseline(tmp_path):
    # 8 repetitions a side: enough for compare.py's FDR-adjusted intervals to pick the ring out
    base = write(tmp_path, "base/box/20260101T000000Z-aaa1111.json", run_doc("box", seed=1, reps=8))
    new = run_doc("box", seed=2, slow=1.5, reps=8)
    new["context"]["conpat"]["git_commit"] = "bbb2222"
    new = write(tmp_path, "new/box/20260102T000000Z-bbb2222.json", new)
    out = tmp_path / "report"
    r = script("report.py", new, "--baseline", base, "--out", out)
    assert r.returncode == 0, r.stderr
    md = (out / "REPORT.md").read_text()
    rows = section(md, "Changes")
    assert rows and all("impl:ring" in x and "| slower |" in x for x in rows), rows
    assert all(40 < float(x.split(" | ")[2].split(" %")[0]) < 60 for x in rows), "the ring is 1.5x slower"
    assert "box against the baseline" in md


@pytest.mark.parametrize("content,message", [
    (None, "no such file"), ("[1, 2]", "no top-level 'rows' list"), ("{", "not a readable JSON file"),
    ('{"rows": [{"benchmark": "x"}]}', "rows[0] lacks"),
])
def test_report_explains_a_bad_abtest_file(tmp_path, content, message):
    a = write(tmp_path, "a.json", run_doc("a"))
    ab = tmp_path / "ab.json"
    if content is not None:
        ab.write_text(content)
    assert message in one_line_error(script("report.py", a, "--abtest", ab, "--out", tmp_path / "r"))
    assert not (tmp_path / "r").exists(), "nothing is written"


def test_summary_csv_holds_every_benchmark_per_machine(tmp_path):
    import csv as csv_mod

    out, _ = report(tmp_path, run_doc("a"), run_doc("b", slow=2.0))
    rows = list(csv_mod.DictReader((out / "summary.csv").open()))
    keys = {(r["machine"], r["family"], r["impl"], r["runner"], r["params"]) for r in rows if r["metric"] == "time_ns"}
    n_bench = len(cr.samples(run_doc("a")))
    assert len(keys) == 2 * n_bench, "every benchmark of both machines has its time"
    ring = next(r for r in rows if r["machine"] == "b" and r["impl"] == "ring" and r["metric"] == "time_ns"
                and r["params"] == "cap=16;payload=8;work=0")
    assert float(ring["median"]) == pytest.approx(20.0, rel=0.01) and ring["unit"] == "ns" and ring["n"] == "5"
    assert float(ring["lo"]) < float(ring["median"]) < float(ring["hi"])
    fib = [r for r in rows if r["family"] == "seed.buffered_fan_in" and r["runner"] == "fiber"]
    assert fib and all(r["impl"] == "channel" for r in fib), "the runner is its own column"
    assert (out / "index.html").read_text().count("summary.csv") >= 1


def test_report_renders_whatever_verdicts_and_sides_the_claims_report(tmp_path, monkeypatch):
    sys.path.insert(0, str(SCRIPTS))
    import claims as claims_py
    import report as report_py

    run = report_py.Run(Path("a.json"), cr.load(write(tmp_path, "a.json", run_doc("a"))))
    rows = [{"id": "x", "claim": "A claim no run can test", "experiment": "seed.none", "setup": "none", "rule": "",
             "machine": "a", "cpp": ["C++ threads: untestable: why"], "go": ["Go 1.19: holds: 1", "Go 1.23: untestable: 2"],
             "rust": ["holds: 3"], "verdict": "untestable", "by": "Go 1.23"}]
    monkeypatch.setattr(claims_py, "table", lambda runs: rows)
    out = tmp_path / "r"
    out.mkdir()
    report_py.render([run], [], out, None)
    page = (out / "index.html").read_text()
    assert "<span class='v-untestable'>untestable</span>" in page and "Go 1.23: untestable: 2" in page
    assert "rust: holds: 3" in page
    md_rows = claims_of((out / "REPORT.md").read_text())["A claim no run can test"]
    assert md_rows[0]["verdict"] == "**untestable** (Go 1.23)" and "rust: holds: 3" in md_rows[0]["go"]
