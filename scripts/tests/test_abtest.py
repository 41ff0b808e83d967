"""The paired and unpaired statistics on fixtures with known answers, and abtest.py end to end."""

import json
import math
import random
import subprocess
import sys
from pathlib import Path

import pytest

import abtest
import compare
import conpat_results as cr
import stats

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts"


# ---- exact distributions and intervals ----------------------------------------------

def test_exact_null_distributions_match_scipy():
    scipy_stats = pytest.importorskip("scipy.stats")
    rng = random.Random(7)
    for n in (6, 9, 12):
        d = [rng.gauss(0.01, 0.02) for _ in range(n)]
        assert stats.paired(d).band_p(0.0) == pytest.approx(scipy_stats.wilcoxon(d).pvalue, rel=1e-9)
    for n1, n2 in ((4, 4), (5, 5), (3, 7)):
        a = [rng.gauss(0, 0.02) for _ in range(n1)]
        b = [rng.gauss(0.02, 0.02) for _ in range(n2)]
        assert stats.unpaired(a, b).band_p(0.0) == pytest.approx(
            scipy_stats.mannwhitneyu(a, b, method="exact").pvalue, rel=1e-9)


def test_interval_and_band_test_agree():
    rng = random.Random(3)
    for _ in range(200):
        d = [rng.gauss(rng.uniform(-0.1, 0.1), 0.03) for _ in range(rng.randint(6, 14))]
        s = stats.paired(d)
        for alpha in (0.05, 0.01, 0.002):
            lo, hi, cov = s.interval(alpha)
            assert lo <= s.estimate <= hi
            band = math.log1p(0.03)
            beyond = lo > band or hi < -band
            if cov >= 1 - alpha:  # the level is reachable: excluding the band is the test at alpha
                assert beyond == (s.band_p(band) <= alpha), (d, alpha)


def test_fewest_pairs_that_reach_a_level():
    assert stats.min_pairs(0.95) == 6 and stats.max_coverage_paired(5) == pytest.approx(0.9375)
    assert stats.max_coverage_unpaired(3, 3) < 0.95 <= stats.max_coverage_unpaired(4, 4)


def test_benjamini_hochberg_steps_up():
    assert stats.benjamini_hochberg([0.01, 0.02, 0.03, 0.5], 0.05) == [True, True, True, False]
    assert stats.benjamini_hochberg([0.02, 0.5, 0.6, 0.7], 0.05) == [False] * 4
    assert stats.criterion(0.4, [-2.1, 2.9]) == "change: [-2.1% +0.4% +2.9%]"


# ---- paired fixtures: what abtest does with the samples ---------------------------------

FAMILIES = {"channel.spsc": 12, "channel.pingpong": 8, "collect.gather": 10}


def sample(name, t, k, c2c=60.0, **extra):
    family, impl, params = cr.parse_name(name)
    return {"name": name, "run_name": name, "run_type": "iteration", "family": family, "impl": impl,
            "params": params, "oversubscribed": False, "real_time": t, "cpu_time": t, "time_unit": "ns",
            "iterations": 100, "items_per_second": 1e9 / t, "pass": k, "state_c2c_ns": c2c, **extra}


def paired_run(passes=10, noise=0.01, slow=None, drift=0.0, state=None, seed=1):
    """Both builds' samples. slow: {family: factor} on head; drift: each head
    sample this much slower; state(k, role) -> (c2c, time factor) for pass k."""
    rng = random.Random(seed)
    base, head = [], []
    for family, n in FAMILIES.items():
        for i in range(n):
            name = f"{family}/impl:x{i}/cap:{i}/real_time"
            t0 = 100.0 * (i + 1)
            for k in range(1, passes + 1):
                machine = rng.lognormvariate(0, 0.05)  # the machine moves; both halves feel it
                for role, out in (("base", base), ("head", head)):
                    c2c, factor = state(k, role) if state else (60.0, 1.0)
                    t = t0 * machine * factor * rng.lognormvariate(0, noise)
                    if role == "head":
                        t *= (slow or {}).get(family, 1.0) * (1 + drift)
                    out.append(sample(name, t, k, c2c))
    return base, head


def judge(base, head, min_effect=abtest.DEFAULT_MIN_EFFECT, fdr=0.05):
    sides = {"base": {"benchmarks": base}, "head": {"benchmarks": head}}
    abtest.mark_states(sides, [])
    pairs = abtest.make_pairs(base, head)
    return abtest.paired_rows(pairs, min_effect, fdr), pairs


def time_rows(rows):
    return [r for r in rows if r["metric"] == "time_ns"]


def test_aa_pair_is_no_change_and_passes_the_gate():
    rows, _ = judge(*paired_run(seed=11))
    t = time_rows(rows)
    assert all(r["verdict"] == "no change" for r in t), [(r["benchmark"], r["change_ci_pct"]) for r in t]
    assert all(r["change_ci_pct"][0] < 0 < r["change_ci_pct"][1] or abs(r["change_pct"]) < 2 for r in t)
    assert abtest.gate(rows, 10, None, False)[0] == 0


def test_ten_percent_slowdown_in_one_family_is_caught_and_named():
    rows, _ = judge(*paired_run(slow={"channel.pingpong": 1.10}, seed=12))
    slower = {r["family"] for r in time_rows(rows) if r["verdict"] == "slower"}
    assert slower == {"channel.pingpong"}
    assert all(r["change_ci_pct"][0] < 10 < r["change_ci_pct"][1] or r["change_ci_pct"][0] > 5
               for r in time_rows(rows) if r["family"] == "channel.pingpong")
    code, msg = abtest.gate(rows, 5, None, False)
    assert code == 1 and "channel.pingpong" in msg and "change: [+" in msg
    assert abtest.gate(rows, 20, None, False)[0] == 0, "a 10 % slowdown does not trip a 20 % gate"


def test_a_passed_gate_says_from_what_size_on_it_would_have_tripped():
    def seen_from(msg):
        return float(msg.split("tripped it from about +")[1].split("%")[0])

    quiet, _ = judge(*paired_run(passes=20, seed=17))
    code, msg = abtest.gate(quiet, 10, None, False)
    noisy, _ = judge(*paired_run(passes=20, noise=0.4, seed=17))
    code2, msg2 = abtest.gate(noisy, 10, None, False)
    assert code == 0 and code2 == 0 and 10 < seen_from(msg) < 15 < seen_from(msg2), (msg, msg2)


def test_slow_drift_of_three_percent_does_not_fail_a_ten_percent_gate():
    rows, _ = judge(*paired_run(drift=0.03, seed=13))
    assert abtest.gate(rows, 10, None, False)[0] == 0
    assert all(r["change_ci_pct"][1] < 10 for r in time_rows(rows))


def test_state_flip_in_the_middle_drops_only_the_mixed_pairs():
    # Passes 4-6 in the slow state (3x); pass 4's base half still fast: that pair is mixed.
    def state(k, role):
        slow = 4 <= k <= 6 and not (k == 4 and role == "base")
        return (400.0, 3.0) if slow else (60.0, 1.0)

    rows, pairs = judge(*paired_run(state=state, seed=14))
    assert all(p["dropped_state"] == 1 and p["both_shifted"] == 2 and len(p["pairs"]) == 9 for p in pairs.values())
    t = time_rows(rows)
    assert all(r["pairs"] == 9 and r["pairs_dropped_state"] == 1 for r in t)
    assert all(r["verdict"] == "no change" for r in t), "the 3x state is in both halves or left out"
    assert abtest.gate(rows, 10, None, False)[0] == 0


def test_top_ups_rerun_only_what_lost_over_a_fifth_of_its_pairs_and_stay_bounded():
    def flips(n):  # the base halves of passes 1..n in the slow state: n mixed pairs per benchmark
        return lambda k, role: (400.0, 3.0) if role == "base" and k <= n else (60.0, 1.0)

    _, pairs = judge(*paired_run(passes=40, state=flips(8), seed=16))
    assert abtest.shortfall(pairs, 40) == {}, "8 of 40 lost (a fifth): no top-up"
    _, pairs = judge(*paired_run(passes=40, state=flips(10), seed=16))
    lacking = abtest.shortfall(pairs, 40)
    assert len(lacking) == sum(FAMILIES.values()) and set(lacking.values()) == {2}, "30 kept, 32 needed"
    assert abtest.shortfall({k: {**r, "failed": True} for k, r in pairs.items()}, 40) == {}, "a failed row: no top-up"
    assert [abtest.max_top_ups(n) for n in (6, 24, 40, 80)] == [1, 6, 10, 20], "a quarter of the passes"


def test_too_few_pairs_is_said_and_the_gate_refuses():
    rows, _ = judge(*paired_run(passes=5, slow={"channel.spsc": 2.0}, seed=15))
    assert all(r["verdict"] == "too few pairs" and not r["tested"] for r in rows)
    assert all(r["change_ci_pct"][0] is not None for r in rows), "the widest interval is still shown"
    code, msg = abtest.gate(rows, 10, None, False)
    assert code == 2 and "too few pairs" in msg


def test_oversubscribed_rows_are_shown_but_gated_only_when_asked():
    base, head = paired_run(slow={"collect.gather": 1.5}, seed=16)
    for b in base + head:
        b["oversubscribed"] = b["family"] == "collect.gather"
    rows, _ = judge(base, head)
    assert any(r["verdict"] == "slower" and r["oversubscribed"] for r in rows)
    code, msg = abtest.gate(rows, 10, None, False)
    assert code == 0 and "oversubscribed row(s) not gated" in msg
    assert abtest.gate(rows, 10, None, True)[0] == 1


def test_gate_metric_adds_latency_to_time():
    base, head = paired_run(seed=17)
    for b in base:
        b["lat_p99_ns"] = b["real_time"] * 2
    for b in head:
        b["lat_p99_ns"] = b["real_time"] * 4  # only the tail moved
    rows, _ = judge(base, head)
    assert abtest.gate(rows, 10, None, False)[0] == 0
    code, msg = abtest.gate(rows, 10, ["lat_p99_ns"], False)
    assert code == 1 and "lat_p99_ns" in msg
    assert compare.gate_metrics(["lat_p99_ns"]) >= {"time_ns", "lat_p99_ns"}


def test_abba_order_alternates_per_family_and_pass():
    orders = [abtest.half_order(k, 0) for k in range(1, 5)]
    assert orders == [("base", "head"), ("head", "base")] * 2
    assert abtest.half_order(1, 1) != abtest.half_order(1, 0)


# ---- unpaired (compare.py): the same discipline ----------------------------------------

def unpaired_doc(factor=1.0, reps=5, seed=1, noise=0.01):
    rng = random.Random(seed)
    out = []
    for family, n in FAMILIES.items():
        for i in range(n):
            for k in range(reps):
                b = sample(f"{family}/impl:x{i}/cap:{i}/real_time", 100.0 * (i + 1) * factor * rng.lognormvariate(0, noise), k + 1)
                del b["state_c2c_ns"]
                out.append(b)
    return {"context": {}, "benchmarks": out}


def test_unpaired_drift_below_the_minimum_effect_is_no_change():
    # Every sample of B 3 % slower: all five moved one way, by less than the 5 % minimum effect.
    rows = compare.compare_pair(unpaired_doc(seed=1), unpaired_doc(1.03, seed=2), 0.05, 5.0)
    t = time_rows(rows)
    assert all(r["verdict"] == "no change" for r in t)
    assert all(r["change_ci_pct"][0] < 5 for r in t)
    assert compare.gate(rows, 10, compare.gate_metrics(None), False)[0] == 0


def test_unpaired_broad_slowdown_has_intervals_beyond_the_gate():
    rows = compare.compare_pair(unpaired_doc(seed=1), unpaired_doc(1.5, seed=2), 0.05, 5.0)
    assert all(r["verdict"] == "slower" and r["change_ci_pct"][0] > 40 for r in time_rows(rows))
    assert compare.gate(rows, 10, compare.gate_metrics(None), False)[0] == 1


# ---- worktrees and the script itself --------------------------------------------------

def test_worktrees_are_reused_and_stale_ones_pruned(tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "a.txt").write_text("one\n")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(git + ["add", "a.txt"], check=True)
    subprocess.run(git + ["commit", "-qm", "one"], check=True)
    first = subprocess.run(git + ["rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    (repo / "a.txt").write_text("two\n")
    subprocess.run(git + ["commit", "-qam", "two"], check=True)
    (repo / "a.txt").write_text("three, uncommitted\n")
    (repo / "new.txt").write_text("untracked\n")
    monkeypatch.setattr(abtest, "REPO", repo)
    work = tmp_path / "work"
    base = abtest.prepare_worktree("base", first, work)
    assert (base["dir"] / "a.txt").read_text() == "one\n" and not base["dirty"]
    head = abtest.prepare_worktree("head", None, work)
    assert (head["dir"] / "a.txt").read_text() == "three, uncommitted\n" and head["dirty"]
    assert (head["dir"] / "new.txt").read_text() == "untracked\n"
    again = abtest.prepare_worktree("base", "HEAD", work)  # same place, now at the newer commit
    assert again["dir"] == base["dir"] and (base["dir"] / "a.txt").read_text() == "two\n"
    subprocess.run(["rm", "-rf", str(work)], check=True)  # stale registrations are pruned, then made again
    assert abtest.prepare_worktree("base", first, work)["dir"].is_dir()
    with pytest.raises(abtest.Fail, match="not a commit"):
        abtest.prepare_worktree("base", "no-such-rev", work)


def script(*args):
    return subprocess.run([sys.executable, str(SCRIPTS / "abtest.py"), *map(str, args)], capture_output=True,
                          text=True, timeout=900)


@pytest.mark.parametrize("args,needle", [
    (["--base", "HEAD", "--repetitions", "0"], "must be positive"),
    (["--base", "no-such-revision-here"], "not a commit"),
    (["--base", "HEAD", "--fdr", "2"], "--fdr"),
    (["--base", "HEAD", "--binaries", "/nonexistent", "/nonexistent"], "not an executable"),
])
def test_bad_input_is_one_line_and_exit_2(args, needle):
    r = script(*args)
    assert r.returncode == 2 and "Traceback" not in r.stderr and needle in r.stderr, r.stderr


def test_help_explains_the_output():
    out = script("--help").stdout
    for word in ("--base", "--head", "ABBA", "change: [low estimate high]", "--fail-on-regression",
                 "too few pairs", "Exit codes"):
        assert word in out, word


def test_head_against_head_end_to_end(binary, tmp_path):
    """One small family, the same binary on both sides: every row paired, intervals, no change, gate passes."""
    out = tmp_path / "cmp.json"
    r = script("--base", "HEAD", "--head", "HEAD", "--binaries", binary, binary, "--profile", "quick",
               "--repetitions", "6", "--min-time", "0.01", "--no-go", "--quiet", "--format", "json",
               "--out", out, "--out-dir", tmp_path / "results", "--machine", "ci-ab", "--fail-on-regression", "50",
               "--", "--benchmark_filter=^channel\\.pingpong/impl:channel/cap:1/")
    assert "[pass 6/6]" in r.stdout and "ETA" in r.stdout, "progress with k/N and an ETA"
    # Timings decide no test: whatever the gate says, it says it with the matching exit code.
    said = {0: "gate passed", 1: "regression(s) whose whole interval", 2: "cannot gate"}
    assert r.returncode in said and said[r.returncode] in r.stderr, r.stdout[-2000:] + r.stderr[-2000:]
    res = json.loads(out.read_text())[0]
    assert res["gate"]["exit_code"] == r.returncode
    assert res["paired"] and res["passes"] == 6
    rows = res["rows"]
    assert rows and {r["family"] for r in rows} == {"channel.pingpong"}
    for row in rows:
        for field in ("benchmark", "family", "impl", "params", "metric", "change_pct", "change_ci_pct", "verdict",
                      "oversubscribed"):
            assert field in row, field
        assert row["pairs"] + row["pairs_dropped_state"] + row["pairs_failed"] >= 6
        if row["tested"]:
            lo, hi = row["change_ci_pct"]
            assert lo <= row["change_pct"] <= hi
    assert all(r["verdict"] in ("no change", "too few pairs", "slower", "faster") for r in rows)
    files = sorted((tmp_path / "results" / "ci-ab").glob("*.json"))
    assert [f.name.endswith("-base.json") or f.name.endswith("-head.json") for f in files] == [True, True]
    for f in files:
        doc = cr.load(f)  # valid against the schema
        assert len(doc["context"]["conpat"]["machine_state"]["probes"]) >= 2 * 6 + 1, "a probe around every half"
        assert {b["pass"] for b in cr.iterations(doc)} >= set(range(1, 7))
    # After the first pass both builds ran the same fixed iteration counts, under the listed names.
    assert res["fixed_iterations"] is True
    docs = [cr.load(f) for f in files]
    counts = [{(b["name"], b["pass"]): b["iterations"] for b in cr.iterations(d)} for d in docs]
    later = [k for k in counts[0] if k[1] >= 2]
    assert later and all(counts[0][k] == counts[1].get(k) for k in later)
    assert not any("/iterations:" in b["name"] for d in docs for b in cr.iterations(d))


def test_fixed_iterations_make_a_sample_last_about_the_minimum_time():
    s = [{"run_type": "iteration", "run_name": "f/impl:a/x:1/real_time", "real_time": 1000.0, "time_unit": "ns"},
         {"run_type": "iteration", "run_name": "f/impl:a/x:1/real_time", "real_time": 4000.0, "time_unit": "ns"},
         {"run_type": "iteration", "run_name": "f/impl:b/manual_time", "real_time": 2.0, "time_unit": "ms"},
         {"run_type": "iteration", "run_name": "f/impl:c/real_time", "real_time": 1.0, "time_unit": "s"},
         {"run_type": "iteration", "run_name": "f/impl:d/real_time", "real_time": 5.0, "error_occurred": True}]
    got = abtest.fixed_iterations(s, 0.02)
    # geometric mean of 1 us and 4 us is 2 us: 10,000 iterations in 20 ms; 2 ms: 10; longer than min_time: 1.
    assert got == {"f/impl:a/x:1": 10000, "f/impl:b": 10, "f/impl:c": 1}


def test_name_pattern_matches_the_name_with_a_fixed_count_and_nothing_else():
    import re
    import bench
    n = "channel.spsc/impl:channel/cap:1/payload:8/work:0/real_time"
    pat = re.compile("^(" + bench.name_pattern(n) + ")$")
    assert pat.match(n) and pat.match(n.replace("/real_time", "/iterations:123/real_time"))
    assert not pat.match(n.replace("cap:1/", "cap:16/")) and not pat.match(n.replace("/real_time", ""))
    assert bench.ITERATIONS_PART.sub("", "a/b:1/iterations:77/real_time") == "a/b:1/real_time"


def test_harness_fixes_the_iterations_it_is_given_and_refuses_bad_files(binary, tmp_path):
    name = "channel.pingpong/impl:channel/cap:1"
    fixed = tmp_path / "it.json"
    fixed.write_text(json.dumps({name: 37}))
    out = tmp_path / "o.json"
    r = subprocess.run([binary, "--conpat_profile=quick", f"--conpat_iterations={fixed}", f"--conpat_out={out}",
                        "--benchmark_filter=^channel\\.pingpong/impl:channel/cap:1/"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    runs = cr.iterations(cr.load(out, check=False))  # the harness's own file: bench.py adds the rest
    assert runs and all(b["iterations"] == 37 for b in runs)
    assert {b["params"]["cap"] for b in runs} == {1} or {b["params"]["cap"] for b in runs} == {"1"}
    for bad in ("[1, 2]", json.dumps({name: 0}), json.dumps({name: "x"}), "{not json"):
        fixed.write_text(bad)
        r = subprocess.run([binary, f"--conpat_iterations={fixed}", "--benchmark_list_tests"],
                           capture_output=True, text=True)
        assert r.returncode == 2 and "--conpat_iterations" in r.stderr, (bad, r.stderr)
    r = subprocess.run([binary, f"--conpat_iterations={tmp_path / 'missing.json'}", "--benchmark_list_tests"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "cannot read" in r.stderr


# ---- references that make bench reproduces -------------------------------------------

def fake_build(tmp_path, flags):
    bdir = tmp_path / "build"
    (bdir / "benches").mkdir(parents=True)
    (bdir / "CMakeCache.txt").write_text(f"CMAKE_BUILD_TYPE:STRING=Release\nCMAKE_CXX_FLAGS:STRING=\n"
                                         f"CMAKE_CXX_FLAGS_RELEASE:STRING={flags}\n")
    binary = bdir / "benches" / "conpat_bench"
    binary.write_text("#!/bin/sh\nexit 3\n")
    binary.chmod(0o755)
    return binary


def test_bench_refuses_a_reference_run_whose_flags_differ_from_the_preset(tmp_path):
    import bench

    presets = json.loads((ROOT / "CMakePresets.json").read_text())
    release = next(c for c in presets["configurePresets"] if c["name"] == "release")["cacheVariables"]
    assert bench.preset_flag_difference(fake_build(tmp_path / "ok", release["CMAKE_CXX_FLAGS_RELEASE"])) is None
    binary = fake_build(tmp_path / "o3", "-O3 -DNDEBUG")
    assert "-O3 -DNDEBUG" in bench.preset_flag_difference(binary)
    r = subprocess.run([sys.executable, str(SCRIPTS / "bench.py"), "--binary", str(binary), "--out-dir",
                        str(ROOT / "results")], capture_output=True, text=True)
    assert r.returncode == 2 and "not comparable: build flags differ" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_compare_says_first_that_runs_with_other_flags_are_not_comparable(tmp_path):
    docs = []
    for i, flags in enumerate(("-O2 -DNDEBUG -g", "-O3 -DNDEBUG")):
        doc = unpaired_doc(seed=i)
        doc["context"] = {"conpat": {"cxx_flags": flags, "compiler": "g++ 12", "build_type": "Release"}}
        docs.append(doc)
    rows = compare.compare_pair(docs[0], docs[1], 0.05, 5.0)
    assert rows and compare.build_difference(docs[0], docs[1]) == [("cxx_flags", "-O2 -DNDEBUG -g", "-O3 -DNDEBUG")]
    text = compare.render_text([{"baseline": "a", "other": "b", "rows": rows, "build_diff":
                                 compare.build_difference(docs[0], docs[1]), "context_diff": [], "geomean": {},
                                 "ranking": [], "noise": [None, None], "state": [None, None]}], False, False, 0.05)
    assert text.startswith("not comparable: build flags differ")


def test_binaries_whose_recorded_flags_differ_are_refused_after_the_first_pass(binary, tmp_path):
    """--binaries cannot know the flags before running: the check comes once both
    have run a family, not after every pass has been spent."""
    other = tmp_path / "other_bench"
    other.write_text(f"""#!/usr/bin/python3
import json, subprocess, sys
rc = subprocess.run([{str(binary)!r}] + sys.argv[1:]).returncode
for a in sys.argv[1:]:
    if a.startswith("--conpat_out="):
        path = a.split("=", 1)[1]
        with open(path) as f:
            doc = json.load(f)
        doc["context"]["conpat"]["cxx_flags"] += " -DOTHER"
        with open(path, "w") as f:
            json.dump(doc, f)
sys.exit(rc)
""")
    other.chmod(0o755)
    r = script("--base", "A", "--head", "B", "--binaries", binary, other, "--profile", "quick",
               "--repetitions", "6", "--min-time", "0.01", "--no-go", "--no-top-up",
               "--out-dir", tmp_path / "results", "--machine", "ci-ab",
               "--", "--benchmark_filter=^channel\\.pingpong/impl:channel/cap:1/")
    assert r.returncode == 2, r.stdout[-2000:] + r.stderr[-2000:]
    assert "not comparable: build flags differ" in r.stderr and "-DOTHER" in r.stderr
    assert "[pass 1/6]" in r.stdout and "[pass 2/6]" not in r.stdout, "refused after the first pass"
