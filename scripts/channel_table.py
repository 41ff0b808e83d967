#!/usr/bin/python3
"""conpat::Channel against Go's chan and Rust's channels, cell by cell, from one results file.

For every cell of channel.spsc (payload 8, work 0), channel.mpmc,
channel.pingpong, channel.fan_in, channel.merge, channel.merge_sparse, channel.seq, channel.select_rx and
channel.select_both that the run holds, prints ns per item
(median [95 % interval] over the repetitions, samples taken in another
machine state left out as everywhere else) of go_chan, of conpat::Channel on
OS threads and on fibers (runner:fiber), and the ratio Go / Channel with its
interval: above 1 means conpat is faster (with several Go releases in the
run, the rows of the Go on PATH, libraries.go). When the run holds the Rust peers
(the implementations its context lists in foreign_impls: crossbeam_channel
and flume, on OS threads), each gets two more columns: its ns per item and
its ratio to conpat::Channel on threads ("—" where it has no such cell).
Then the two figures that say how
close to the machine the channel is: spsc cap 1024 against the padded SPSC
ring, and pingpong as a multiple of the core-to-core round trip.

  make bench BENCH_ARGS='--benchmark_filter=channel\\.(spsc|mpmc|pingpong|fan_in|merge|merge_sparse|seq|select_rx|select_both)/'
  scripts/channel_table.py results/<machine>/<run>.json [--format markdown|text]

Ratios of medians come with a conservative interval from the two medians'
intervals (conpat_results.ratio_ci); rows with fewer than 2 samples a side
show no interval.
"""
from __future__ import annotations

import argparse
import sys

import conpat_results as cr

NS_PER_ITEM = "ns_per_item"
FAMILIES = ("channel.spsc", "channel.mpmc", "channel.pingpong", "channel.fan_in", "channel.merge",
            "channel.merge_sparse", "channel.seq", "channel.select_rx", "channel.select_both")


def cells(S: dict) -> list[tuple[str, str, dict]]:
    """(label, family, params without runner) for each cell the run holds, in reading order."""
    seen = set()
    for (family, impl, params) in S:
        p = {k: v for k, v in params if k not in ("runner", "runtime")}
        if family == "channel.spsc" and (p.get("payload"), p.get("work")) != ("8", "0"):
            continue
        if family in FAMILIES:
            seen.add((family, tuple(sorted(p.items()))))
    order = {f: k for k, f in enumerate(FAMILIES)}

    def num(v):
        try:
            return float(v)
        except ValueError:
            return 0.0

    # Reading order: by family, then the shape of a cell before its capacity.
    shape = ("producers", "consumers", "workers", "inputs", "threads", "cap", "payload", "work")

    def sort_key(c):
        p = dict(c[1])
        return (order[c[0]], [num(p.get(k, "0")) for k in shape])

    out = []
    for family, params in sorted(seen, key=sort_key):
        p = dict(params)
        short = family.split(".", 1)[1]
        if family == "channel.mpmc":
            label = f"mpmc {p.get('producers')}x{p.get('consumers')} cap {p.get('cap')}"
        elif family == "channel.fan_in":
            label = f"fan_in {p.get('workers')} workers cap {p.get('cap')}"
        elif family == "channel.merge":
            label = f"merge {p.get('inputs')} inputs cap {p.get('cap')}"
        elif family == "channel.merge_sparse":
            label = f"merge_sparse {p.get('inputs')} inputs cap {p.get('cap')}"
        elif family in ("channel.select_rx", "channel.select_both"):
            label = f"{short} {p.get('threads')} threads cap {p.get('cap')}"
        else:
            label = f"{short} cap {p.get('cap')}"
        out.append((label, family, p))
    return out


def find(S: dict, family: str, impl: str, params: dict, runner: str | None, runtime: str | None = None) -> dict | None:
    """The row of impl in this cell. Go rows carry runtime:goX.Y: the one of
    `runtime` when given and present, else the first in the run's order."""
    want = {k: str(v) for k, v in params.items()}
    if runner is not None:
        want["runner"] = runner
    found = None
    for (f, i, p), rec in S.items():
        if f == family and i == impl and {k: v for k, v in p if k != "runtime"} == want:
            if runtime is None or dict(p).get("runtime") == runtime:
                return rec
            found = found or rec
    return found


def go_release(doc: dict) -> str | None:
    """The release of the Go on PATH ("go1.19" of libraries.go "go1.19.8"),
    whose rows the table shows when the run holds several Go releases."""
    v = ((doc["context"].get("conpat") or {}).get("libraries") or {}).get("go") or ""
    parts = v.split(".")
    return ".".join(parts[:2]) if v.startswith("go") and len(parts) >= 2 else None


def foreign_thread_impls(doc: dict) -> list[str]:
    """The other languages' implementations on OS threads (the Rust peers),
    as the run's context lists them, in a stable order."""
    return sorted((doc["context"].get("conpat") or {}).get("foreign_impls") or {})


def stat(rec: dict | None, metric: str = NS_PER_ITEM) -> dict | None:
    if rec is None or metric not in rec["metrics"]:
        return None
    return cr.median_ci(rec["metrics"][metric])


def fmt(c: dict | None) -> str:
    if c is None:
        return "—"
    if c["lo"] is None:
        return f"{c['median']:.3g}"
    return f"{c['median']:.3g} [{c['lo']:.3g}, {c['hi']:.3g}]"


def ratio(num: dict | None, den: dict | None) -> str:
    if num is None or den is None or den["median"] <= 0:
        return "—"
    r = num["median"] / den["median"]
    lo, hi = cr.ratio_ci(num, den)
    return f"{r:.2f}" if lo is None else f"{r:.2f} [{lo:.2f}, {hi:.2f}]"


def table(doc: dict) -> list[list[str]]:
    S = cr.samples(doc, extra=(NS_PER_ITEM, "rtt_per_c2c", "c2c_ns"))
    peers = foreign_thread_impls(doc)
    rows = [["cell", "go_chan ns", "channel (thread) ns", "Go / thread", "channel (fiber) ns", "Go / fiber"]
            + [h for impl in peers for h in (f"{impl} ns", f"{impl} / thread")]]
    for label, family, params in cells(S):
        # rows that name their runner
        named = family in ("channel.fan_in", "channel.merge", "channel.merge_sparse", "channel.select_rx",
                           "channel.select_both")
        go_runner = "goroutine" if named else None
        thread_runner = "thread" if named else None
        g = stat(find(S, family, "go_chan", params, go_runner, go_release(doc)))
        t = stat(find(S, family, "channel", params, thread_runner))
        f = stat(find(S, family, "channel", params, "fiber"))
        others = [stat(find(S, family, impl, params, thread_runner)) for impl in peers]
        if g is None and t is None and f is None and all(o is None for o in others):
            continue
        rows.append([label, fmt(g), fmt(t), ratio(g, t), fmt(f), ratio(g, f)]
                    + [c for o in others for c in (fmt(o), ratio(o, t))])
    return rows


def machine_figures(doc: dict) -> list[str]:
    S = cr.samples(doc, extra=(NS_PER_ITEM, "rtt_per_c2c", "c2c_ns"))
    out = []
    spsc = {"cap": 1024, "payload": 8, "work": 0}
    ch, ring = stat(find(S, "channel.spsc", "channel", spsc, None)), stat(find(S, "channel.spsc", "spsc_ring_padded", spsc, None))
    if ch is not None and ring is not None:
        out.append(f"spsc cap 1024: channel / spsc_ring_padded = {ratio(ch, ring)} (ring {fmt(ring)} ns per item)")
    for cap in (0, 1):
        for runner in (None, "fiber"):
            rec = find(S, "channel.pingpong", "channel", {"cap": cap}, runner)
            m = stat(rec, "rtt_per_c2c")
            if m is not None:
                out.append(f"pingpong cap {cap} ({runner or 'thread'}): round trip = {fmt(m)} x the core-to-core "
                           f"round trip ({fmt(stat(rec, 'c2c_ns'))} ns)")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", help="one results file (results/<machine>/<run>.json) or a directory (its newest run)")
    ap.add_argument("--format", choices=("markdown", "text"), default="markdown")
    args = ap.parse_args(argv)
    try:
        path = cr.resolve_inputs([args.results])[0]
        doc = cr.load(path)
    except (cr.ResultsError, IndexError) as e:
        print(f"channel_table: {e or 'no results file'}", file=sys.stderr)
        return 2
    rows = table(doc)
    if len(rows) == 1:
        print(f"channel_table: {path} holds no channel.spsc/mpmc/pingpong/fan_in/merge/merge_sparse/seq/select_rx/select_both rows of channel, "
              "go_chan or a Rust peer",
              file=sys.stderr)
        return 2
    if args.format == "markdown":
        print("| " + " | ".join(rows[0]) + " |")
        print("|" + "---|" * len(rows[0]))
        for r in rows[1:]:
            print("| " + " | ".join(r) + " |")
    else:
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        for r in rows:
            print("  ".join(c.ljust(w) for c, w in zip(r, widths)))
    print()
    for line in machine_figures(doc):
        print(line)
    return 0


if __name__ == "__main__":
    cr.quiet_pipe()
    sys.exit(main())
