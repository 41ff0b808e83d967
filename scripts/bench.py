#!/usr/bin/python3
"""Run conpat's benchmarks, one family per process, into one results file.

Each family runs as its own conpat_bench process, so a crash or a hang in
one family keeps the others; the failure is recorded in the file.

Repetitions are passes: every pass runs every family once (in a shuffled
order, and Google Benchmark shuffles the benchmarks inside a family), so a
change of the machine's state during the run spreads over all
implementations instead of landing on one. Before each pass and after the
last, a probe measures the core-to-core and futex wake round trips, and
every C++ sample carries its own short core-to-core probe (state_c2c_ns).
Samples taken while the machine was in another state are marked
(state_shift); benchmarks left with fewer samples in the usual state than
repetitions asked for run again in top-up passes (at most about half as many
passes again). During each family the script also samples steal time and
other processes' CPU share. Every sample stays in the file; each benchmark
gets a median aggregate with its confidence interval, from the samples in
the usual state when at least three exist.

The merged file is written to <out-dir>/<machine>/<UTC stamp>-<git short
sha>.json through a temporary name, and never over an existing file.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import re
import resource
import shutil
import shlex
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import conpat_results as cr  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

# Per-benchmark minimum time, repetitions (passes) and per-family time limit, by profile.
PROFILES = {
    "quick": {"min_time": 0.02, "repetitions": 3, "family_timeout": 300},
    "default": {"min_time": 0.2, "repetitions": 5, "family_timeout": 900},
    "full": {"min_time": 0.3, "repetitions": 10, "family_timeout": 3600},
}
# The seed.* experiments decide the claims table and are cheap: they get at
# least this many passes (the extra ones run only them, both arms of every
# claim in each). With 6 samples a median's interval is [min, max] at 96.9 %
# coverage; with 5, 93.75 %.
SEED_REPETITIONS = {"quick": 3, "default": 6, "full": 10}
# A pass is marked state_shift when a probe next to it is this far (as a
# factor either way) from the run's median core-to-core round trip.
STATE_SHIFT_FACTOR = 1.5


def die(msg: str, code: int = 2) -> None:
    print(f"bench: {msg}", file=sys.stderr)
    sys.exit(code)


def git(*args: str) -> str | None:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def cpu_times() -> tuple[float, float, float]:
    """(busy, steal, total) jiffies summed over all CPUs, from /proc/stat."""
    try:
        with open("/proc/stat") as f:
            fields = [float(x) for x in f.readline().split()[1:]]
    except OSError:
        return (0.0, 0.0, 0.0)
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0.0] * 8)[:8]
    busy = user + nice + system + irq + softirq
    return busy, steal, busy + idle + iowait + steal


def fmt_secs(s: float) -> str:
    s = int(s)
    return f"{s // 60}m{s % 60:02d}s"


def list_benchmarks(binary: Path, profile: str, user_args: list[str]) -> list[str]:
    cmd = [str(binary), f"--conpat_profile={profile}", "--benchmark_list_tests=true", *user_args]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode == 2 and "no benchmark matches" in r.stderr:
        return []
    if r.returncode != 0:
        die(f"cannot list benchmarks ({binary} exited {r.returncode}): {r.stderr.strip().splitlines()[-1:]}")
    return [line.strip() for line in r.stdout.splitlines() if line.strip()]


GO_SOURCE = ROOT / "benches" / "go"


def go_toolchains() -> list[tuple[str, str]]:
    """(release, go executable) of every installed Go, the one on PATH first,
    then Debian's side-by-side ones (/usr/lib/go-1.N/bin/go: golang-1.N-go,
    e.g. 1.23 from bookworm-backports); one per release ("go1.19")."""
    found: list[tuple[str, str]] = []
    candidates = [shutil.which("go")] + sorted(str(p) for p in Path("/usr/lib").glob("go-1.*/bin/go"))
    for go in candidates:
        if not go or not os.access(go, os.X_OK):
            continue
        try:
            out = subprocess.run([go, "env", "GOVERSION"], capture_output=True, text=True, timeout=30).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            continue
        m = re.match(r"go\d+\.\d+", out)
        if m and m.group(0) not in [r for r, _ in found]:
            found.append((m.group(0), go))
    return found


def build_go(out_dir: Path, go: str | None = None, release: str = "") -> Path | None:
    """Builds benches/go with the given Go (default: the one on PATH); None without one."""
    go = go or shutil.which("go")
    if go is None:
        return None
    out_dir = out_dir.resolve()  # GOCACHE must be absolute (--binary may be relative)
    target = out_dir / (f"go_bench_{release}" if release else "go_bench")
    env = {**os.environ, "GOCACHE": str(out_dir / "gocache"), "GOFLAGS": "-mod=mod", "CGO_ENABLED": "0",
           "GOTOOLCHAIN": "local"}  # never download another toolchain
    env.setdefault("HOME", str(out_dir))
    # -gcflags=-m prints the compiler's escape decisions (it changes no code);
    # those for the closures' file go into the results (go_escape_lines).
    r = subprocess.run([go, "build", "-gcflags=-m", "-o", str(target), "."], cwd=GO_SOURCE, capture_output=True,
                       text=True, env=env)
    if r.returncode != 0:
        print(f"bench: warning: building the Go workloads with {go} failed; skipping them: {r.stderr.strip()[:300]}",
              file=sys.stderr)
        return None
    GO_ESCAPES[:] = go_escape_lines(r.stderr)
    return target


# The escape analysis of benches/go/closures.go from the last build_go.
GO_ESCAPES: list[str] = []


def go_escape_lines(compiler_output: str, file: str = "closures.go") -> list[str]:
    """The -gcflags=-m lines about `file` that say where a value lives: what
    escapes or moves to the heap, and what does not escape (inlining notes left out)."""
    keep = ("escapes to heap", "moved to heap", "does not escape", "leaking param")
    return [line.strip().removeprefix("./") for line in compiler_output.splitlines()
            if line.strip().removeprefix("./").startswith(file + ":") and any(k in line for k in keep)]


def go_filter(user_filter: list[str]) -> str:
    return user_filter[0].split("=", 1)[1] if user_filter else ""


def list_go(binary: Path, profile: str, flt: str) -> list[str]:
    r = subprocess.run([str(binary), "-profile", profile, "-list", "-filter", flt], capture_output=True, text=True)
    return [line.strip() for line in r.stdout.splitlines() if line.strip()] if r.returncode == 0 else []


RUST_SOURCE = ROOT / "benches" / "rust"
# Debian's crate registry (librust-*-dev packages); benches/rust/.cargo/config.toml
# points crates-io there, and cargo builds offline.
RUST_REGISTRY = Path("/usr/share/cargo/registry")
# The family record of the Rust process (crossbeam-channel and flume).
RUST_FAMILY = "rust"


def cargo_toolchain() -> tuple[str, str] | None:
    """(cargo, rustc): Debian's /usr/bin/cargo first (what CI on a fresh
    Debian machine has), then the cargo on PATH; the rustc beside it."""
    for cargo in ("/usr/bin/cargo", shutil.which("cargo")):
        if cargo and os.access(cargo, os.X_OK):
            rustc = Path(cargo).parent / "rustc"
            return cargo, str(rustc) if os.access(rustc, os.X_OK) else (shutil.which("rustc") or "rustc")
    return None


def crate_versions(lock: Path) -> dict[str, str]:
    """name -> version of the packages in a Cargo.lock."""
    out, name = {}, None
    try:
        for line in lock.read_text().splitlines():
            m = re.match(r'(name|version) = "([^"]+)"', line.strip())
            if m and m.group(1) == "name":
                name = m.group(2)
            elif m and name:
                out[name], name = m.group(2), None
    except OSError:
        pass
    return out


# What the last build_rust found: rustc's version and the channel crates'.
RUST_VERSIONS: dict[str, str] = {}


def build_rust(out_dir: Path) -> Path | None:
    """Builds benches/rust (crossbeam-channel and flume) with cargo, offline,
    from a copy in <out_dir>/rust-src (so the Cargo.lock that cargo writes,
    whose format depends on cargo's version, stays with the build, not in
    the source tree) into <out_dir>/rust-target; None (and a warning saying
    why) without cargo or when the build fails."""
    tools = cargo_toolchain()
    if tools is None:
        print("bench: no cargo: skipping the Rust workloads (crossbeam-channel, flume; make deps installs "
              "Debian's rustc, cargo and crates)", file=sys.stderr)
        return None
    cargo, rustc = tools
    out_dir = out_dir.resolve()
    src, target_dir = out_dir / "rust-src", out_dir / "rust-target"
    env = {**os.environ, "RUSTC": rustc, "CARGO_TARGET_DIR": str(target_dir)}
    env.setdefault("HOME", str(out_dir))
    try:
        # copy2 keeps the sources' times, so an unchanged tree rebuilds nothing.
        shutil.copytree(RUST_SOURCE, src, dirs_exist_ok=True, ignore=shutil.ignore_patterns("target", "Cargo.lock"))
        for attempt in (1, 2):
            r = subprocess.run([cargo, "build", "--offline", "--release", "--quiet"], cwd=src,
                               capture_output=True, text=True, env=env, timeout=1800)
            if r.returncode == 0 or not (src / "Cargo.lock").exists():
                break
            (src / "Cargo.lock").unlink()  # another cargo's lock file: resolve again once
    except (OSError, shutil.Error, subprocess.TimeoutExpired) as e:
        print(f"bench: warning: building the Rust workloads failed ({e}); skipping them", file=sys.stderr)
        return None
    if r.returncode != 0:
        hint = "" if RUST_REGISTRY.is_dir() else f" ({RUST_REGISTRY} is missing: make deps installs the crates)"
        print(f"bench: warning: building the Rust workloads with {cargo} failed{hint}; skipping them: "
              f"{r.stderr.strip()[-300:]}", file=sys.stderr)
        return None
    crates = crate_versions(src / "Cargo.lock")
    try:
        rv = subprocess.run([rustc, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        rv = ""
    RUST_VERSIONS.clear()
    RUST_VERSIONS.update({"rustc": rv or "unknown", "crossbeam_channel": crates.get("crossbeam-channel", "unknown"),
                          "flume": crates.get("flume", "unknown")})
    return target_dir / "release" / "conpat_rust_bench"


def list_rust(binary: Path, profile: str, user_filter: list[str]) -> list[str]:
    """The Rust harness's benchmarks that the user's --benchmark_filter (a
    regular expression searched in the name, as Google Benchmark does) selects."""
    r = subprocess.run([str(binary), "--profile", profile, "--list"], capture_output=True, text=True)
    if r.returncode != 0:
        print(f"bench: warning: the Rust harness cannot list its benchmarks: {r.stderr.strip()[:300]}",
              file=sys.stderr)
        return []
    names = [line.strip() for line in r.stdout.splitlines() if line.strip()]
    flt = go_filter(user_filter)
    try:
        rx = re.compile(flt)
    except re.error:
        return []  # the C++ harness explains a bad filter
    return [n for n in names if rx.search(n)]


def rust_command(binary: Path, names: list[str], args: argparse.Namespace, out: Path) -> list:
    names_file = out.with_suffix(".names")
    names_file.write_text("\n".join(names) + "\n")
    return [str(binary), "--profile", args.profile, "--min-time", str(args.min_time), "--out", str(out),
            "--names", str(names_file)]


def rust_metadata(conpat: dict, rust_context: dict) -> None:
    """The Rust toolchain's and crates' versions beside Go's and the C++
    libraries', and what each Rust implementation is (impl_notes)."""
    conpat["libraries"].update({k: v for k, v in RUST_VERSIONS.items()})
    notes = {"crossbeam_channel": f"Rust's crossbeam-channel {RUST_VERSIONS.get('crossbeam_channel', '?')} "
                                  f"(bounded; {RUST_VERSIONS.get('rustc', 'rustc ?')}), OS threads",
             "flume": f"Rust's flume {RUST_VERSIONS.get('flume', '?')} (bounded; {RUST_VERSIONS.get('rustc', 'rustc ?')}), "
                      "OS threads"}
    for note in rust_context.get("notes") or []:
        impl = note.split(":", 1)[0]
        if impl in notes:
            notes[impl] += ". " + note.split(":", 1)[1].strip()
    conpat.setdefault("impl_notes", {}).update(notes)
    # Which rows come from another language (the report groups them with Go's).
    conpat.setdefault("foreign_impls", {}).update({impl: "rust" for impl in notes})


def group_by_family(names: list[str]) -> dict[str, list[str]]:
    families: dict[str, list[str]] = {}
    for n in names:
        families.setdefault(n.split("/", 1)[0], []).append(n)
    return families


def name_pattern(name: str) -> str:
    """A regex for one listed benchmark name that also matches it with the
    /iterations:N that Google Benchmark inserts when the count is fixed
    (conpat_bench --conpat_iterations)."""
    m = re.match(r"(.*?)(/(?:real|manual)_time)?$", name)
    return re.escape(m[1]) + r"(/iterations:[0-9]+)?" + re.escape(m[2] or "")


def cpp_command(binary: Path, names: list[str], args: argparse.Namespace, passthrough: list[str], out: Path) -> list:
    flt = "^(" + "|".join(name_pattern(n) for n in names) + ")$"
    cmd = [str(binary), f"--conpat_profile={args.profile}", f"--conpat_out={out}",
           f"--conpat_machine={args.machine}", f"--conpat_watchdog={args.watchdog}",
           f"--benchmark_filter={flt}", f"--benchmark_min_time={args.min_time}",
           f"--conpat_pin={1 if getattr(args, 'pin', False) else 0}", *passthrough]
    if args.git_sha:
        cmd += [f"--conpat_git={args.git_sha}", f"--conpat_git_dirty={int(args.git_dirty)}"]
    return cmd


ITERATIONS_PART = re.compile(r"/iterations:[0-9]+(?=/|$)")


def run_family(cmd: list, family: str, names: list[str], args: argparse.Namespace, out: Path,
               timeout: float) -> dict:
    """Runs one family in its own process; returns its record for context.conpat.families."""
    busy0, steal0, total0 = cpu_times()
    child0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    finished: list[str] = []

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if not args.quiet:
                sys.stdout.write("    " + line)
            name = ITERATIONS_PART.sub("", line.split(" ", 1)[0])
            if name in names or name + "/real_time" in names:
                finished.append(name)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    status, error = "ok", ""
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        code = proc.wait()
        status = "timeout"
        pending = [n for n in names if n not in finished]
        error = f"killed after {timeout:.0f} s" + (f"; was running {pending[0]}" if pending else "")
    reader.join(timeout=5)
    wall = time.monotonic() - t0
    busy1, steal1, total1 = cpu_times()
    child1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    child_cpu = (child1.ru_utime + child1.ru_stime) - (child0.ru_utime + child0.ru_stime)
    hz = os.sysconf("SC_CLK_TCK")
    ncpu = os.cpu_count() or 1
    steal_pct = other_pct = None
    if total1 > total0:
        steal_pct = round(100.0 * (steal1 - steal0) / (total1 - total0), 2)
        other = max(0.0, (busy1 - busy0) / hz - child_cpu)
        other_pct = round(100.0 * other / (wall * ncpu), 2) if wall > 0 else None
    if status == "ok" and code != 0:
        status, error = "failed", f"exited with code {code}" + (" (signal)" if code < 0 else "")
    if status == "ok" and not out.exists():
        status, error = "failed", "wrote no results"
    rec = {"family": family, "status": status, "exit_code": code, "benchmarks": len(names),
           "wall_s": round(wall, 3), "steal_pct": steal_pct, "other_cpu_pct": other_pct}
    if error:
        rec["error"] = error
    return rec


def median_aggregates(benchmarks: list[dict]) -> list[dict]:
    """One Google Benchmark-style "median" aggregate per benchmark with two or
    more repetitions: real_time and cpu_time medians, the spread
    (min/median/max/CV) and the confidence interval of the median."""
    runs: dict[str, list[dict]] = {}
    for b in benchmarks:
        if b.get("run_type") == "iteration" and not b.get("error_occurred") and "real_time" in b:
            runs.setdefault(b["run_name"], []).append(b)
    out = []
    for run_name, taken in runs.items():
        entries, mixed = cr.in_state(taken)
        if len(entries) < 2:
            continue
        times = [float(b["real_time"]) for b in entries]
        mean = statistics.fmean(times)
        ci = cr.median_ci(times)
        first = entries[0]
        out.append({"name": run_name + "_median", "run_name": run_name, "run_type": "aggregate",
                    "aggregate_name": "median", "repetitions": len(entries), "family": first["family"],
                    "impl": first["impl"], "params": first["params"], "oversubscribed": first["oversubscribed"],
                    "real_time": ci["median"], "cpu_time": statistics.median(float(b["cpu_time"]) for b in entries),
                    "time_unit": first.get("time_unit", "ns"),
                    "spread": {"n": len(times), "min": min(times), "median": ci["median"], "max": max(times),
                               "cv": statistics.pstdev(times) / mean if mean else 0.0},
                    "ci": {"lo": ci["lo"], "hi": ci["hi"], "coverage": ci["coverage"]},
                    "samples_taken": len(taken), "state_shift_repetitions": sum(1 for b in taken if b.get("state_shift")),
                    "state_mixed": mixed})
    return out


def max_top_ups(passes: int) -> int:
    """How many top-up passes a run may add: about half its repetitions."""
    return max(1, (passes + 1) // 2)


def mark_sample_states(benchmarks: list[dict], state: dict) -> dict:
    """Marks every sample state_shift or not (conpat_results, "machine state of
    each sample"); returns the rule and the usual round trip it used."""
    c2c = sorted(float(b["state_c2c_ns"]) for b in benchmarks
                 if b.get("run_type") == "iteration" and isinstance(b.get("state_c2c_ns"), (int, float))
                 and b["state_c2c_ns"] > 0)
    usual = c2c[(len(c2c) - 1) // 4] if c2c else None
    shifted_passes = set(state.get("shifted_passes", []))
    marked = 0
    for b in benchmarks:
        if b.get("run_type") != "iteration":
            continue
        v = b.get("state_c2c_ns")
        if isinstance(v, (int, float)) and v > 0 and usual:
            off = v > cr.STATE_FACTOR * usual
        else:
            off = b.get("pass") in shifted_passes
        b["state_shift"] = off
        marked += off
    return {"usual_c2c_round_trip_ns": usual, "factor": cr.STATE_FACTOR, "marked": marked,
            "rule": f"a sample is in another state when its own core-to-core round trip (state_c2c_ns, taken before "
                    f"and after it) is over {cr.STATE_FACTOR}x the run's 25th percentile; samples without one (Go) "
                    "take the state of the probes around their pass"}


def short_of_state(benchmarks: list[dict], passes: int) -> list[str]:
    """C++ benchmarks (names as listed) with fewer than `passes` samples in the usual state."""
    by: dict[str, list[dict]] = {}
    for b in benchmarks:
        if b.get("run_type") == "iteration" and b.get("family") and "state_c2c_ns" in b:
            by.setdefault(b["run_name"], []).append(b)
    return sorted(n for n, entries in by.items()
                  if not any(e.get("error_occurred") for e in entries)
                  and sum(1 for e in entries if not e.get("state_shift")) < passes)


def probe(binary: Path) -> dict | None:
    """The machine-state probe (conpat_bench --conpat_probe); None if it fails."""
    try:
        r = subprocess.run([str(binary), "--conpat_probe"], capture_output=True, text=True, timeout=60)
        return json.loads(r.stdout) if r.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired, json.JSONDecodeError):
        return None


def machine_state(probes: list[dict], passes: int) -> dict:
    """Classifies each pass by the probes around it (before it, and before the next pass or at the end)."""
    c2c = [p["c2c_round_trip_ns"] for p in probes if p.get("c2c_round_trip_ns")]
    med = statistics.median(c2c) if c2c else None
    shifted = []
    if med:
        def off(p):
            v = p.get("c2c_round_trip_ns")
            return v is not None and not (med / STATE_SHIFT_FACTOR <= v <= med * STATE_SHIFT_FACTOR)
        by_slot = {p["before_pass"]: p for p in probes}
        for k in range(1, passes + 1):
            around = [by_slot.get(k), by_slot.get(k + 1)]
            if any(p is not None and off(p) for p in around):
                shifted.append(k)
    return {"probes": probes, "median_c2c_round_trip_ns": med, "shifted_passes": shifted,
            "rule": f"a pass is shifted when a probe before or after it is more than {STATE_SHIFT_FACTOR}x away "
                    "from the run's median core-to-core round trip"}


def false_sharing_distance(benchmarks: list[dict]) -> dict | None:
    """From collect.stride: the smallest stride from which every larger stride
    costs at most 25 % more per operation than the largest one measured."""
    by_stride: dict[int, list[float]] = {}
    for b in benchmarks:
        if (b.get("family") == "collect.stride" and b.get("run_type", "iteration") == "iteration"
                and not b.get("error_occurred") and "ns_per_op" in b):
            by_stride.setdefault(int(b["params"]["stride"]), []).append(float(b["ns_per_op"]))
    cost = {s: statistics.median(v) for s, v in by_stride.items()}  # medians over the repetitions
    if len(cost) < 2:
        return None
    strides = sorted(cost)
    baseline = cost[strides[-1]]
    distance = strides[-1]
    for s in reversed(strides):
        if cost[s] > 1.25 * baseline:
            break
        distance = s
    return {"false_sharing_distance_bytes": distance, "stride_ns_per_op": {str(s): cost[s] for s in strides},
            "rule": "smallest stride whose cost, and every larger stride's, is within 25 % of the largest stride's"}


def writer_crossovers(benchmarks: list[dict]) -> dict | None:
    """From collect.writer_freq: for every pair of strategies, the work range
    where their cost per write changes order (the seed's decision tree says
    atomics below 5k writes/s per writer, a mutex above). Costs are medians
    over the repetitions; an order counts only where the two confidence
    intervals do not overlap, so a flip inside the noise is no crossover
    (with one repetition there are no intervals, and so no crossovers)."""
    raw: dict[str, dict[int, list[float]]] = {}
    unit = None
    for b in benchmarks:
        if (b.get("family") == "collect.writer_freq" and b.get("run_type", "iteration") == "iteration"
                and not b.get("error_occurred") and "ns_per_write" in b):
            raw.setdefault(b["impl"], {}).setdefault(int(b["params"]["work"]), []).append(float(b["ns_per_write"]))
            unit = b.get("unit_ns", unit)
    ci = {impl: {w: cr.median_ci(v) for w, v in by_work.items()} for impl, by_work in raw.items()}
    cost = {impl: {w: c["median"] for w, c in by_work.items()} for impl, by_work in ci.items()}

    def order(a: str, b: str, w: int) -> int:
        """-1: a cheaper, 1: b cheaper, 0: intervals overlap (or missing)."""
        x, y = ci[a][w], ci[b][w]
        if x["lo"] is None or y["lo"] is None:
            return 0
        return -1 if x["hi"] < y["lo"] else (1 if y["hi"] < x["lo"] else 0)

    impls = sorted(cost)
    crossings = []
    for i, a in enumerate(impls):
        for b in impls[i + 1:]:
            works = sorted(set(cost[a]) & set(cost[b]))
            decided = [(w, order(a, b, w)) for w in works if order(a, b, w) != 0]
            for (w0, o0), (w1, o1) in zip(decided, decided[1:]):
                if o0 != o1:
                    faster_before = a if o0 < 0 else b
                    faster_after = b if faster_before == a else a
                    crossings.append({
                        "pair": [a, b], "between_work": [w0, w1],
                        "faster_below": faster_before, "faster_above": faster_after,
                        "writes_per_s_per_writer_between": [1e9 / cost[faster_before][w0], 1e9 / cost[faster_after][w1]]})
    if not cost:
        return None
    return {"unit_ns": unit, "ns_per_write": {k: {str(w): v for w, v in sorted(c.items())} for k, c in cost.items()},
            "crossovers": crossings,
            "rule": "medians over repetitions; the order of two strategies counts only where their confidence "
                    "intervals do not overlap"}


def placeholder(name: str, family_rec: dict, pass_k: int) -> dict:
    family, impl, params = cr.parse_name(name)
    return {"name": name, "run_name": name, "run_type": "iteration", "family": family, "impl": impl,
            "params": params, "oversubscribed": False, "error_occurred": True, "pass": pass_k,
            "error_message": f"not run: family {family_rec['family']} {family_rec['status']}: "
                             f"{family_rec.get('error', '')}"}


def preset_flag_difference(binary: Path, preset: str = "release") -> str | None:
    """How the binary's build differs from the CMake preset that `make bench`
    uses (build type, compiler flags), from the CMakeCache.txt of its build
    tree; None when they agree or the cache cannot be found."""
    cache = binary.resolve().parent.parent / "CMakeCache.txt"
    try:
        presets = json.loads((ROOT / "CMakePresets.json").read_text())
        want = next(c["cacheVariables"] for c in presets["configurePresets"] if c["name"] == preset)
        values = {}
        for line in cache.read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep and ":" in key:
                values[key.split(":", 1)[0]] = value.strip()
    except (OSError, ValueError, KeyError, StopIteration):
        return None
    bt = values.get("CMAKE_BUILD_TYPE", "")
    have = " ".join(x for x in (values.get("CMAKE_CXX_FLAGS", ""), values.get(f"CMAKE_CXX_FLAGS_{bt.upper()}", "")) if x)
    want_bt = want.get("CMAKE_BUILD_TYPE", "")
    want_flags = want.get(f"CMAKE_CXX_FLAGS_{want_bt.upper()}")
    if bt != want_bt:
        return f"build type '{bt}', the {preset} preset's is '{want_bt}'"
    if want_flags is not None and have.split() != want_flags.split():
        return f"flags '{have}', the {preset} preset's are '{want_flags}' (a stale CMake cache?)"
    return None



def parse_with_filter(p: argparse.ArgumentParser) -> argparse.Namespace:
    """Adds --filter and the Google Benchmark flags after --, parses, and turns
    --filter into --benchmark_filter (bench.py and abtest.py share this)."""
    p.add_argument("--filter", metavar="REGEX",
                   help="only the benchmarks matching REGEX, C++ and Go alike (the same as -- --benchmark_filter=REGEX)")
    p.add_argument("passthrough", nargs="*", help="Google Benchmark flags (after --)")
    args = p.parse_args()
    if args.filter is not None:
        if any(a.startswith("--benchmark_filter=") for a in args.passthrough):
            p.error("give --filter or --benchmark_filter, not both")
        args.passthrough.append(f"--benchmark_filter={args.filter}")
    return args

def main() -> int:
    p = argparse.ArgumentParser(
        description="Run conpat's benchmark families (one process each) and write one results file.",
        epilog="Anything after -- goes to Google Benchmark (e.g. -- --benchmark_filter=channel.spsc).")
    p.add_argument("--profile", choices=sorted(PROFILES), default="default",
                   help="quick: small sweep, 3 repetitions, under 3 min; default: every family, 5 repetitions, "
                        "under 25 min; full: the default sweep, 10 repetitions, longer minimum time")
    p.add_argument("--machine", default=os.uname().nodename.split(".")[0],
                   help="machine label stored in the results and used as the directory name (default: hostname)")
    p.add_argument("--out-dir", default=str(ROOT / "results"), help="results root directory (default: results/)")
    p.add_argument("--binary", default=str(ROOT / "build" / "release" / "benches" / "conpat_bench"),
                   help="the conpat_bench executable")
    p.add_argument("--min-time", type=float, help="seconds per benchmark (default: from the profile)")
    p.add_argument("--repetitions", type=int,
                   help="interleaved repetitions: passes over every family (default: quick 3, default 5, full 10)")
    p.add_argument("--watchdog", type=float, default=30.0,
                   help="seconds without progress before a benchmark is stopped and marked failed (default 30)")
    p.add_argument("--family-timeout", type=float, help="seconds before a family's process is killed")
    p.add_argument("--pin", action="store_true",
                   help="pin the benchmarks' own threads to distinct CPUs (default: where the scheduler puts them; "
                        "see benches/README.md, Pinning)")
    p.add_argument("--no-top-up", action="store_true",
                   help="do not run again the benchmarks whose samples were taken in another machine state")
    p.add_argument("--no-seed-passes", action="store_true",
                   help="do not give the seed.* experiments their own extra passes (default: at least "
                        + ", ".join(f"{k} {v}" for k, v in SEED_REPETITIONS.items()) + " passes)")
    p.add_argument("--no-go", action="store_true",
                   help="skip the Go workloads (benches/go; they run when a Go toolchain is installed)")
    p.add_argument("--no-rust", action="store_true",
                   help="skip the Rust workloads (benches/rust: crossbeam-channel and flume; they run when cargo "
                        "and Debian's crates are installed)")
    p.add_argument("--quiet", action="store_true", help="show progress lines only, not Google Benchmark's table")
    args = parse_with_filter(p)

    binary = Path(args.binary)
    if not binary.is_file() or not os.access(binary, os.X_OK):
        die(f"{binary}: not built (run 'make build')")
    flag_diff = preset_flag_difference(binary)
    if flag_diff and Path(args.out_dir).resolve() == (ROOT / "results").resolve():
        die(f"not comparable: build flags differ from the preset: {binary} was built with {flag_diff}; results/ "
            "keeps only runs that 'make bench' reproduces (rm -rf build/release && make bench), or give --out-dir")
    if flag_diff:
        print(f"bench: WARNING: build flags differ from the preset: {flag_diff}; the run is marked so",
              file=sys.stderr)
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", args.machine):
        die(f"machine label '{args.machine}' may only hold letters, digits, '.', '_' and '-'")
    prof = PROFILES[args.profile]
    if args.min_time is None:
        args.min_time = prof["min_time"]
    if args.min_time <= 0 or args.watchdog <= 0:
        die("--min-time and --watchdog must be positive")
    timeout = args.family_timeout or prof["family_timeout"]

    user_filter = [a for a in args.passthrough if a.startswith("--benchmark_filter=")]
    passthrough = [a for a in args.passthrough if not a.startswith("--benchmark_filter=")]
    passes = args.repetitions or prof["repetitions"]
    for a in [a for a in passthrough if a.startswith("--benchmark_repetitions=")]:
        # Repetitions are passes over the families here; Google Benchmark's own stay at 1.
        try:
            passes = int(a.split("=", 1)[1])
        except ValueError:
            die(f"{a}: not a whole number")
        passthrough.remove(a)
    if passes < 1:
        die("repetitions must be at least 1")
    passthrough += ["--benchmark_repetitions=1", "--benchmark_enable_random_interleaving=true"]

    names = list_benchmarks(binary, args.profile, user_filter)
    # Go's workloads under every installed Go release: one process per
    # release, family "go@go1.19" etc.; every Go row carries runtime:goX.Y.
    go_binaries: dict[str, Path] = {}
    go_names: list[str] = []
    go_families: dict[str, list[str]] = {}
    for release, go in ([] if args.no_go else go_toolchains()):
        built = build_go(binary.parent, go, release)
        listed = list_go(built, args.profile, go_filter(user_filter)) if built else []
        if listed:
            go_binaries[release] = built
            go_families[f"go@{release}"] = listed
            go_names += listed
    # The Rust peers (crossbeam-channel, flume): one more process, family "rust".
    rust_binary = None if args.no_rust else build_rust(binary.parent)
    rust_names = list_rust(rust_binary, args.profile, user_filter) if rust_binary else []
    if rust_names:
        go_families[RUST_FAMILY] = rust_names
        go_names += rust_names
    if not names and not go_names:
        flt = go_filter(user_filter)
        die(f"the filter '{flt}' matches no benchmark (see: {binary} --benchmark_list_tests)")
    families = group_by_family(names)
    families.update(go_families)  # the same families and params as the C++ ones, plus runtime
    names = names + go_names

    args.git_sha = git("rev-parse", "--short", "HEAD") or ""
    status = git("status", "--porcelain", "--untracked-files=no")
    args.git_dirty = bool(status)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    target = Path(args.out_dir) / args.machine / f"{stamp}-{args.git_sha or 'nogit'}.json"
    if target.exists():
        die(f"{target}: exists; conpat never overwrites a results file")

    seed_families = {f: [n for n in fn if n.startswith("seed.")] for f, fn in families.items()}
    seed_families = {f: fn for f, fn in seed_families.items() if fn}
    all_passes = max(passes, SEED_REPETITIONS[args.profile]) if seed_families and not args.no_seed_passes else passes
    print(f"bench: profile {args.profile}, {len(names)} benchmarks in {len(families)} families, {passes} "
          f"interleaved repetition(s), min time {args.min_time} s, machine '{args.machine}'")
    start_iso = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    t_start = time.monotonic()
    records, benchmarks, context, probes = [], [], None, []
    go_contexts: dict[str, dict] = {}
    rust_context: dict | None = None
    total_benchmarks = len(names) * passes + sum(map(len, seed_families.values())) * (all_passes - passes)
    given_up: dict[str, dict] = {}  # family -> the record of the pass where it failed

    def take_probe(before_pass: int) -> None:
        pr = probe(binary)
        if pr is not None:
            pr.update(before_pass=before_pass, time=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
            probes.append(pr)
            c2c = pr.get("c2c_round_trip_ns")
            print("bench: probe: core-to-core round trip " + (f"{c2c:.0f} ns" if c2c else "n/a (one CPU)") + ", "
                  f"futex wake round trip {pr['futex_round_trip_ns'] / 1000:.1f} us", flush=True)

    def run_one(family: str, fnames: list[str], pass_k: int, tmp: str, label: str, top_up: bool = False) -> None:
        nonlocal context, benchmarks, rust_context
        if family in given_up:
            rec = {**given_up[family], "pass": pass_k, "status": "skipped", "wall_s": 0.0,
                   "steal_pct": None, "other_cpu_pct": None,
                   "error": f"not run: failed in pass {given_up[family]['pass']}"}
            records.append(rec)
            benchmarks += [placeholder(n, rec, pass_k) for n in fnames]
            return
        print(f"bench: {label} {family} ({len(fnames)} benchmarks) — elapsed {fmt_secs(time.monotonic() - t_start)}"
              + eta_text(), flush=True)
        out = Path(tmp) / f"{family}.{pass_k}.json"
        if family == RUST_FAMILY:
            cmd = rust_command(rust_binary, fnames, args, out)
        elif family.startswith("go@"):
            flt = go_filter(user_filter) if fnames is families.get(family) else \
                "^(" + "|".join(re.escape(n) for n in fnames) + ")$"
            cmd = [str(go_binaries[family[3:]]), "-profile", args.profile, "-min-time", str(args.min_time), "-out",
                   str(out), "-filter", flt]
        else:
            cmd = cpp_command(binary, fnames, args, passthrough, out)
        rec = run_family(cmd, family, fnames, args, out, timeout)
        rec["pass"] = pass_k
        if top_up:
            rec["top_up"] = True
        records.append(rec)
        doc = None
        if rec["status"] == "ok":
            try:
                doc = cr.load(out, check=False)  # one family's piece; the merged file is validated
            except cr.ResultsError as e:
                rec["status"], rec["error"] = "failed", f"unreadable output: {e}"
        if doc is not None:
            if family.startswith("go@"):
                go_contexts.setdefault(family[3:], doc["context"])
            elif family == RUST_FAMILY:
                rust_context = rust_context or doc["context"]
            else:
                context = context or doc["context"]
            for b in doc["benchmarks"]:
                b["pass"] = pass_k
                if top_up:
                    b["top_up"] = True
            benchmarks += doc["benchmarks"]
            errors = sum(1 for b in doc["benchmarks"] if b.get("error_occurred"))
            if errors:
                print(f"bench: {family}: {errors} benchmark(s) reported an error", file=sys.stderr)
        else:
            print(f"bench: {family} {rec['status']}: {rec.get('error', '')}; continuing; not run again",
                  file=sys.stderr)
            benchmarks += [placeholder(n, rec, pass_k) for n in fnames]
            given_up[family] = rec
        noisy = [f"{rec['steal_pct']}% steal" if (rec["steal_pct"] or 0) > 5 else "",
                 f"{rec['other_cpu_pct']}% CPU used by other processes"
                 if (rec["other_cpu_pct"] or 0) > 10 else ""]
        noisy = [n for n in noisy if n]
        if noisy:
            rec["noisy"] = True
            print(f"bench: warning: {family} ran on a noisy machine: {', '.join(noisy)}", file=sys.stderr)

    progress = {"done": 0}

    def eta_text() -> str:
        elapsed = time.monotonic() - t_start
        done = progress["done"]
        return f", ETA {fmt_secs(elapsed / done * (total_benchmarks - done))}" if done else ""

    with tempfile.TemporaryDirectory(prefix="conpat-bench-") as tmp:
        for rep_k in range(1, all_passes + 1):
            take_probe(rep_k)
            order = list(families.items()) if rep_k <= passes else list(seed_families.items())
            random.Random(rep_k).shuffle(order)  # a fixed order per pass: two runs shuffle alike
            what = f"repetition {rep_k}/{passes}" if rep_k <= passes else f"seed repetition {rep_k}/{all_passes}"
            for k, (family, fnames) in enumerate(order, 1):
                run_one(family, fnames, rep_k, tmp, f"[{what}] [{k}/{len(order)}]")
                progress["done"] += len(fnames)
        take_probe(all_passes + 1)
        # Top-up passes: C++ benchmarks with fewer samples in the run's usual
        # state than repetitions asked for run again (state_c2c_ns, below).
        for j in range(1, (0 if args.no_top_up else max_top_ups(passes)) + 1):
            mark_sample_states(benchmarks, machine_state(probes, all_passes))
            short = short_of_state(benchmarks, passes)
            if not short:
                break
            pass_k = all_passes + j
            fams = group_by_family(short)
            total_benchmarks += len(short)
            print(f"bench: top-up {j}: {len(short)} benchmark(s) have fewer than {passes} samples in the usual "
                  f"machine state; running them again", flush=True)
            for k, (family, fnames) in enumerate(sorted(fams.items()), 1):
                run_one(family, fnames, pass_k, tmp, f"[top-up {j}] [{k}/{len(fams)}]", top_up=True)
                progress["done"] += len(fnames)

    if context is None and go_contexts:
        # Only Go rows were asked for: the machine's context (CPU, build, checks) comes from the C++
        # binary, so it runs one short single-threaded benchmark once, whose row is left out.
        listed = list_benchmarks(binary, args.profile, [])
        pick = [n for n in listed if n.startswith("callback.error_rate/")][:1] or listed[:1]
        with tempfile.TemporaryDirectory(prefix="conpat-bench-ctx-") as tmp:
            out = Path(tmp) / "context.json"
            quick = argparse.Namespace(**{**vars(args), "min_time": 0.01})
            rec = run_family(cpp_command(binary, pick, quick, ["--benchmark_repetitions=1"], out), "context", pick,
                             quick, out, timeout) if pick else {"status": "failed"}
            if rec["status"] == "ok":
                context = cr.load(out, check=False)["context"]
    if context is None:
        die("every family failed; no results written", code=1)
    state = machine_state(probes, all_passes)
    state["samples"] = mark_sample_states(benchmarks, state)
    benchmarks += median_aggregates(benchmarks)
    conpat = context["conpat"]
    conpat["repetitions"] = passes
    if all_passes > passes:
        conpat["seed_repetitions"] = all_passes
    conpat["machine_state"] = state
    conpat["start_time"] = start_iso
    conpat["end_time"] = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    conpat["families"] = records
    if go_contexts:
        # The first release (the Go on PATH) keeps the fields a single-Go run
        # had; go_runtimes holds every release's version and checks.
        first = go_contexts[next(r for r in go_binaries if r in go_contexts)]
        conpat["libraries"]["go"] = first.get("go_version", "unknown")
        conpat.setdefault("impl_notes", {}).update(first.get("impl_notes") or {})
        conpat.setdefault("checks", {}).update(first.get("checks") or {})  # go_* checks beside C++'s
        conpat["go_runtimes"] = {r: {"go_version": c.get("go_version", "unknown"), "checks": c.get("checks") or {}}
                                 for r, c in go_contexts.items()}
        if GO_ESCAPES:
            conpat["go_escape"] = {"command": "go build -gcflags=-m (benches/go)", "file": "benches/go/closures.go",
                                   "lines": list(GO_ESCAPES)}
    if rust_context is not None:
        rust_metadata(conpat, rust_context)
    derived = {}
    fs = false_sharing_distance(benchmarks)
    if fs:
        derived["false_sharing"] = {**fs, "hardware_destructive_interference_size":
                                    conpat["hardware_destructive_interference_size"]}
    wf = writer_crossovers(benchmarks)
    if wf:
        derived["writer_freq"] = wf
    conpat["derived"] = derived
    warnings = set(conpat.get("warnings", []))
    over = len({b["run_name"] for b in benchmarks if b.get("oversubscribed") and b.get("run_type") == "iteration"})
    warnings = {w for w in warnings if "oversubscribed" not in w}
    if over:
        warnings.add(f"{over} benchmark(s) run more threads than the {conpat['hardware_threads']} hardware threads "
                     "(marked oversubscribed)")
    for r in records:
        if r.get("noisy"):
            warnings.add(f"family {r['family']} ran with {r['steal_pct']}% steal and "
                         f"{r['other_cpu_pct']}% CPU used by other processes")
        if r["status"] != "ok":
            warnings.add(f"family {r['family']} {r['status']}: {r.get('error', '')}")
    if context.get("library_build_type") == "debug":
        warnings.add("the Google Benchmark library is a debug build (Debian's package is): its own per-iteration "
                     "overhead is higher; conpat's workloads time whole batches, so it matters little")
    if state["samples"]["marked"]:
        warnings.add(f"{state['samples']['marked']} sample(s) were taken in another machine state (core-to-core "
                     f"round trip over {cr.STATE_FACTOR}x the usual {state['samples']['usual_c2c_round_trip_ns'] or 0:.0f} "
                     "ns); they are kept, marked state_shift, and left out of the medians where enough others exist")
    if state["shifted_passes"]:
        warnings.add(f"the machine's state moved during repetition(s) {state['shifted_passes']} of {passes} "
                     f"(core-to-core round trip outside {STATE_SHIFT_FACTOR}x of its median "
                     f"{state['median_c2c_round_trip_ns']:.0f} ns); Go's samples in them are marked state_shift "
                     "(C++ samples carry their own probe)")
    if flag_diff:
        warnings.add(f"build flags differ from the preset: {flag_diff}")
    conpat["warnings"] = sorted(warnings)
    result = {"context": context, "benchmarks": benchmarks}
    try:
        cr.validate(result, target)
    except cr.ResultsError as e:
        # Keep what was measured: under a name no reader takes for a valid run.
        kept = target.with_name(target.stem + ".invalid.json")
        try:
            cr.write_new(kept, result)
        except cr.ResultsError as e2:
            die(f"{e}; could not keep the measurements either: {e2}", code=1)
        die(f"{e}; the measurements are kept in {kept}", code=1)
    try:
        cr.write_new(target, result)
    except cr.ResultsError as e:
        die(str(e), code=1)
    failed = [r["family"] for r in records if r["status"] != "ok"]
    print(f"bench: done in {fmt_secs(time.monotonic() - t_start)}; "
          f"{len(records) - len(failed)}/{len(records)} families ok")
    print(f"bench: results: {target}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
