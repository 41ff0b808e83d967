#!/usr/bin/python3
"""The zero-overhead model of the seed.*_fan_in experiments.

An ideal channel (Go's semantics, no cost at all: a send, a receive, a
wake-up take no time; every thread, fiber or goroutine runs the moment it
may) driven by the same schedule, the same service-latency draws (the
same splitmix64 and log-logistic quantile as benches/seed_bench.cpp and
benches/go/seed.go) and the same consumer as the measured experiments.
What the model gives is what the setup alone decides: when it gives the
same figure for two capacities, a run cannot tell them apart by that
figure, whatever the channel does ("untestable as stated"); when it gives
different figures, the experiment can show the effect and can fail to.

Two experiments:

  open    seed.buffered_fan_in: an open-loop generator starts request i at
          its scheduled time (steady arrivals at `qps`, a `burst` at one
          instant half-way); each request sleeps its service latency, then
          sends its id. The consumer takes results in the order they were
          sent and is busy `consume_us` per result.
  closed  seed.closed_fan_in: `workers` closed-loop producers; each sleeps a
          service latency, sends its result, and only when the send has
          returned starts its next request. The consumer is busy
          `consume_us` per result and stalls (a GC pause, a slow downstream
          write) in fixed windows: from every multiple of `stall_every_ms`
          for `stall_ms` it takes no result.

Outputs the counters the benchmarks report: throughput_rps, e2e_p50/p95/p99
(ms), peak_live_producers, peak_blocked_producers, send_wait_mean_us,
send_wait_p95_ms.

  scripts/seed_model.py                      the table benches/README.md shows
  scripts/seed_model.py open --cap 0 --qps 5000
  scripts/seed_model.py closed --cap 1024 --workers 60 --format json
"""
from __future__ import annotations

import argparse
import heapq
import json
import math
import sys

MASK = (1 << 64) - 1


def splitmix64(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK
    return x ^ (x >> 31)


def service_ns(i: int, p50_ms: float = 20.0, p99_ms: float = 80.0) -> int:
    """Request i's service latency: log-logistic with that median and P99 (as the benchmarks)."""
    u = (splitmix64(i) >> 11) * 2.0 ** -53
    u = min(max(u, 1e-9), 1 - 1e-9)
    beta = math.log(99.0) / math.log(p99_ms / p50_ms)
    return int(p50_ms * 1e6 * (u / (1 - u)) ** (1 / beta))


def percentile_ms(values: list, p: float) -> float:
    """The benchmarks' percentile: the nearest rank, p * (n - 1) rounded."""
    s = sorted(values)
    return s[min(int(p * (len(s) - 1) + 0.5), len(s) - 1)] / 1e6


def peak_overlap(intervals) -> int:
    """The most intervals [a, b) with b > a open at one instant."""
    events = []
    for a, b in intervals:
        if b > a:
            events += [(a, 1), (b, -1)]
    events.sort(key=lambda e: (e[0], e[1]))  # an end before a start at the same instant
    live = peak = 0
    for _, d in events:
        live += d
        peak = max(peak, live)
    return peak


class Consumer:
    """One consumer taking results in send order; `take` is when it takes
    the k-th (the receive), `free` when it is ready for the next."""

    def __init__(self, consume_ns: int, stall_every_ns: int = 0, stall_ns: int = 0):
        self.consume, self.every, self.stall = consume_ns, stall_every_ns, stall_ns
        self.free = 0

    def take(self, arrival: int) -> int:
        free = self.free
        if self.every and self.stall:
            # before each receive: inside a stall window, wait for its end
            k = free // self.every
            if free < k * self.every + self.stall:
                free = k * self.every + self.stall
        t = max(arrival, free)
        self.free = t + self.consume
        return t


class Channel:
    """When each send returns in an ideal channel of capacity `cap`: an
    unbuffered send when the consumer takes its value; a buffered one at
    once while a slot is free, else when the value `cap` places ahead of it
    is taken (that frees its slot)."""

    def __init__(self, cap: int):
        self.cap, self.takes = cap, []

    def send_returns(self, arrival: int, take: int) -> int:
        k = len(self.takes)
        self.takes.append(take)
        if self.cap == 0:
            return take
        return arrival if k < self.cap else max(arrival, self.takes[k - self.cap])


def summary(n: int, first: int, last_done: int, latency: list, live: list, blocked: list, handoff: list) -> dict:
    secs = (last_done - first) / 1e9
    waits = [b - a for a, b in blocked]
    return {"throughput_rps": n / secs, "handoff_p95_ms": percentile_ms(handoff, 0.95),
            "e2e_p50_ms": percentile_ms(latency, 0.50),
            "e2e_p95_ms": percentile_ms(latency, 0.95), "e2e_p99_ms": percentile_ms(latency, 0.99),
            "peak_live_producers": peak_overlap(live), "peak_blocked_producers": peak_overlap(blocked),
            "send_wait_mean_us": sum(waits) / len(waits) / 1e3, "send_wait_p95_ms": percentile_ms(waits, 0.95)}


def open_loop(cap: int, qps: float = 5000, requests: int = 10000, burst: int = 2000, p50_ms: float = 20,
              p99_ms: float = 80, consume_us: float = 80, stall_every_ms: float = 0, stall_ms: float = 0) -> dict:
    """seed.buffered_fan_in under the ideal channel."""
    steady, half = requests - burst, (requests - burst) // 2

    def offset(i: int) -> int:
        k = i if i < half else half if i < half + burst else i - burst
        return int(k * 1e9 / qps)

    arrivals = sorted((offset(i) + service_ns(i, p50_ms, p99_ms), i) for i in range(requests))
    cons = Consumer(int(consume_us * 1e3), int(stall_every_ms * 1e6), int(stall_ms * 1e6))
    ch = Channel(cap)
    latency, live, blocked, handoff = [], [], [], []
    for arrival, i in arrivals:
        take = cons.take(arrival)
        ret = ch.send_returns(arrival, take)
        latency.append(take + cons.consume - offset(i))
        handoff.append(ret - offset(i))
        live.append((offset(i), ret))
        blocked.append((arrival, ret))
    return summary(requests, 0, cons.free, latency, live, blocked, handoff)


def closed_loop(cap: int, workers: int = 60, requests: int = 2000, p50_ms: float = 20, p99_ms: float = 80,
                consume_us: float = 80, stall_every_ms: float = 200, stall_ms: float = 150) -> dict:
    """seed.closed_fan_in under the ideal channel: worker w makes requests
    w, w + workers, w + 2 workers, ... below `requests`."""
    cons = Consumer(int(consume_us * 1e3), int(stall_every_ms * 1e6), int(stall_ms * 1e6))
    ch = Channel(cap)
    heap = [(service_ns(w, p50_ms, p99_ms), w, 0) for w in range(min(workers, requests))]  # (arrival, id, start)
    heapq.heapify(heap)
    latency, blocked, handoff = [], [], []
    while heap:
        arrival, i, start = heapq.heappop(heap)
        take = cons.take(arrival)
        ret = ch.send_returns(arrival, take)
        latency.append(take + cons.consume - start)
        handoff.append(ret - start)
        blocked.append((arrival, ret))
        nxt = i + workers
        if nxt < requests:
            heapq.heappush(heap, (ret + service_ns(nxt, p50_ms, p99_ms), nxt, ret))
    out = summary(requests, 0, cons.free, latency, [], blocked, handoff)
    out["peak_live_producers"] = min(workers, requests)
    return out


# The experiments of the default profile, and the claims compared on each
# (the arms: capacity 1024 against 0). benches/README.md shows this table.
DEFAULT_ROWS = [
    ("open", {"qps": 5000}, "seed.buffered_fan_in, the article's 5,000/s"),
    ("open", {"qps": 20000}, "seed.buffered_fan_in, 20,000/s"),
    ("open", {"qps": 5000, "requests": 10000, "burst": 10000}, "the article's literal setup: 10,000 at once"),
    ("open", {"qps": 2000, "requests": 4000, "burst": 0, "stall_every_ms": 200, "stall_ms": 150},
     "seed.buffered_fan_in, stalling consumer"),
    ("closed", {"workers": 60, "requests": 2000, "stall_every_ms": 200, "stall_ms": 150}, "seed.closed_fan_in"),
]
METRICS = ("throughput_rps", "e2e_p95_ms", "handoff_p95_ms", "peak_live_producers", "peak_blocked_producers",
           "send_wait_mean_us")


def run(kind: str, cap: int, **kw) -> dict:
    return (open_loop if kind == "open" else closed_loop)(cap, **kw)


def table(caps=(0, 64, 1024)) -> list[dict]:
    rows = []
    for kind, kw, label in DEFAULT_ROWS:
        for cap in caps:
            rows.append({"experiment": label, "kind": kind, "cap": cap, **kw, **run(kind, cap, **kw)})
    return rows


def markdown(rows: list[dict]) -> str:
    head = "| experiment | cap | " + " | ".join(METRICS) + " |"
    out = [head, "|" + "---|" * (len(METRICS) + 2)]
    for r in rows:
        out.append(f"| {r['experiment']} | {r['cap']} | " + " | ".join(
            f"{r[m]:,.0f}" if r[m] >= 100 else f"{r[m]:.3g}" for m in METRICS) + " |")
    return "\n".join(out)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                epilog="Without a subcommand: the default profile's experiments at capacities 0, 64 "
                                       "and 1024, as the table in benches/README.md.",
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--format", choices=("markdown", "json"), default="markdown", help="output format")
    sub = p.add_subparsers(dest="kind")
    for kind in ("open", "closed"):
        s = sub.add_parser(kind, help=f"one {kind}-loop run of the model")
        s.add_argument("--cap", type=int, required=True, help="channel capacity (0: unbuffered)")
        s.add_argument("--requests", type=int, default=10000 if kind == "open" else 2000,
                       help="requests in all (default: open 10000, closed 2000)")
        s.add_argument("--consume-us", type=float, default=80, help="consumer's busy time per result (default 80)")
        s.add_argument("--p50-ms", type=float, default=20, help="service latency median (default 20)")
        s.add_argument("--p99-ms", type=float, default=80, help="service latency P99 (default 80)")
        s.add_argument("--stall-every-ms", type=float, default=0 if kind == "open" else 200,
                       help="the consumer stalls from every multiple of this (0: never; closed default 200)")
        s.add_argument("--stall-ms", type=float, default=0 if kind == "open" else 150,
                       help="for this long (closed default 150)")
        s.add_argument("--format", choices=("markdown", "json"), default="markdown", help="output format")
        if kind == "open":
            s.add_argument("--qps", type=float, default=5000, help="steady arrival rate (default 5000)")
            s.add_argument("--burst", type=int, default=2000, help="requests at one instant half-way (default 2000)")
        else:
            s.add_argument("--workers", type=int, default=60, help="closed-loop producers (default 60)")
    a = p.parse_args()
    if a.kind is None:
        rows = table()
        print(json.dumps(rows, indent=1) if a.format == "json" else markdown(rows))
        return 0
    kw = {"requests": a.requests, "consume_us": a.consume_us, "p50_ms": a.p50_ms, "p99_ms": a.p99_ms,
          "stall_every_ms": a.stall_every_ms, "stall_ms": a.stall_ms}
    if a.kind == "open":
        kw.update(qps=a.qps, burst=a.burst)
        bad = a.qps <= 0 or not 0 <= a.burst <= a.requests
    else:
        kw.update(workers=a.workers)
        bad = a.workers < 1
    if bad or a.cap < 0 or a.requests < 1 or a.consume_us < 0 or not 0 < a.p50_ms < a.p99_ms or a.stall_ms < 0 \
            or a.stall_every_ms < 0 or (a.stall_every_ms and a.stall_ms >= a.stall_every_ms):
        print("seed_model: bad parameters: need cap >= 0, requests >= 1, 0 < p50 < p99, qps > 0, "
              "0 <= burst <= requests, workers >= 1, stall_ms < stall_every_ms", file=sys.stderr)
        return 2
    r = run(a.kind, a.cap, **kw)
    print(json.dumps(r) if a.format == "json" else "\n".join(f"{k}: {v:.6g}" for k, v in r.items()))
    return 0


if __name__ == "__main__":
    import signal

    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # a closed pipe ends it quietly, as it ends cat
    sys.exit(main())
