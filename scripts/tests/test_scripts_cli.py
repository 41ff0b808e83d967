"""The scripts as commands: --help, one flag name per concept, .json.gz input,
refusals in one line, closed pipes, make deps without root, run summaries."""

import gzip
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import conpat_results as cr
import history as hist
from test_compare_report import run_doc, write

SCRIPTS = Path(__file__).resolve().parents[1]
MODULES = {"conpat_results.py", "stats.py"}  # imported, not run
COMMANDS = sorted(p for p in SCRIPTS.iterdir() if p.suffix in (".py", ".sh") and p.name not in MODULES)


def run(*args, **kw):
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=300, **kw)


@pytest.mark.parametrize("script", COMMANDS, ids=lambda p: p.name)
def test_every_script_is_executable_and_explains_itself(script):
    assert os.access(script, os.X_OK), f"{script.name} is not executable"
    r = run(script, "--help")
    assert r.returncode == 0, r.stderr
    assert "usage" in r.stdout.lower() or "Usage" in r.stdout, r.stdout[:300]
    assert len(r.stdout.splitlines()) >= 3


def help_of(name: str) -> str:
    return run(SCRIPTS / name, "--help").stdout


def test_one_flag_name_per_concept_across_the_scripts():
    texts = {n: help_of(n) for n in ("bench.py", "compare.py", "abtest.py", "report.py", "ci-bench.sh")}
    # output directory
    for n in ("bench.py", "abtest.py", "report.py", "ci-bench.sh"):
        assert "--out-dir" in texts[n], n
    # gate threshold, false discovery rate, minimum effect, gate metric, output format
    for n in ("compare.py", "abtest.py", "ci-bench.sh"):
        for flag in ("--fail-on-regression", "--fdr", "--min-effect", "--gate-metric"):
            assert flag in texts[n], (n, flag)
    for n in ("compare.py", "abtest.py"):
        assert "--format" in texts[n]
    # pinning and Go on or off: the same words wherever the benchmarks run
    for n in ("bench.py", "abtest.py", "ci-bench.sh"):
        assert "--pin" in texts[n] and "--no-go" in texts[n], n
    assert "--filter" in texts["ci-bench.sh"]


def test_gzipped_results_read_everywhere(tmp_path):
    a = write(tmp_path, "a.json", run_doc("box"))
    b = write(tmp_path, "b.json", run_doc("box", slow=1.5))
    bz = tmp_path / "20260101T000000Z-bbb.json.gz"
    bz.write_bytes(gzip.compress(b.read_bytes()))
    assert cr.load(bz) == cr.load(b)
    assert cr.newest(tmp_path) == bz, "a stamped .json.gz is a results file of its directory"
    plain = json.loads(run(SCRIPTS / "compare.py", a, b, "--format", "json").stdout)
    zipped = json.loads(run(SCRIPTS / "compare.py", a, bz, "--format", "json").stdout)
    assert [r["change_pct"] for r in plain[0]["rows"]] == [r["change_pct"] for r in zipped[0]["rows"]]
    assert run(SCRIPTS / "validate_results.py", bz).returncode == 0
    r = run(SCRIPTS / "report.py", bz, "--out-dir", tmp_path / "rep")
    assert r.returncode == 0 and (tmp_path / "rep" / "index.html").is_file(), r.stderr
    broken = tmp_path / "broken.json.gz"
    broken.write_bytes(b"not gzip")
    r = run(SCRIPTS / "compare.py", a, broken)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "gzip" in r.stderr, r.stderr


def test_validate_says_a_plain_google_benchmark_file_is_not_a_conpat_file():
    r = run(SCRIPTS / "validate_results.py", SCRIPTS / "tests" / "fixtures" / "plain_gbench.json")
    assert r.returncode == 2 and "not a conpat results file" in r.stderr and len(r.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("content", [{"benchmarks": [{"name": "x"}]}, {"benchmarks": []}, [{"rows": []}],
                                     {"format": 1, "metrics": {}}])
def test_report_refuses_what_is_not_a_results_file_and_writes_nothing(tmp_path, content):
    f = tmp_path / "in.json"
    f.write_text(json.dumps(content))
    r = run(SCRIPTS / "report.py", f, "--out-dir", tmp_path / "out")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not (tmp_path / "out").exists()


def test_a_closed_pipe_ends_a_script_without_a_traceback(tmp_path):
    a = write(tmp_path, "a.json", run_doc("box"))
    b = write(tmp_path, "b.json", run_doc("box", slow=1.5))
    # `| true`: the reader is gone before the script writes its first line
    for cmd in (f"{SCRIPTS / 'channel_table.py'} {a}", f"{SCRIPTS / 'compare.py'} {a} {b} --all",
                f"{SCRIPTS / 'claims.py'} {a}", f"{SCRIPTS / 'validate_results.py'} {a}"):
        r = subprocess.run(["bash", "-c", f"{cmd} | true; echo ${{PIPESTATUS[0]}}"], capture_output=True, text=True,
                           timeout=300)
        assert "Traceback" not in r.stderr and "Error" not in r.stderr, (cmd, r.stderr[-500:])
        assert r.stdout.strip() in ("0", "141"), (cmd, r.stdout)  # done, or ended by SIGPIPE as cat is


def test_claims_has_a_command_line(tmp_path):
    f = write(tmp_path, "a.json", run_doc("box"))
    r = run(SCRIPTS / "claims.py", f, "--format", "json")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert rows and {"id", "machine", "verdict"} <= set(rows[0]) and {x["machine"] for x in rows} == {"box"}
    assert run(SCRIPTS / "claims.py", tmp_path / "nope.json").returncode == 2


def test_history_lines_summarise_a_run_and_are_read_from_the_end(tmp_path):
    f = write(tmp_path, "a.json", run_doc("box", reps=5))
    h = tmp_path / "h" / "box.jsonl"
    for _ in range(3):
        assert run(SCRIPTS / "history.py", "append", f, "--history", h).returncode == 0
    recs = hist.read(h)
    assert len(recs) == 3 and recs[0]["machine"] == "box" and recs[0]["profile"] == "default"
    med, lo, hi, n = recs[0]["metrics"]["time_ns"]["channel.spsc/impl:channel/cap:1024/payload:8/work:0"]
    assert n == 5 and lo <= med <= hi
    # a long history: only the newest lines are read
    line = h.read_text().splitlines()[0]
    h.write_text("".join(json.dumps({**json.loads(line), "git_commit": f"c{i}"}) + "\n" for i in range(500)))
    recs = hist.read(h)
    assert len(recs) == hist.TAIL and recs[-1]["git_commit"] == "c499" and recs[0]["git_commit"] == f"c{500 - hist.TAIL}"
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"x": 1}\n')
    r = run(SCRIPTS / "history.py", "show", bad)
    assert r.returncode == 2 and "not a conpat history file" in r.stderr
    plain = run(SCRIPTS / "history.py", "append", SCRIPTS / "tests" / "fixtures" / "plain_gbench.json",
                "--history", tmp_path / "p.jsonl")
    assert plain.returncode == 2 and "not a conpat results file" in plain.stderr


def test_ci_summary_lists_regressions_worst_first_then_improvements_then_counts(tmp_path):
    a = write(tmp_path, "a.json", run_doc("box", seed=1, noise=0.01))
    b = write(tmp_path, "b.json", run_doc("box", seed=2, noise=0.01, slow=2.0))
    cmp = tmp_path / "c.json"
    cmp.write_text(run(SCRIPTS / "compare.py", a, b, "--format", "json").stdout)
    r = run(SCRIPTS / "ci_summary.py", cmp)
    assert r.returncode == 0, r.stderr
    s = r.stdout
    assert s.index("Regressions") < s.index("Improvements") < s.index("Counts")
    rows = [ln for ln in s.split("Improvements")[0].splitlines() if ln.startswith("| `")]
    lows = [float(ln.split("change: [")[1].split("%")[0]) for ln in rows]
    assert rows and lows == sorted(lows, reverse=True), "worst first: the largest lower bound leads"


def test_ci_bench_takes_relative_paths_from_where_it_was_started(tmp_path):
    (tmp_path / "sub").mkdir()
    r = run("bash", SCRIPTS / "ci-bench.sh", "--baseline", "sub/nope.json", cwd=tmp_path)
    assert r.returncode == 2 and f"{tmp_path}/sub/nope.json" in r.stderr, r.stderr


def test_ci_bench_labels_are_always_valid():
    env = {k: v for k, v in os.environ.items() if k not in ("CONPAT_MACHINE", "RUNNER_NAME", "RUNNER_ENVIRONMENT")}
    for extra, label in (({"RUNNER_NAME": "GitHub Actions 2", "RUNNER_ENVIRONMENT": "self-hosted"}, "github-actions-2"),
                         ({"RUNNER_NAME": "x", "RUNNER_ENVIRONMENT": "github-hosted", "ImageOS": "ubuntu24"},
                          "github-hosted-ubuntu24"),
                         ({"CONPAT_MACHINE": "lab.box_1", "RUNNER_NAME": "y z"}, "lab.box_1")):
        r = run("bash", SCRIPTS / "ci-bench.sh", "--print-machine", env={**env, **extra})
        assert r.returncode == 0 and r.stdout.strip() == label, (extra, r.stdout, r.stderr)
    r = run("bash", SCRIPTS / "ci-bench.sh", "--print-machine", "--machine", "has space", env=env)
    assert r.returncode == 2 and "may only hold" in r.stderr


def shim(bin_dir: Path, name: str, body: str) -> None:
    p = bin_dir / name
    p.write_text("#!/bin/bash\n" + body + "\n")
    p.chmod(0o755)


@pytest.mark.parametrize("missing,code,needle", [("chromium", 0, "optional ones missing: chromium"),
                                                 ("cmake", 1, "not root and no password-less sudo")])
def test_make_deps_without_root_fails_only_for_required_packages(tmp_path, missing, code, needle):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim(bin_dir, "id", 'if [ "$1" = -u ]; then echo 1000; else /usr/bin/id "$@"; fi')
    shim(bin_dir, "sudo", "exit 1")
    shim(bin_dir, "dpkg-query", f'[ "${{@: -1}}" = {missing} ] && exit 1; echo "install ok installed"')
    shim(bin_dir, "apt-get", f'echo "apt-get $*" >> {tmp_path}/apt.log')
    shim(bin_dir, "apt-cache", "exit 0")
    r = run("bash", SCRIPTS / "install-deps.sh", env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"})
    assert r.returncode == code and needle in (r.stdout + r.stderr), r.stdout + r.stderr
    assert not (tmp_path / "apt.log").exists(), "nothing to install without root: apt-get is not run"


def test_make_deps_refreshes_the_package_lists_only_when_needed(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim(bin_dir, "id", 'if [ "$1" = -u ]; then echo 0; else /usr/bin/id "$@"; fi')
    shim(bin_dir, "dpkg-query", '[ "${@: -1}" = chromium ] && exit 1; echo "install ok installed"')
    shim(bin_dir, "apt-get", f'echo "apt-get $*" >> {tmp_path}/apt.log')
    shim(bin_dir, "apt-cache", "exit 0")  # chromium is known to the current lists
    r = run("bash", SCRIPTS / "install-deps.sh", env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"})
    assert r.returncode == 0, r.stderr
    log = (tmp_path / "apt.log").read_text()
    assert "update" not in log and "install -y -qq --no-install-recommends chromium" in log, log


def test_compare_filter_keeps_only_the_matching_rows(tmp_path):
    a = write(tmp_path, "a.json", run_doc("box"))
    b = write(tmp_path, "b.json", run_doc("box", slow=1.5))
    rows = json.loads(run(SCRIPTS / "compare.py", a, b, "--filter", r"^channel\.mpmc/", "--format", "json").stdout)[0]["rows"]
    assert rows and all(r["benchmark"].startswith("channel.mpmc/") for r in rows)
    r = run(SCRIPTS / "compare.py", a, b, "--filter", "(")
    assert r.returncode == 2 and "not a regular expression" in r.stderr
