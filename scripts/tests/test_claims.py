"""claims.py on hand-made runs: every claim can hold, fail to hold, come out
inconclusive, and come out untestable (or invalid) — and seed_model.py, the
zero-overhead model that decides what is untestable."""

import subprocess
import sys
from pathlib import Path

import pytest

import claims
import conpat_results as cr
import seed_model

SCRIPTS = Path(__file__).resolve().parents[1]
TAIL = {"service_p50_ms": 20, "service_p99_ms": 80, "consume_us": 80}
OPEN_ARTICLE = {**TAIL, "burst": 2000, "requests": 10000, "stall_every_ms": 0, "stall_ms": 0}
OPEN_STALLED = {**TAIL, "qps": 2000, "burst": 0, "requests": 4000, "stall_every_ms": 200, "stall_ms": 150}
CLOSED = {**TAIL, "workers": 60, "requests": 2000, "stall_every_ms": 200, "stall_ms": 150}


class FakeRun:
    """What claims.py reads of report.py's Run: ctx, machine, points, select, find."""

    def __init__(self, points, checks=None, go_runtimes=None):
        self.machine = "m"
        self.ctx = {"hardware_threads": 2, "checks": checks or {}}
        if go_runtimes:
            self.ctx["go_runtimes"] = go_runtimes
        self.points = points

    def select(self, family, **params):
        return [p for p in self.points if p["family"] == family
                and all(str(p["params"].get(k)) == str(v) for k, v in params.items())]

    def find(self, sel):
        return next((p for p in self.select(sel["family"], **sel.get("params", {})) if p["impl"] == sel["impl"]), None)


def pt(family, impl, params, spread=0.02, n=8, **metrics):
    """A point whose every metric has n samples spread evenly by `spread` around its value."""
    stats = {}
    for k, v in metrics.items():
        values = [v * (1 + spread * (i - (n - 1) / 2) / n) for i in range(n)] if n > 1 else [v]
        stats[k] = cr.median_ci(values)
    return {"family": family, "impl": impl, "params": dict(params), "stats": stats}


SIDES = (("thread", "channel", {}), ("fiber", "channel", {}), ("goroutine", "go_chan", {"runtime": "go1.19"}),
         ("goroutine", "go_chan", {"runtime": "go1.23"}))


def fan_in_points(gain=2.0, spread=0.02, n=8, late_ms=0.5, rate_reached=1.0, invalid_runner=None):
    """seed.buffered_fan_in (article and stalled) and seed.closed_fan_in on
    every side; cap 1024 is `gain` times better than cap 0 everywhere."""
    out = []
    for runner, impl, extra in SIDES:
        late = 95.0 if runner == invalid_runner else late_ms
        for cap in (0, 1024):
            g = gain if cap == 1024 else 1.0
            base = {"runner": runner, **extra, "cap": cap}
            for qps in (5000, 20000):
                out.append(pt("seed.buffered_fan_in", impl, {**base, "qps": qps, **OPEN_ARTICLE}, spread, n,
                              throughput_rps=5800.0, e2e_p95_ms=150.0, peak_live_producers=2100.0,
                              start_late_p99_ms=late, rate_reached=rate_reached))
            out.append(pt("seed.buffered_fan_in", impl, {**base, **OPEN_STALLED}, spread, n,
                          handoff_p95_ms=165.0 / g, e2e_p95_ms=165.0, peak_live_producers=350.0 / g ** 2.5,
                          start_late_p99_ms=late, rate_reached=rate_reached))
            out.append(pt("seed.closed_fan_in", impl, {**base, **CLOSED}, spread, n, throughput_rps=700.0 * g))
    return out


def rows_by_id(run):
    return {r["id"]: r for r in claims.table([run])}


# ---- the buffered-channel claims ---------------------------------------------------

@pytest.mark.parametrize("gain,spread,n,answer", [
    (3.0, 0.02, 8, "holds"),            # well above half of each claimed effect
    (1.0, 0.02, 8, "does not hold"),    # no effect: the interval lies below 1.1
    (1.1, 0.2, 8, "inconclusive"),      # the interval straddles 1.1
    (2.0, 0.02, 1, "inconclusive"),     # one sample is never a verdict
])
def test_buffered_claims_can_hold_fail_or_be_inconclusive(gain, spread, n, answer):
    rows = rows_by_id(FakeRun(fan_in_points(gain, spread, n)))
    for cid in ("buffered_throughput", "buffered_p95"):
        assert rows[cid]["verdict"] == answer, (cid, rows[cid])
        assert rows[cid]["by"].startswith("Go 1.23"), "the newest Go release decides"


def test_partly_when_the_effect_is_there_but_under_half_the_claim():
    rows = rows_by_id(FakeRun(fan_in_points(gain=1.25)))  # 1.25x against a claimed 2.8x: between 1.1 and 1.4
    assert rows["buffered_throughput"]["verdict"] == "partly"


def test_the_articles_setups_are_untestable_and_say_why():
    rows = rows_by_id(FakeRun(fan_in_points(gain=3.0)))
    for cid in ("buffered_throughput", "buffered_p95", "buffered_peak_producers"):
        stated = rows[cid + ".as_stated"]
        assert stated["as_stated"] and stated["verdict"] == "untestable", stated
        assert all("untestable as stated" in line for line in stated["cpp"] + stated["go"]), stated
        assert "1.00x" in stated["go"][0], "the model's figures for both arms are shown"
        assert rows[cid]["verdict"] == "holds" and "ideal channel (seed_model.py)" in rows[cid]["go"][0]


def test_untestable_even_without_measurements():
    rows = rows_by_id(FakeRun([]))
    assert rows["buffered_peak_producers.as_stated"]["verdict"] == "untestable"
    assert rows["buffered_peak_producers"]["verdict"] == "not measured", "the stalled experiment is testable"


def test_a_late_generator_makes_its_rows_invalid_and_out_of_the_verdict():
    rows = rows_by_id(FakeRun(fan_in_points(gain=3.0, invalid_runner="thread")))
    row = rows["buffered_p95"]
    thread_line = next(x for x in row["cpp"] if x.startswith("C++ threads"))
    assert thread_line.startswith("C++ threads: invalid: invalid, not judged: ") and "started requests late" in thread_line
    assert row["verdict"] == "holds"
    slow = rows_by_id(FakeRun(fan_in_points(gain=3.0, rate_reached=0.8)))["buffered_p95"]
    assert slow["verdict"] == "invalid" and "reached 80 % of its asked rate" in slow["go"][0]


def test_without_go_the_cpp_sides_decide():
    run = FakeRun([p for p in fan_in_points(gain=1.0) if p["params"]["runner"] != "goroutine"])
    row = rows_by_id(run)["buffered_throughput"]
    assert row["verdict"] == "does not hold" and row["by"] == "C++ threads and C++ fibers"
    assert row["go"][0].startswith("not measured")


def test_go_releases_that_disagree_are_both_named():
    pts = fan_in_points(gain=3.0)
    for p in pts:
        if p["params"].get("runtime") == "go1.19" and p["params"]["cap"] == 1024:
            p["stats"] = pt("x", "x", {}, throughput_rps=700.0, handoff_p95_ms=165.0, e2e_p95_ms=165.0,
                            peak_live_producers=350.0, start_late_p99_ms=0.5, rate_reached=1.0)["stats"]
    row = rows_by_id(FakeRun(pts))["buffered_throughput"]
    assert row["verdict"] == "holds" and row["by"] == "Go 1.23; Go 1.19: does not hold", row["by"]
    assert [x.split(":")[0] for x in row["go"]] == ["Go 1.19", "Go 1.23"]


# ---- atomic and mutex, paced writes, false sharing -----------------------------------------

def atomic_points(atomic_ns, mutex_ns, spread=0.02):
    out = []
    for runner, (a, m) in (("thread", ("atomic_add", "mutex")), ("goroutine", ("go_atomic_add", "go_mutex"))):
        for w in (1, 2):
            out.append(pt("seed.atomic_mutex", a, {"runner": runner, "writers": w}, spread, ns_per_op=atomic_ns))
            out.append(pt("seed.atomic_mutex", m, {"runner": runner, "writers": w}, spread, ns_per_op=mutex_ns))
    return out


@pytest.mark.parametrize("atomic_ns,mutex_ns,spread,answer", [
    (4.7, 130.0, 0.02, "holds"),          # faster than 20 ns is no failure: "10-20 ns" means cheap
    (15.0, 40.0, 0.02, "does not hold"),  # a mutex at 40 ns is not "100+"
    (15.0, 100.0, 0.3, "inconclusive"),   # the mutex's interval straddles 100
])
def test_atomic_and_mutex_costs(atomic_ns, mutex_ns, spread, answer):
    rows = rows_by_id(FakeRun(atomic_points(atomic_ns, mutex_ns, spread)))
    assert rows["atomic_mutex_uncontended"]["verdict"] == answer, rows["atomic_mutex_uncontended"]
    assert rows["atomic_mutex_contended"]["verdict"] == answer


def paced_points(diff_ns, spread=0.02, rate_reached=1.0):
    out = []
    for rate in (100, 1000, 10000, 100000):
        for impl, ns in (("go_slots_padded", 20.0), ("go_atomic_add", 30.0), ("go_mutex", 30.0 + diff_ns)):
            out.append(pt("seed.paced_writes", impl, {"runner": "goroutine", "writers": 2, "rate": rate}, spread,
                          write_ns=ns, rate_reached=rate_reached if rate == 100000 else 1.0))
    return out


@pytest.mark.parametrize("diff_ns,spread,answer,where", [
    (2000.0, 0.001, "holds", "at 5,000/s ["),            # 2 us is 1 % of a writer's time at 5,000/s
    (15.0, 0.02, "does not hold", "at 666,667/s ["),      # 15 ns matters only from 666,667/s
    (900.0, 1.5, "inconclusive", ""),                    # the interval of the crossing runs across the band
])
def test_the_5k_rule_as_a_crossing_rate(diff_ns, spread, answer, where):
    row = rows_by_id(FakeRun(paced_points(diff_ns, spread)))["decision_tree_5k"]
    assert row["verdict"] == answer, row["go"]
    assert where in row["go"][0] and "below 5,000/s the difference stays under 1 %" in row["go"][0]


def test_paced_rows_under_90_percent_of_their_rate_are_invalid():
    row = rows_by_id(FakeRun(paced_points(15.0, rate_reached=0.5)))["decision_tree_5k"]
    assert "invalid (under 90 % of the asked rate), not judged: 100,000/s" in row["go"][0]
    assert "from the difference at 10,000/s" in row["go"][0], "the highest valid rate is used"


@pytest.mark.parametrize("loss,spread,answer", [(0.45, 0.02, "holds"), (0.01, 0.02, "does not hold"),
                                                (0.12, 0.02, "partly"), (0.2, 0.5, "inconclusive")])
def test_false_sharing_loss(loss, spread, answer):
    run = FakeRun([pt("seed.false_sharing", "go_counter", {"runner": "goroutine", "writers": 2, "align": 64}, spread,
                      throughput_loss=loss)])
    assert rows_by_id(run)["padding_removes_loss"]["verdict"] == answer


# ---- checks under two Go releases ------------------------------------------------------

def checks(shared=True, current=None):
    c = {"go_loop_variable_shared": {"outcome": shared, "detail": "module language go 1.19: [3 3 3]"},
         "go_recover_misses_other_goroutine": {"outcome": True, "detail": "exit 2"},
         "go_recover_catches_same_goroutine": {"outcome": True, "detail": "recovered"}}
    if current is not None:
        c["go_loop_variable_shared_current_language"] = {"outcome": current, "detail": "file language go 1.22"}
    return c


def test_loop_capture_is_recorded_per_go_release():
    run = FakeRun([], checks=checks(), go_runtimes={"go1.19": {"checks": checks()},
                                                    "go1.23": {"checks": checks(current=False)}})
    row = rows_by_id(run)["loop_variable_capture"]
    assert row["go"][0].startswith("Go 1.19: holds") and row["go"][1].startswith("Go 1.23: does not hold")
    assert "file language go 1.22" in row["go"][1]
    assert row["verdict"] == "does not hold" and row["by"] == "Go 1.23; Go 1.19: holds"


def test_a_single_unnamed_go_keeps_the_old_shape():
    row = rows_by_id(FakeRun([], checks=checks()))["loop_variable_capture"]
    assert row["verdict"] == "holds" and row["by"] == "Go" and row["go"][0].startswith("holds: ")


def test_answers_are_the_documented_ones():
    rows = claims.table([FakeRun(fan_in_points()), FakeRun([])])
    assert {r["verdict"] for r in rows} <= set(claims.ANSWERS)
    assert set(rows[0]) >= {"id", "claim", "experiment", "setup", "rule", "machine", "cpp", "go", "verdict", "by"}


# ---- the model -------------------------------------------------------------------------------

def test_model_reproduces_the_article_setups_and_separates_the_new_ones():
    a = [seed_model.open_loop(c, qps=5000) for c in (0, 1024)]
    assert round(a[0]["throughput_rps"]) == round(a[1]["throughput_rps"]) == 5846
    assert a[0]["peak_live_producers"] == a[1]["peak_live_producers"] == 2113
    literal = [seed_model.open_loop(c, qps=5000, burst=10000) for c in (0, 1024)]
    assert literal[0]["peak_live_producers"] == literal[1]["peak_live_producers"] == 10000
    closed = [seed_model.closed_loop(c, **{k: v for k, v in CLOSED.items() if k in ("workers", "requests")})
              for c in (0, 1024)]
    assert closed[1]["throughput_rps"] / closed[0]["throughput_rps"] > 2.8
    stalled = [seed_model.open_loop(c, qps=2000, burst=0, requests=4000, stall_every_ms=200, stall_ms=150)
               for c in (0, 1024)]
    assert stalled[0]["handoff_p95_ms"] / stalled[1]["handoff_p95_ms"] > 3.1
    assert stalled[0]["e2e_p95_ms"] == stalled[1]["e2e_p95_ms"], "open loop: the consumer's order is the channel's"


def test_model_cli_table_and_bad_input():
    r = subprocess.run([sys.executable, SCRIPTS / "seed_model.py"], capture_output=True, text=True)
    assert r.returncode == 0 and "| seed.closed_fan_in | 1024 |" in r.stdout
    r = subprocess.run([sys.executable, SCRIPTS / "seed_model.py", "open", "--cap", "-1"], capture_output=True, text=True)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


# ---- arms paired by pass -------------------------------------------------------------------

def test_ratio_is_paired_by_pass_where_six_passes_give_a_95_percent_interval():
    """Each pass moves both arms together (the machine's state): unpaired
    intervals overlap, the per-pass ratios do not."""
    base = {"runner": "goroutine", "runtime": "go1.23", **CLOSED}
    samples = []
    for k, level in enumerate((1.0, 0.6, 1.4, 0.8, 1.2, 0.7), 1):  # the machine's state in pass k
        for cap, g in ((0, 1.0), (1024, 1.6)):
            samples.append({"family": "seed.closed_fan_in", "impl": "go_chan", "params": {**base, "cap": cap},
                            "pass": k, "run_type": "iteration", "throughput_rps": 700.0 * g * level})
    run = FakeRun([pt("seed.closed_fan_in", "go_chan", {**base, "cap": cap},
                      **{"throughput_rps": 0}) for cap in (0, 1024)])
    for p in run.points:  # the points' stats from the same samples
        p["stats"]["throughput_rps"] = cr.median_ci([s["throughput_rps"] for s in samples
                                                     if s["params"]["cap"] == p["params"]["cap"]])
    run.doc = {"benchmarks": samples}
    row = rows_by_id(run)["buffered_throughput"]
    assert "paired by pass: 1.60x [1.60, 1.60] over 6 passes (96.9 % interval)" in row["go"][0], row["go"]
    assert row["verdict"] == "holds", "paired, 1.6x is above 1.4 (half of 2.8x)"
    run.doc = {"benchmarks": [s for s in samples if s["pass"] <= 4]}  # 4 pairs: under 95 %, unpaired decides
    row = rows_by_id(run)["buffered_throughput"]
    assert "under 95 %: not used" in row["go"][0] and row["verdict"] == "inconclusive", row["go"]


def test_readme_shows_the_models_current_table():
    readme = (SCRIPTS.parent / "benches" / "README.md").read_text()
    assert seed_model.markdown(seed_model.table()) in readme, "regenerate with scripts/seed_model.py"
