""".github/workflows/bench.yml replayed: its jobs in file order, each `run:`
step through bash as the runner runs it, `if:` conditions and `${{ }}`
expressions evaluated, the `uses:` steps played by small stand-ins
(checkout: fetch + checkout --force + clean -ffdx in one workspace, as a
persistent self-hosted runner does; upload/download-artifact: a directory per
artifact name, refusing a second artifact of one name in a run as GitHub
does). The remote is a local bare repository. The benchmark command is a test
double (CONPAT_CI_BENCH_CMD / CONPAT_CI_ABTEST_CMD, see scripts/ci-bench.sh)
that writes schema-valid results files of a realistic size in a moment;
everything after it (compare, gate, summaries, storing, report) is the
production path."""

import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")  # Debian: python3-yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "bench.yml"
TESTS = Path(__file__).resolve().parent

# ---- the fake benchmark commands ---------------------------------------------------------------

FAKE_BENCH = r'''
import argparse, datetime as dt, json, os, random, subprocess, sys
sys.path.insert(0, os.environ["FAKE_TESTS_DIR"]); sys.path.insert(0, os.environ["FAKE_SCRIPTS_DIR"])
from test_compare_report import bench, context
import conpat_results as cr

def doc_for(machine, profile, commit, slow, seed, clock):
    rng = random.Random(seed)
    reps = 3 if profile == "quick" else 5
    rows = []
    for cap in (16, 1024):
        rows += bench(f"channel.spsc/impl:channel/cap:{cap}/payload:8/work:0", 100.0 * slow ** 2, reps, 0.01, rng,
                      ns_per_item=0.02)
    # the bulk of a run: FAKE_ROWS benchmarks, 5 samples each, several counters
    for i in range(int(os.environ.get("FAKE_ROWS", "550"))):
        rows += bench(f"bulk.rows/impl:r{i % 7}/n:{i}", (1000.0 + i) * slow, reps, 0.02, rng,
                      ns_per_op=5.0 + i % 13, lat_p50_ns=2000.0 + i, lat_p99_ns=9000.0 + i, state_c2c_ns=60.0)
    ctx = context(machine)
    ctx["conpat"].update(profile=profile, git_commit=commit[:7], start_time=clock, end_time=clock, repetitions=reps)
    return {"context": ctx, "benchmarks": rows}

def tick():
    path = os.environ["FAKE_CLOCK"]
    n = int(open(path).read()) + 1 if os.path.exists(path) else 1
    open(path, "w").write(str(n))
    t = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(hours=n)
    return t.strftime("%Y%m%dT%H%M%SZ"), t.strftime("%Y-%m-%dT%H:%M:%SZ")

def write(doc, out_dir, machine, name):
    path = os.path.join(out_dir, machine, name)
    cr.validate(doc, path)
    cr.write_new(path, doc)
    return path

mode = sys.argv[1]
p = argparse.ArgumentParser()
for opt in ("--profile", "--machine", "--repetitions", "--out-dir", "--base", "--head", "--format", "--out",
            "--fail-on-regression", "--fdr", "--min-effect"):
    p.add_argument(opt)
for flag in ("--quiet", "--pin", "--no-go"):
    p.add_argument(flag, action="store_true")
p.add_argument("--gate-metric", action="append")
p.add_argument("rest", nargs="*")
a = p.parse_args(sys.argv[2:])
with open(os.environ["FAKE_CALLS"], "a") as f:
    f.write(json.dumps({"mode": mode, "argv": sys.argv[2:]}) + "\n")
slow = float(os.environ.get("FAKE_SLOWDOWN", "1"))
sha = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip() or "0000000"
if mode == "bench":
    stamp, clock = tick()
    path = write(doc_for(a.machine, a.profile, sha, slow, stamp, clock), a.out_dir, a.machine, f"{stamp}-{sha[:7]}.json")
    print(f"bench: results: {path}")
    sys.exit(0)
# abtest: both sides, compared by compare.py, in abtest.py's JSON shape
stamp, clock = tick()
base_sha = subprocess.run(["git", "rev-parse", a.base], capture_output=True, text=True).stdout.strip()
files = [write(doc_for(a.machine, a.profile, s, f, stamp + role, clock), a.out_dir, a.machine,
               f"{stamp}-{s[:7]}-{role}.json") for s, f, role in ((base_sha, 1.0, "base"), (sha, slow, "head"))]
cmp = subprocess.run([sys.executable, os.path.join(os.environ["FAKE_SCRIPTS_DIR"], "compare.py"), *files,
                      "--format", "json"], capture_output=True, text=True, check=True)
res = json.loads(cmp.stdout)[0]
res.update(paired=True, base={"rev": a.base, "commit": base_sha, "dirty": False},
           head={"rev": a.head, "commit": sha, "dirty": False},
           build={"cxx_flags": "-O2", "compiler": "g++ 12"}, profile=a.profile, passes=5, min_time_s=0.1,
           pairs={"kept": 5, "dropped_state": 0})
for r in res["rows"]:
    r.update(pairs=5, pairs_dropped_state=0)
code = 0
slower = [r for r in res["rows"] if r["verdict"] == "slower" and r["metric"] == "time_ns"]
if a.fail_on_regression and slower:
    code = 1
    res["gate"] = {"exit_code": 1, "message": f"abtest: {len(slower)} regression(s); worst: {slower[0]['benchmark']}"}
open(a.out, "w").write(json.dumps([res]))
sys.exit(code)
'''


# ---- a minimal GitHub Actions expression evaluator ---------------------------------------------

TOKEN = re.compile(r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>\d+(?:\.\d+)?)|(?P<op>==|!=|&&|\|\||!|\(|\)|,)"
                   r"|(?P<name>[A-Za-z_][A-Za-z0-9_.\-]*))")


class Expr:
    """GitHub's expression syntax, the part bench.yml uses: contexts, strings,
    ==, !=, !, &&, ||, parentheses, and the status functions."""

    def __init__(self, text: str, ctx: dict, status: dict):
        self.toks, pos = [], 0
        text = text.strip()
        while pos < len(text):
            m = TOKEN.match(text, pos)
            assert m and m.end() > pos, f"cannot parse expression at: {text[pos:]!r}"
            kind = m.lastgroup
            self.toks.append((kind, m.group(kind)))
            pos = m.end()
        self.i, self.ctx, self.status = 0, ctx, status

    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else (None, None)

    def take(self):
        t = self.peek()
        self.i += 1
        return t

    def value(self):
        v = self.or_()
        assert self.i == len(self.toks), f"trailing tokens in expression: {self.toks[self.i:]}"
        return v

    def or_(self):
        v = self.and_()
        while self.peek() == ("op", "||"):
            self.take()
            w = self.and_()
            v = v if truthy(v) else w
        return v

    def and_(self):
        v = self.cmp()
        while self.peek() == ("op", "&&"):
            self.take()
            w = self.cmp()
            v = w if truthy(v) else v
        return v

    def cmp(self):
        v = self.unary()
        while self.peek() in (("op", "=="), ("op", "!=")):
            op = self.take()[1]
            w = self.unary()
            same = str(v if v is not None else "").lower() == str(w if w is not None else "").lower()
            v = same if op == "==" else not same
        return v

    def unary(self):
        if self.peek() == ("op", "!"):
            self.take()
            return not truthy(self.unary())
        return self.atom()

    def atom(self):
        kind, text = self.take()
        if kind == "op" and text == "(":
            v = self.or_()
            assert self.take() == ("op", ")")
            return v
        if kind == "str":
            return text[1:-1].replace("''", "'")
        if kind == "num":
            return float(text)
        assert kind == "name", f"unexpected token {text!r}"
        if self.peek() == ("op", "("):
            self.take()
            assert self.take() == ("op", ")"), "functions with arguments are not used in bench.yml"
            assert text in self.status, f"unknown function {text}()"
            return self.status[text]
        if text in ("true", "false"):
            return text == "true"
        v = self.ctx
        for part in text.split("."):
            v = v.get(part) if isinstance(v, dict) else None
        return v


def truthy(v) -> bool:
    return v not in (None, "", 0, False)


def substitute(text: str, ctx: dict, status: dict) -> str:
    def one(m):
        v = Expr(m.group(1), ctx, status).value()
        return "" if v is None else ("true" if v is True else "false" if v is False else str(v))
    return re.sub(r"\$\{\{(.*?)\}\}", one, str(text))


# ---- the replay ----------------------------------------------------------------------------------

class Replay:
    """One workflow run (a push, a pull request, a manual run, or a re-run of one)."""

    def __init__(self, world, event: str, ref: str, sha: str, run_id: int, attempt: int = 1, variables=None,
                 inputs=None, runner_name: str = "conpat box 1", runner_env: str = "self-hosted", fork: bool = False,
                 base_sha: str | None = None, extra_env=None):
        self.w = world
        self.github = {"event_name": event, "ref": ref, "sha": sha, "run_id": str(run_id),
                       "run_attempt": str(attempt), "repository": "conpat/conpat", "token": "fake-token",
                       "event": {}}
        if event == "pull_request":
            self.github["event"] = {"pull_request": {
                "number": 7,
                "head": {"sha": sha, "repo": {"full_name": "someone/conpat" if fork else "conpat/conpat"}},
                "base": {"sha": base_sha}}}
        self.vars, self.inputs = variables or {}, inputs or {}
        self.runner = {"name": runner_name, "environment": runner_env}
        self.extra_env = extra_env or {}
        self.jobs, self.summaries, self.log = {}, {}, []

    def run(self) -> dict:
        wf = yaml.safe_load(WORKFLOW.read_text())
        for name, job in wf["jobs"].items():
            needs = job.get("needs", [])
            needs = [needs] if isinstance(needs, str) else needs
            need_ctx = {n: {"result": self.jobs[n]["result"], "outputs": self.jobs[n]["outputs"]} for n in needs}
            ok_before = all(self.jobs[n]["result"] == "success" for n in needs)
            status = {"always": True, "success": ok_before, "failure": not ok_before, "cancelled": False}
            ctx = self.context(need_ctx, {}, wf.get("env", {}))
            cond = job.get("if", "success()")
            if not truthy(Expr(str(cond).replace("${{", "").replace("}}", ""), ctx, status).value()) or (
                    "if" not in job and not ok_before):
                self.jobs[name] = {"result": "skipped", "outputs": {}}
                continue
            self.jobs[name] = self.run_job(name, job, wf, need_ctx)
        return self.jobs

    def context(self, needs, steps, env):
        return {"github": self.github, "vars": self.vars, "inputs": self.inputs, "needs": needs, "steps": steps,
                "runner": self.runner, "env": env}

    def run_job(self, name, job, wf, needs) -> dict:
        ws = self.w.workspace
        steps, failed = {}, False
        job_env = dict(wf.get("env", {}))
        job_env.update(job.get("env", {}))
        summary = []
        for step in job["steps"]:
            status = {"always": True, "success": not failed, "failure": failed, "cancelled": False}
            ctx = self.context(needs, steps, job_env)
            cond = step.get("if", "success()")
            if not truthy(Expr(str(cond).replace("${{", "").replace("}}", ""), ctx, status).value()):
                continue
            env = {k: substitute(v, ctx, status) for k, v in {**job_env, **step.get("env", {})}.items()}
            with_ = {k: (str(v).lower() if isinstance(v, bool) else substitute(v, ctx, status))
                     for k, v in step.get("with", {}).items()}
            if "uses" in step:
                ok = self.uses(step["uses"], with_)
                outputs = {}
            else:
                ok, outputs, text = self.run_step(name, step["run"], env)
                summary.append(text)
            if "id" in step:
                steps[step["id"]] = {"outputs": outputs}
            self.log.append((name, step.get("name", step.get("uses")), ok))
            if not ok and not step.get("continue-on-error"):
                failed = True
        ctx = self.context(needs, steps, job_env)
        outputs = {k: substitute(v, ctx, {"always": True}) for k, v in job.get("outputs", {}).items()}
        self.summaries[name] = "".join(summary)
        return {"result": "failure" if failed else "success", "outputs": outputs}

    def run_step(self, job, script: str, env: dict):
        assert "${{" not in script, f"{job}: an expression pasted into a run: line: {script!r}"
        ws = self.w.workspace
        tmp = self.w.tmp / "runner-temp"
        tmp.mkdir(exist_ok=True)
        out, summ = tmp / "output", tmp / "summary"
        out.write_text("")
        summ.write_text("")
        full = {"PATH": f"{self.w.tmp / 'bin'}:{os.environ['PATH']}", "HOME": str(self.w.tmp / "home"), "LANG": "C.UTF-8", "CI": "true",
                "GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": str(ws), "GITHUB_OUTPUT": str(out),
                "GITHUB_STEP_SUMMARY": str(summ), "GITHUB_REF": self.github["ref"], "GITHUB_SHA": self.github["sha"],
                "GITHUB_EVENT_NAME": self.github["event_name"], "GITHUB_RUN_ID": self.github["run_id"],
                "GITHUB_RUN_ATTEMPT": self.github["run_attempt"], "GITHUB_REPOSITORY": self.github["repository"],
                "RUNNER_NAME": self.runner["name"], "RUNNER_ENVIRONMENT": self.runner["environment"],
                "RUNNER_TEMP": str(tmp), "ImageOS": "ubuntu24", **self.w.env, **self.extra_env, **env}
        r = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script], cwd=ws, env=full,
                           capture_output=True, text=True, timeout=600)
        self.log.append((job, "output", r.stdout[-3000:] + r.stderr[-3000:]))
        outputs = dict(line.split("=", 1) for line in out.read_text().splitlines() if "=" in line)
        return r.returncode == 0, outputs, summ.read_text()

    def uses(self, action: str, with_: dict) -> bool:
        ws, w = self.w.workspace, self.w
        if action.startswith("actions/checkout@"):
            assert with_.get("persist-credentials") == "false", "checkout must not keep the token in .git/config"
            ws.mkdir(exist_ok=True)
            if not (ws / ".git").exists():
                w.git("init", "-q", cwd=ws)
                w.git("remote", "add", "origin", str(w.remote), cwd=ws)
            ref = with_.get("ref") or self.github["sha"]
            w.git("fetch", "-q", "--no-tags", "origin", ref, "+refs/heads/*:refs/remotes/origin/*", cwd=ws)
            w.git("checkout", "-q", "--force", "--detach", ref, cwd=ws)
            w.git("clean", "-ffdxq", cwd=ws)
            return True
        if action.startswith("actions/upload-artifact@"):
            name = with_["name"]
            store = w.artifacts.setdefault(self.github["run_id"], {})
            if name in store:
                return False  # GitHub: 409 Conflict, an artifact of this name exists in this run
            paths = [p.strip() for p in with_["path"].splitlines() if p.strip()]
            root = Path(os.path.commonpath(paths)) if len(paths) > 1 else Path(paths[0]).parent
            dest = w.tmp / "artifacts" / self.github["run_id"] / name
            dest.mkdir(parents=True)
            for p in paths:
                src = ws / p
                if src.is_dir():
                    shutil.copytree(src, dest / Path(p).relative_to(root))
                elif src.is_file():
                    (dest / Path(p).relative_to(root)).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(src, dest / Path(p).relative_to(root))
            store[name] = dest
            return True
        if action.startswith("actions/download-artifact@"):
            src = w.artifacts.get(self.github["run_id"], {}).get(with_["name"])
            if src is None:
                return False
            shutil.copytree(src, ws / with_["path"], dirs_exist_ok=True)
            return True
        if action.startswith("actions/upload-pages-artifact@"):
            pages = w.pages.setdefault(self.github["run_id"], {})
            name = with_.get("name", "github-pages")
            if name in pages or not (ws / with_["path"] / "index.html").is_file():
                return False
            pages[name] = ws / with_["path"]
            return True
        if action.startswith("actions/deploy-pages@"):
            name = with_.get("artifact_name", "github-pages")
            ok = name in w.pages.get(self.github["run_id"], {})
            if ok:
                w.deployed.append((self.github["run_id"], name))
            return ok
        raise AssertionError(f"no stand-in for {action}")


class World:
    """The remote (a bare repository with main), one runner workspace, the artifact store."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        (tmp / "home").mkdir()
        self.remote = tmp / "remote.git"
        self.src = tmp / "src"
        self.workspace = tmp / "runner" / "_work" / "conpat"
        self.workspace.parent.mkdir(parents=True)
        self.artifacts, self.pages, self.deployed = {}, {}, []
        fake = tmp / "fake_bench.py"
        fake.write_text(FAKE_BENCH)
        shims = tmp / "bin"
        shims.mkdir()
        (shims / "gh").write_text("#!/bin/bash\n"  # GitHub's CLI: what it was asked to post, into gh.log
                                  f'echo "gh $*" >> {tmp}/gh.log\n'
                                  'prev=""; for a in "$@"; do [ "$prev" = --body-file ] && cat "$a" >> '
                                  f'{tmp}/gh.log; prev="$a"; done\n')
        (shims / "gh").chmod(0o755)
        self.gh_log = tmp / "gh.log"
        self.calls = tmp / "calls.jsonl"
        self.env = {"CONPAT_CI_BENCH_CMD": f"/usr/bin/python3 {fake} bench",
                    "CONPAT_CI_ABTEST_CMD": f"/usr/bin/python3 {fake} abtest",
                    "FAKE_TESTS_DIR": str(TESTS), "FAKE_SCRIPTS_DIR": str(ROOT / "scripts"),
                    "FAKE_CLOCK": str(tmp / "clock"), "FAKE_CALLS": str(self.calls),
                    "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
                    "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org",
                    "PYTHONDONTWRITEBYTECODE": "1",
                    # 120 benchmarks a run (a real default run has about 560) keep a replay to a few seconds
                    "FAKE_ROWS": "120"}
        self.git("init", "-q", "--bare", "-b", "main", str(self.remote), cwd=tmp)
        self.git("init", "-q", "-b", "main", str(self.src), cwd=tmp)
        for part in ("scripts", ".github", "results/schema"):
            shutil.copytree(ROOT / part, self.src / part, ignore=shutil.ignore_patterns("__pycache__", "tests"))
        (self.src / ".gitignore").write_text("/build/\n__pycache__/\n")
        self.git("remote", "add", "origin", str(self.remote), cwd=self.src)
        self.commit("the project")

    def git(self, *args, cwd=None):
        r = subprocess.run(["git", *args], cwd=cwd or self.tmp, capture_output=True, text=True,
                           env={**os.environ, **self.env, "HOME": str(self.tmp / "home")})
        assert r.returncode == 0, f"git {' '.join(args)}: {r.stderr}"
        return r.stdout.strip()

    def commit(self, message: str) -> str:
        (self.src / "CHANGES").write_text(message + "\n")
        self.git("add", "-A", cwd=self.src)
        self.git("commit", "-q", "-m", message, cwd=self.src)
        self.git("push", "-q", "origin", "main", cwd=self.src)
        return self.git("rev-parse", "HEAD", cwd=self.src)

    def branch_file(self, path: str) -> bytes | None:
        r = subprocess.run(["git", "cat-file", "blob", f"bench-results:{path}"], cwd=self.remote, capture_output=True)
        return r.stdout if r.returncode == 0 else None

    def packed_size(self) -> int:
        """Bytes of the remote's objects once packed (as a host stores them after gc)."""
        self.git("gc", "-q", "--prune=now", cwd=self.remote)
        stats = dict(line.split(": ") for line in self.git("count-objects", "-v", cwd=self.remote).splitlines())
        return (int(stats["size-pack"]) + int(stats["size"])) * 1024


def push_run(world, run_id, attempt=1, slow=1.0, **kw) -> Replay:
    sha = world.git("rev-parse", "HEAD", cwd=world.src)
    r = Replay(world, "push", "refs/heads/main", sha, run_id, attempt, extra_env={"FAKE_SLOWDOWN": str(slow)}, **kw)
    r.run()
    return r


def explain(r: Replay) -> str:
    return "\n".join(f"{j}: {s}: {o if isinstance(o, bool) else o[-1500:]}" for j, s, o in r.log)


@pytest.fixture
def world(tmp_path):
    if not shutil.which("git"):
        pytest.skip("git is not installed")
    return World(tmp_path)


def history_lines(world, machine):
    blob = world.branch_file(f"history/{machine}.jsonl")
    return [] if blob is None else blob.decode().splitlines()


def test_the_workflow_file_is_hardened():
    wf = yaml.safe_load(WORKFLOW.read_text())
    assert wf.get("permissions") == {}, "no permissions at the top level: each job asks for its own"
    jobs = wf["jobs"]
    for name, job in jobs.items():
        assert "permissions" in job, f"{name} states its permissions"
        for step in job["steps"]:
            if str(step.get("uses", "")).startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False, name
            assert "${{" not in step.get("run", ""), f"{name}: expressions reach run: lines only through env"
    writers = {n for n, j in jobs.items() if "write" in j["permissions"].values()}
    assert writers == {"store", "pages", "comment"}
    assert jobs["comment"]["permissions"] == {"pull-requests": "write"}
    assert not any("checkout" in str(st.get("uses", "")) for st in jobs["comment"]["steps"]), \
        "the job that may write to the pull request runs none of its code"
    assert set(jobs["pages"]["permissions"]) == {"pages", "id-token"}
    assert jobs["store"]["permissions"] == {"contents": "write"}
    # inputs are a closed choice
    profile = wf[True]["workflow_dispatch"]["inputs"]["profile"]  # YAML 1.1 reads the key `on` as true
    assert profile["type"] == "choice" and set(profile["options"]) == {"quick", "default", "full"}
    # fork pull requests never reach a job that may be switched to a self-hosted runner
    assert "head.repo.full_name == github.repository" in jobs["pr"]["if"]
    assert "head.repo.full_name != github.repository" in jobs["pr-fork"]["if"]
    assert jobs["pr-fork"]["runs-on"] == "ubuntu-24.04"
    for name, job in jobs.items():
        if name != "pr-fork":
            cond = str(job.get("if", ""))
            assert "github.event_name != 'pull_request'" in cond or "full_name == github.repository" in cond, \
                f"{name} could run a fork's pull request"


def test_two_main_runs_in_one_workspace_then_a_rerun_then_a_regression(world):
    # 1: the first run: no branch yet, no baseline; stored, published, green
    first = push_run(world, 101)
    assert first.jobs["bench"]["result"] == "success", explain(first)
    assert first.jobs["store"]["result"] == "success", explain(first)
    assert first.jobs["gate"]["result"] == "success", explain(first)
    assert "no baseline" in first.summaries["bench"], first.summaries["bench"]
    machine = "conpat-box-1"  # the runner's name "conpat box 1", made a valid label
    assert len(history_lines(world, machine)) == 1
    assert world.branch_file(f"runs/{machine}/default.json.gz") is not None
    assert world.deployed == [("101", "github-pages-101-1")]

    # 2: a second run in the same workspace (a persistent runner): compared with the first, stored
    world.commit("second")
    second = push_run(world, 102)
    assert all(second.jobs[j]["result"] == "success" for j in ("bench", "store", "pages", "gate")), explain(second)
    assert "gate passed" in second.summaries["bench"] and "stored baseline" in second.summaries["bench"]
    assert len(history_lines(world, machine)) == 2

    # 3: a re-run of run 102 (a new measurement of the same commit): new artifact names, nothing refused
    rerun = push_run(world, 102, attempt=2)
    assert rerun.jobs["bench"]["result"] == "success", explain(rerun)
    assert set(world.artifacts["102"]) == {"conpat-bench-102-1", "conpat-bench-102-2"}
    assert ("102", "github-pages-102-2") in world.deployed
    assert rerun.jobs["store"]["result"] == "success", explain(rerun)
    # storing one artifact twice (re-running only the store job) adds nothing
    n = len(history_lines(world, machine))
    again = subprocess.run(["bash", str(world.workspace / "scripts" / "ci-results.sh"), "store", "--out-dir",
                            str(world.artifacts["102"]["conpat-bench-102-2"])], cwd=world.workspace,
                           capture_output=True, text=True, env={**os.environ, **world.env})
    assert again.returncode == 0 and "stored already" in again.stdout, again.stdout + again.stderr
    assert len(history_lines(world, machine)) == n

    # 4: a regression on main (every row 3x slower: with 5 samples a side and 120 rows or more, the unpaired
    # test's false discovery control lets only a broad slowdown through): stored and published, the
    # baseline moves, the workflow still fails
    world.commit("slower")
    before = world.branch_file(f"runs/{machine}/default.json.gz")
    n_before = len(history_lines(world, machine))
    bad = push_run(world, 104, slow=3.0)
    assert bad.jobs["bench"]["result"] == "success", explain(bad)
    assert bad.jobs["bench"]["outputs"]["exit-code"] == "1"
    assert "gate FAILED" in bad.summaries["bench"]
    summary = bad.summaries["bench"]
    assert summary.index("Regressions") < summary.index("Improvements") < summary.index("Counts")
    first_rows = [ln for ln in summary.split("Regressions")[1].splitlines() if ln.startswith("| `")]
    assert all("channel.spsc/impl:channel" in ln for ln in first_rows[:2]), "worst first: the 9x rows lead"
    assert "change: [+" in first_rows[0]
    assert bad.jobs["store"]["result"] == "success" and bad.jobs["pages"]["result"] == "success"
    assert bad.jobs["gate"]["result"] == "failure", "the gate fails the workflow after storing"
    after = world.branch_file(f"runs/{machine}/default.json.gz")
    assert after != before, "the slower run is the new baseline"
    assert len(history_lines(world, machine)) == n_before + 1
    stored = json.loads(gzip.decompress(after))
    assert stored["context"]["conpat"]["git_commit"] == world.git("rev-parse", "--short=7", "HEAD", cwd=world.src)

    # 5: the next run at the same speed passes against the moved baseline
    world.commit("still slower")
    nxt = push_run(world, 105, slow=3.0)
    assert nxt.jobs["gate"]["result"] == "success", explain(nxt)


def test_a_hosted_runner_with_spaces_in_its_name_and_no_variables_works(world):
    r = push_run(world, 201, runner_name="GitHub Actions 2", runner_env="github-hosted")
    assert r.jobs["gate"]["result"] == "success", explain(r)
    assert history_lines(world, "github-hosted-ubuntu24")
    # a self-hosted runner named with spaces and odd characters, no CONPAT_MACHINE
    r = push_run(world, 202, runner_name="Lab Box #7 (EPYC)")
    assert r.jobs["gate"]["result"] == "success", explain(r)
    assert history_lines(world, "lab-box-7-epyc")
    # the variable wins
    r = push_run(world, 203, variables={"CONPAT_MACHINE": "lab-epyc"})
    assert history_lines(world, "lab-epyc")


def test_a_manual_quick_run_on_main_is_stored_but_is_no_baseline(world):
    push_run(world, 301)
    base = world.branch_file("runs/conpat-box-1/default.json.gz")
    quick = push_run(world, 302, inputs={"profile": "quick"})
    assert quick.jobs["gate"]["result"] == "success", explain(quick)
    assert world.branch_file("runs/conpat-box-1/default.json.gz") == base
    assert world.branch_file("runs/conpat-box-1/quick.json.gz") is not None
    later = push_run(world, 303)
    assert later.jobs["gate"]["result"] == "success", explain(later)
    assert "gate passed" in later.summaries["bench"]


def test_pull_requests_get_a_paired_ab_test_and_forks_stay_off_the_machine(world):
    base = world.git("rev-parse", "HEAD", cwd=world.src)
    push_run(world, 401)
    world.git("checkout", "-q", "-b", "feature", cwd=world.src)
    (world.src / "feature.txt").write_text("x\n")
    world.git("add", "-A", cwd=world.src)
    world.git("commit", "-q", "-m", "feature", cwd=world.src)
    world.git("push", "-q", "origin", "feature", cwd=world.src)
    head = world.git("rev-parse", "HEAD", cwd=world.src)
    pr = Replay(world, "pull_request", "refs/pull/1/merge", head, 402, base_sha=base,
                extra_env={"FAKE_SLOWDOWN": "2.5"})
    pr.run()
    assert pr.jobs["pr"]["result"] == "failure", "a 2.5x slowdown fails the pull request"
    assert pr.jobs["pr-fork"]["result"] == "skipped" and pr.jobs["bench"]["result"] == "skipped"
    assert pr.jobs["store"]["result"] == "skipped" and pr.jobs["pages"]["result"] == "skipped"
    s = pr.summaries["pr"]
    assert s.index("Regressions") < s.index("Improvements") < s.index("Counts"), s
    assert "paired" in s and "change: [" in s
    calls = [json.loads(line) for line in world.calls.read_text().splitlines()]
    ab = [c for c in calls if c["mode"] == "abtest"][-1]["argv"]
    assert ab[ab.index("--base") + 1] == base and ab[ab.index("--head") + 1] == "HEAD"
    assert "conpat-abtest-402-1" in world.artifacts["402"]
    assert pr.jobs["comment"]["result"] == "success", explain(pr)
    comment = world.gh_log.read_text()
    assert "pr comment 7" in comment and "Regressions" in comment, comment

    fork = Replay(world, "pull_request", "refs/pull/2/merge", head, 403, base_sha=base, fork=True,
                  runner_name="GitHub Actions 9", runner_env="github-hosted")
    fork.run()
    assert fork.jobs["pr"]["result"] == "skipped", "fork code never reaches the job that may run on your machine"
    assert fork.jobs["comment"]["result"] == "skipped"
    assert fork.jobs["pr-fork"]["result"] == "success", explain(fork)
    assert "no baseline" in fork.summaries["pr-fork"], fork.summaries["pr-fork"]
    assert history_lines(world, "github-hosted-ubuntu24") == [], "pull requests store nothing"


def test_a_fork_like_main_run_without_variables_or_results_says_no_baseline(world):
    r = push_run(world, 501, runner_name="GitHub Actions 3", runner_env="github-hosted")
    s = r.summaries["bench"]
    assert "no baseline" in s and "github-hosted-ubuntu24" in s, s


def report_inputs_cost(world, out: Path):
    """Runs report.py in this process on the newest stored run and the stored history,
    counting the results files it loads and the history bytes it reads."""
    import conpat_results as cr
    import history as hist
    import report

    work = world.tmp / "rep"
    shutil.rmtree(work, ignore_errors=True)
    (work / "history").mkdir(parents=True)
    run = work / "run" / "x" / "20990101T000000Z-abc.json.gz"
    run.parent.mkdir(parents=True)
    run.write_bytes(world.branch_file("runs/conpat-box-1/default.json.gz"))
    (work / "history" / "conpat-box-1.jsonl").write_bytes(world.branch_file("history/conpat-box-1.jsonl"))
    loads, reads = [], []
    real_load, real_tail = cr.load, hist.tail_lines

    def counting_load(path, *a, **k):
        loads.append(str(path))
        return real_load(path, *a, **k)

    def counting_tail(path, n=hist.TAIL, *a, **k):
        lines = real_tail(path, n, *a, **k)
        reads.append(sum(len(x) for x in lines))
        return lines

    cr.load, hist.tail_lines = counting_load, counting_tail
    old_argv = sys.argv
    try:
        sys.argv = ["report.py", str(run), "--history", str(work / "history"), "--out-dir", str(out)]
        t0 = time.monotonic()
        assert report.main() == 0
        took = time.monotonic() - t0
    finally:
        cr.load, hist.tail_lines, sys.argv = real_load, real_tail, old_argv
    return loads, reads, took


@pytest.mark.parametrize("keep,runs", [("latest", 30), ("all", 10)])
def test_many_main_runs_grow_the_repository_by_little_and_the_report_costs_the_same(world, keep, runs):
    """keep=latest (the default): the branch is one commit, the newest run per machine and profile and every
    run's summary line; keep=all: every run's samples in the branch's log. 120 benchmarks a run here (a real
    default run has about 560: 250 KB gzipped, a 55 KB summary line) to keep the test quick."""
    variables = {} if keep == "latest" else {"CONPAT_KEEP_RUNS": keep}
    sizes, costs = [], {}
    for i in range(runs):
        if i:
            world.commit(f"change {i}")
        r = push_run(world, 600 + i, variables=variables)
        assert r.jobs["store"]["result"] == "success" and r.jobs["gate"]["result"] == "success", explain(r)
        sizes.append(world.packed_size())
        if i + 1 in (3, runs):
            costs[i + 1] = report_inputs_cost(world, world.tmp / f"report{i + 1}")
    assert len(history_lines(world, "conpat-box-1")) == runs
    run_gz = len(world.branch_file("runs/conpat-box-1/default.json.gz"))
    line = len(history_lines(world, "conpat-box-1")[-1])
    growth = (sizes[-1] - sizes[2]) / (runs - 3)
    print(f"keep={keep}: one run's samples {run_gz / 1024:.0f} KB gzipped, its summary line {line / 1024:.0f} KB; "
          f"the remote grows {growth / 1024:.1f} KB per run (after gc); report after 3 runs {costs[3][2]:.1f} s, "
          f"after {runs} {costs[runs][2]:.1f} s")
    if keep == "all":
        # every run's samples stay in the branch's log: the growth is one compressed run and its summary line
        assert growth <= run_gz + line
        log = world.git("log", "--format=%s", "bench-results", "--", "runs/conpat-box-1/default.json.gz",
                        cwd=world.remote).splitlines()
        assert len(log) == runs
    else:
        # the summary lines only (main's own commits here are a few hundred bytes each)
        assert growth <= line + 4 * 1024 and growth <= 100 * 1024
        assert world.git("rev-list", "--count", "bench-results", cwd=world.remote) == "1"
    # the report's cost does not grow with the stored runs: one results file loaded, the history read as
    # summary lines (at most history.TAIL of them), never as sample files
    loads3, reads3, _ = costs[3]
    loads_n, reads_n, _ = costs[runs]
    assert len(loads3) == len(loads_n) == 1, (loads3, loads_n)
    assert len(reads3) == len(reads_n) and max(reads_n) <= len(world.branch_file("history/conpat-box-1.jsonl"))
    assert (world.tmp / f"report{runs}" / "history_conpat-box-1.svg").is_file()


def test_ci_bench_passes_its_options_through(world, tmp_path):
    """--pin, --no-go, --filter, --repetitions reach the benchmark command; --fdr, --min-effect and
    --gate-metric reach the comparison (its JSON records them); a relative --baseline and --out-dir are
    taken from the directory ci-bench.sh was started in."""
    script = ROOT / "scripts" / "ci-bench.sh"
    env = {**os.environ, **world.env, "CONPAT_MACHINE": "opts"}
    first = subprocess.run(["bash", str(script), "--out-dir", "one"], cwd=tmp_path, env=env, capture_output=True,
                           text=True, timeout=300)
    assert first.returncode == 0, first.stderr[-2000:]
    base = next((tmp_path / "one" / "results" / "opts").glob("*.json.gz")).relative_to(tmp_path)
    r = subprocess.run(["bash", str(script), "--out-dir", "two", "--baseline", str(base), "--pin", "--no-go",
                        "--filter", "^channel\\.", "--repetitions", "5", "--fdr", "0.1", "--min-effect", "3",
                        "--gate-metric", "lat_p99_ns", "--fail-on-regression", "25"],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    argv = [json.loads(line)["argv"] for line in world.calls.read_text().splitlines()][-1]
    for a in ("--pin", "--no-go", "--benchmark_filter=^channel\\."):
        assert a in argv, argv
    assert argv[argv.index("--repetitions") + 1] == "5"
    cmp = json.loads((tmp_path / "two" / "compare.json").read_text())[0]
    assert cmp["fdr"] == 0.1 and cmp["min_effect_pct"] == 3.0
    assert "gate passed" in (tmp_path / "two" / "gate.txt").read_text()
    env_file = dict(line.split("=", 1) for line in (tmp_path / "two" / "run.env").read_text().splitlines())
    assert env_file["MACHINE"] == "opts" and env_file["EXIT_CODE"] == "0" and env_file["RUN_FILE"].endswith(".json.gz")
