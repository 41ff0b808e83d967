"""The Rust peers (benches/rust: crossbeam-channel and flume) end to end:
built offline with cargo, run with a tiny minimum time, every row self-checked;
and bench.py merging their rows into one results file beside the C++ and Go
rows, with the toolchain's and crates' versions. Skipped, saying why, where
cargo or Debian's crates are missing (make deps installs them)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import bench
import conpat_results as cr

ROOT = Path(__file__).resolve().parents[2]
FAMILIES = {"channel.spsc", "channel.mpmc", "channel.pingpong", "channel.fan_in", "channel.seq"}
IMPLS = {"crossbeam_channel", "flume"}


def need_cargo():
    if bench.cargo_toolchain() is None:
        pytest.skip("no cargo: the Rust peers are optional (make deps installs rustc, cargo, "
                    "librust-crossbeam-channel-dev and librust-flume-dev)")
    if not bench.RUST_REGISTRY.is_dir():
        pytest.skip(f"no {bench.RUST_REGISTRY}: Debian's crate packages are missing (make deps installs them)")


@pytest.fixture(scope="module")
def rust_binary(request):
    """The harness, built where bench.py builds it (beside conpat_bench), so a
    second build is incremental."""
    need_cargo()
    out = Path(request.config.getoption("--binary")).resolve().parent
    if not out.is_dir():
        out = Path(os.environ.get("TMPDIR", "/tmp")) / "conpat-rust-test"
        out.mkdir(exist_ok=True)
    built = bench.build_rust(out)
    assert built is not None and built.is_file(), "cargo is installed, so the Rust harness must build"
    return built


def harness(binary, *args, **kw):
    return subprocess.run([str(binary), *args], capture_output=True, text=True, timeout=600, **kw)


def test_harness_runs_every_workload_on_both_crates_and_checks_each(rust_binary, tmp_path):
    listed = harness(rust_binary, "--profile", "quick", "--list").stdout.split()
    assert listed and all(n.endswith("/real_time") for n in listed)
    out = tmp_path / "rust.json"
    r = harness(rust_binary, "--profile", "quick", "--min-time", "0.001", "--out", str(out))
    assert r.returncode == 0, r.stderr
    doc = json.loads(out.read_text())
    rows = doc["benchmarks"]
    assert [b["name"] for b in rows] == listed, "one row per listed benchmark, in order"
    assert {b["family"] for b in rows} == FAMILIES and {b["impl"] for b in rows} == IMPLS
    errors = [(b["name"], b.get("error_message")) for b in rows if b.get("error_occurred")]
    assert errors == [], "every row verified what it received"
    for b in rows:
        assert cr.parse_name(b["name"]) == (b["family"], b["impl"], b["params"]), "names are data"
        assert b["runner"] == "thread" and b["iterations"] >= 1
        assert b["real_time"] > 0 and b["items_per_second"] > 0 and b["ns_per_item"] > 0
    by = {(b["family"], b["impl"]): b for b in rows}
    assert all("lat_p99_ns" in b for b in rows if b["family"] == "channel.spsc"), "spsc samples latency"
    assert all(b["peak_workers"] >= 1 for b in rows if b["family"] == "channel.fan_in")
    assert by[("channel.seq", "flume")]["params"] == {"cap": 4096}
    # The cells crossbeam's suite has: the rendezvous and the one-slot buffer at 4 x 1.
    mpsc = {(b["impl"], b["params"]["cap"]) for b in rows
            if b["family"] == "channel.mpmc" and (b["params"]["producers"], b["params"]["consumers"]) == (4, 1)}
    assert {("crossbeam_channel", 0), ("crossbeam_channel", 1), ("flume", 1)} <= mpsc
    if ("flume", 0) not in mpsc:
        assert any("flume" in n and "rendezvous" in n for n in doc["context"]["notes"]), \
            "a missing flume cap:0 cell is explained"


def test_harness_runs_only_the_named_benchmarks_and_rejects_bad_input(rust_binary, tmp_path):
    names = tmp_path / "names"
    wanted = ["channel.pingpong/impl:flume/cap:1/real_time", "channel.seq/impl:crossbeam_channel/cap:4096/real_time"]
    names.write_text("\n".join(wanted) + "\n")
    out = tmp_path / "two.json"
    r = harness(rust_binary, "--profile", "quick", "--min-time", "0.001", "--names", str(names), "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert sorted(b["name"] for b in json.loads(out.read_text())["benchmarks"]) == sorted(wanted)
    names.write_text("channel.spsc/impl:nope/cap:0/real_time\n")
    for args in (["--profile", "huge"], ["--min-time", "-1"], ["--bogus"], ["--names", str(names)]):
        r = harness(rust_binary, *args)
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "conpat_rust_bench:" in r.stderr, \
            (args, r.stderr)
    assert "crossbeam-channel" in harness(rust_binary, "--help").stdout


def run_bench(binary, tmp_path, *extra):
    cmd = [sys.executable, str(ROOT / "scripts" / "bench.py"), "--profile", "quick", "--min-time", "0.001",
           "--repetitions", "2", "--no-top-up", "--no-go", "--out-dir", str(tmp_path), "--machine", "ci-box",
           "--binary", str(binary), "--quiet", *extra, "--", r"--benchmark_filter=channel\.(seq|pingpong)/"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    files = list(tmp_path.rglob("*.json"))
    return r, files


def test_bench_merges_the_rust_rows_into_one_results_file(binary, rust_binary, tmp_path):
    r, files = run_bench(binary, tmp_path / "with")
    assert r.returncode == 0, r.stderr
    assert len(files) == 1
    doc = cr.load(files[0])
    cr.validate(doc, files[0])
    ctx = doc["context"]["conpat"]
    rust = [b for b in cr.iterations(doc) if b["impl"] in IMPLS]
    cpp = [b for b in cr.iterations(doc) if b["impl"] == "channel"]
    assert rust and cpp, "the Rust rows sit beside conpat's in the same file"
    assert {b["family"] for b in rust} == {b["family"] for b in cpp} == {"channel.seq", "channel.pingpong"}
    assert {(b["family"], tuple(sorted(b["params"].items()))) for b in rust} <= \
        {(b["family"], tuple(sorted(b["params"].items()))) for b in cr.iterations(doc)
         if b["impl"] == "channel" and "runner" not in b["params"]}, "the same cells (params) as conpat's thread rows"
    assert all(b["runner"] == "thread" and b["pass"] in (1, 2) for b in rust)
    assert not any(b.get("error_occurred") for b in doc["benchmarks"])
    medians = {b["run_name"] for b in doc["benchmarks"] if b.get("aggregate_name") == "median"}
    assert {b["run_name"] for b in rust} <= medians, "each Rust row gets its median and interval"
    assert [f for f in ctx["families"] if f["family"] == "rust"] and \
        all(f["status"] == "ok" for f in ctx["families"] if f["family"] == "rust")
    libs = ctx["libraries"]
    assert libs["rustc"].startswith("rustc ") and libs["crossbeam_channel"][0].isdigit() and libs["flume"][0].isdigit()
    assert ctx["foreign_impls"] == {"crossbeam_channel": "rust", "flume": "rust"}
    assert "crossbeam-channel " + libs["crossbeam_channel"] in ctx["impl_notes"]["crossbeam_channel"]
    # channel_table puts them beside conpat, with their ratio to conpat on threads.
    import channel_table
    table = channel_table.table(doc)
    assert "crossbeam_channel ns" in table[0] and "flume / thread" in table[0]
    seq_row = next(row for row in table[1:] if row[0] == "seq cap 4096")
    assert all(c != "—" for c in seq_row[6:]), seq_row


def test_bench_skips_the_rust_rows_with_no_rust(binary, rust_binary, tmp_path):
    r, files = run_bench(binary, tmp_path / "without", "--no-rust")
    assert r.returncode == 0, r.stderr
    doc = cr.load(files[0])
    assert not [b for b in doc["benchmarks"] if b["impl"] in IMPLS]
    assert "rustc" not in doc["context"]["conpat"]["libraries"]
