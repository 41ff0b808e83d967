"""conpat_bench --conpat_cpus=N --benchmark_list_tests: what a machine with N
CPUs would run. The sweeps of thread, writer and worker counts reach the
CPUs (powers of two up to N, N, 2N); benches/README.md states what the
default profile costs on 64 CPUs."""

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def listing(binary, cpus, profile="default"):
    r = subprocess.run([str(binary), f"--conpat_profile={profile}", f"--conpat_cpus={cpus}",
                        "--benchmark_list_tests"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return [line.strip() for line in r.stdout.splitlines() if line.strip()]


def counts(names, family, key, impl=None):
    out = set()
    for n in names:
        if n.startswith(family + "/") and (impl is None or f"/impl:{impl}/" in n):
            m = re.search(rf"/{key}:(\d+)", n)
            if m:
                out.add(int(m.group(1)))
    return out


def test_sweeps_reach_the_cpus_of_1_2_and_64(binary):
    one, two, many = listing(binary, 1), listing(binary, 2), listing(binary, 64)
    assert counts(one, "collect.false_sharing", "threads") == {1, 2}
    assert counts(two, "collect.false_sharing", "threads") == {1, 2, 4}
    assert counts(many, "collect.false_sharing", "threads") == {1, 2, 4, 8, 16, 32, 64, 128}
    assert counts(many, "waitgroup.contended", "threads") == {1, 2, 4, 8, 16, 32, 64, 128}
    assert counts(two, "seed.atomic_mutex", "writers") == {1, 2, 4}
    assert counts(many, "seed.atomic_mutex", "writers") == {1, 2, 4, 8, 16, 32, 64, 128}
    # seed.false_sharing: the article's 16 cores where there are 16, N and 2N
    assert counts(two, "seed.false_sharing", "writers") == {2, 4}
    assert counts(many, "seed.false_sharing", "writers") == {16, 64, 128}
    assert counts(many, "seed.paced_writes", "writers") == {64, 128}
    assert counts(many, "channel.mpmc", "producers", "channel") == {1, 2, 4, 8, 16, 32, 64}
    assert counts(two, "channel.mpmc", "producers", "channel") == {1, 2, 4, 8}
    assert set(one) < set(two), "two CPUs add rows to one's"
    assert len(many) > len(two)
    assert counts(listing(binary, 64, "quick"), "seed.atomic_mutex", "writers") == {1, 64}


def test_cpus_is_for_listing_only_and_checked(binary):
    for args, msg in ((["--conpat_cpus=2"], "only sizes a listing"), (["--conpat_cpus=0", "--benchmark_list_tests"], "1 to 4096"),
                      (["--conpat_cpus=x", "--benchmark_list_tests"], "1 to 4096")):
        r = subprocess.run([str(binary), *args], capture_output=True, text=True, timeout=60)
        assert r.returncode == 2 and msg in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_readme_states_the_64_cpu_default_profile(binary):
    text = re.sub(r"\s+", " ", (ROOT / "benches" / "README.md").read_text())
    m = re.search(r"On 64 CPUs the default profile lists ([\d,]+) C\+\+ benchmarks \(([\d,]+) here\)", text)
    assert m, "benches/README.md states the 64-CPU listing and its time"
    assert int(m.group(1).replace(",", "")) == len(listing(binary, 64))
    assert re.search(r"that is about \d+ min with Go 1\.19 and Go 1\.23, against about \d+ min here", text)
