#!/usr/bin/python3
"""Regenerate conpat's report: report/index.html (self-contained: the plots
are inlined SVG, no script, no network), report/REPORT.md, every plot as
PNG and SVG, and report/summary.csv, from one or more results files. The
default input is the newest file for each machine under results/.

The first screen of index.html answers three questions, per machine: which
implementation is fastest for each workload and by how much (with an
interval), how conpat::Channel stands against Go's chan; whether the seed
article's claims hold here (one line per claim, its numbers one click away);
and, given --baseline or --abtest, what changed, worst first. Then the
channel table (Go against Channel, cell by cell), a plot for every family,
the comparison across machines, each machine's history, and the run
metadata and warnings.

Every point is the median of a benchmark's repetitions, drawn with its
confidence interval (order statistics; see results/README.md); every claim
verdict is decided from those intervals by the rule recorded in
scripts/claims.json (scripts/claims.py).

The output directory is replaced as a whole, so report.py only writes into
a directory that is empty, missing, or a previous report (it holds the
marker file .conpat-report, or nothing but index.html, REPORT.md,
summary.csv and plots).

Exit codes: 0 done; 2 bad input (nothing is written then).
"""

from __future__ import annotations

import argparse
import csv
import html
import io
import json
import math
import re
import shutil
import statistics
import sys
import tempfile
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import channel_table  # noqa: E402
import claims  # noqa: E402
import conpat_results as cr  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CLAIMS_INTRO = ("Each claim is tested by an experiment that follows the article's setup as far as this machine allows "
                "(the setup says where it differs), in C++ and in Go. Each answer comes from confidence intervals: "
                "*holds* when the whole interval satisfies the claim's rule, *does not hold* when none of it does, "
                "*inconclusive* otherwise (one sample is never a verdict). The verdict is Go's answer (the article's "
                "language) where Go ran; C++'s answers show whether the claim carries over.")
MARKER = ".conpat-report"
REPORT_FILE_RE = re.compile(r"^(index\.html|REPORT\.md|summary\.csv|[\w.-]+\.(png|svg))$")
# Fields of a benchmark entry that are bookkeeping, not measurements.
NOT_METRICS = {"family_index", "per_family_instance_index", "repetitions", "repetition_index", "threads",
               "iterations", "cpu_time", "real_time", "threads_used", "pass", "state_c2c_ns", "pinned"}
# Families whose runner:fiber rows have thread-runner twins without a runner
# in their names.
FIBER_RUNNER_FAMILIES = ("channel.spsc", "channel.mpmc", "channel.pingpong")
FIRST_CHANGES = 5  # changed rows on the first screen
MAX_SERIES = 8  # per axes: beyond that a plot splits into small multiples


# Implementations from another language that a run's context names
# (foreign_impls, e.g. the Rust peers crossbeam_channel and flume), besides
# the go_* and rust_* names: impl -> language.
FOREIGN_IMPLS: dict[str, str] = {}


class Run:
    """One results file, its repetitions aggregated: one point per benchmark."""

    def __init__(self, path: Path, doc: dict):
        self.path, self.doc = path, doc
        self.ctx = doc["context"].get("conpat", {})
        FOREIGN_IMPLS.update(self.ctx.get("foreign_impls") or {})
        self.machine = cr.machine_label(doc, path)
        self.noisy = {r["family"] for r in self.ctx.get("families", []) if r.get("noisy")}
        groups: dict = {}
        for b in cr.iterations(doc):
            groups.setdefault(cr.key_of(b), []).append(b)
        self.points = []
        for key, taken in groups.items():
            entries, mixed = cr.in_state(taken)  # samples taken in another machine state are left out
            values: dict = {}
            for b in entries:
                row = {k: float(v) for k, v in b.items()
                       if isinstance(v, (int, float)) and not isinstance(v, bool) and k not in NOT_METRICS}
                row.update(cr.metrics_of(b))
                for k, v in row.items():
                    values.setdefault(k, []).append(v)
            impl, params = key[1], dict(entries[0]["params"])
            raw = {"impl": impl, "params": dict(params), "runner": entries[0].get("runner")}
            if key[0] in FIBER_RUNNER_FAMILIES and params.get("runner") == "fiber":
                # runner:fiber rows are drawn as their own line beside the thread rows
                impl = f"{impl} (fiber)"
                del params["runner"]
            self.points.append({"family": key[0], "impl": impl, "params": params, "raw": raw,
                                "oversubscribed": any(b.get("oversubscribed") for b in entries),
                                "n": len(entries), "n_off_state": len(taken) - len(entries), "state_mixed": mixed,
                                "stats": {k: cr.median_ci(v) for k, v in values.items()}})

    def select(self, family: str, **params) -> list[dict]:
        return [p for p in self.points if p["family"] == family
                and all(str(p["params"].get(k)) == str(v) for k, v in params.items())]

    def impls(self, family: str) -> list[str]:
        return sorted({p["impl"] for p in self.points if p["family"] == family})

    def families(self) -> list[str]:
        return sorted({p["family"] for p in self.points})

    def find(self, sel: dict) -> dict | None:
        for p in self.select(sel["family"], **sel.get("params", {})):
            if p["impl"] == sel["impl"]:
                return p
        return None

    def repetitions(self) -> int:
        return int(statistics.median(p["n"] for p in self.points)) if self.points else 0

    def time_cv(self) -> float | None:
        """Median over benchmarks of the coefficient of variation of time across repetitions."""
        cvs = []
        for rec in cr.samples(self.doc).values():
            times = rec["metrics"].get("time_ns", [])
            if len(times) >= 2 and statistics.fmean(times) > 0:
                cvs.append(statistics.pstdev(times) / statistics.fmean(times))
        return statistics.median(cvs) if cvs else None


def stat(point: dict | None, metric: str) -> dict | None:
    return None if point is None else point["stats"].get(metric)


def ci_text(s: dict, unit: str = "", digits: int = 3) -> str:
    """'12.3 ns [11.9, 13.0] (n=5, >=93.8 %)', or '12.3 ns (n=1, no interval)'."""
    v = f"{s['median']:.{digits}g}{unit}"
    if s["lo"] is None:
        return f"{v} (n={s['n']}, no interval)"
    return f"{v} [{s['lo']:.{digits}g}, {s['hi']:.{digits}g}] (n={s['n']}, >={100 * s['coverage']:.1f} %)"


def higher_is_better(metric: str) -> bool:
    return "per_second" in metric or "per_s_" in metric or metric.endswith(("_rps", "_per_s"))


def unit_of(metric: str) -> str:
    if metric.endswith("_ns") or "_ns_" in metric:
        return "ns"
    if metric.endswith("_ms"):
        return "ms"
    if higher_is_better(metric):
        return "1/s"
    if metric.endswith("_pct"):
        return "%"
    return ""


# ---- series: names, groups, styles ------------------------------------------------------
#
# A series is one implementation (and runner, where the family runs it on
# several): "channel", "channel (fiber)", "go_chan". It keeps one colour and
# one marker in every plot; any two series drawn in one family differ in
# colour (and, as far as the markers go, in marker too).

def multi_runner(points: list[dict]) -> set:
    """Implementations that the points run on more than one runner."""
    seen: dict = {}
    for p in points:
        seen.setdefault(p["impl"], set()).add(p["params"].get("runner", "thread"))
    return {i for i, r in seen.items() if len(r) > 1}


def series_of(p: dict, multi: set) -> str:
    runner = p["params"].get("runner")
    if runner and runner != "thread" and p["impl"] in multi:
        return f"{p['impl']} ({runner})"
    return p["impl"]


def base_impl(series: str) -> str:
    return series.split(" (")[0]


def group_of(series: str, runs) -> str:
    """conpat's own implementations, the C++ peers (the adapters a run
    describes in context.conpat.impl_notes), or another language's."""
    impl = base_impl(series)
    lang = impl.split("_", 1)[0]
    if lang in ("go", "rust") or impl in FOREIGN_IMPLS:
        return "Go and Rust"
    if any(impl in (r.ctx.get("impl_notes") or {}) for r in runs):
        return "C++ peers"
    return "conpat"


def is_reference(series: str) -> bool:
    return base_impl(series) == "channel"


def lang_of(series: str) -> str:
    """Another language's implementation: its language (go, rust)."""
    impl = base_impl(series).split(" · ")[0]
    return FOREIGN_IMPLS.get(impl) or impl.split("_", 1)[0]


def is_foreign(series: str) -> bool:
    return base_impl(series).split("_", 1)[0] in ("go", "rust") or base_impl(series) in FOREIGN_IMPLS


COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
          "#17becf", "#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#a6761d", "#000080", "#800000"]
MARKERS = "os^vDp<>h*Xd"


class Palette:
    """One colour and marker per series, the same in every plot. Series that
    appear in one family are neighbours, and neighbours get different colours
    (greedy colouring over 18 colours) and, where possible, different markers."""

    def __init__(self, groups: list[set]):
        neighbours: dict = {}
        for g in groups:
            for s in g:
                neighbours.setdefault(s, set()).update(g - {s})
        order = sorted(neighbours, key=lambda s: (-len(neighbours[s]), s))
        self.style: dict = {}
        for s in order:
            used_c = {self.style[n][0] for n in neighbours[s] if n in self.style}
            used_m = {self.style[n][1] for n in neighbours[s] if n in self.style}
            c = next((c for c in COLORS if c not in used_c), COLORS[len(self.style) % len(COLORS)])
            same_c = {m for n, (cc, m) in self.style.items() if cc == c}
            m = next((m for m in MARKERS if m not in used_m and m not in same_c),
                     next((m for m in MARKERS if m not in same_c), "o"))
            self.style[s] = (c, m)

    def color(self, s):
        return self.style.get(s, ("#333333", "o"))[0]

    def marker(self, s):
        return self.style.get(s, ("#333333", "o"))[1]


# The reference implementation and Go's channel are drawn bold and in front;
# the other implementations thin.
def emphasized(series: str) -> bool:
    return is_reference(series) or is_foreign(series)


def line_kw(series: str) -> dict:
    return ({"linewidth": 2.4, "zorder": 4, "markersize": 6} if emphasized(series)
            else {"linewidth": 1.1, "zorder": 3, "markersize": 5})


# ---- values on hover ------------------------------------------------------------------
#
# Every drawn point gets an invisible marker whose SVG group carries a
# <title>: browsers show it as a tooltip, with the exact median, interval
# and sample count. No script is needed, and the PNGs are unaffected.

TIPS: dict[str, str] = {}


def tip(ax, x, y, text: str) -> None:
    gid = next_gid("tip")
    # One colour, no clipping: every tip shares one marker definition in the SVG.
    art = ax.plot([x], [y], marker="s", markersize=9, alpha=0.0, color="k", linestyle="none", zorder=10,
                  clip_on=False)[0]
    art.set_gid(gid)
    TIPS[gid] = text


def stat_tip(s: dict) -> str:
    """'113 [104, 117.9] n=5'."""
    v = f"{s['median']:.4g}"
    return f"{v} (n=1, no interval)" if s["lo"] is None else f"{v} [{s['lo']:.4g}, {s['hi']:.4g}] n={s['n']}"


def add_titles(svg: str) -> str:
    """Each tip's invisible marker becomes an invisible square carrying its <title>."""
    def one(m):
        gid, x, y = m.group(1), float(m.group(2)), float(m.group(3))
        text = TIPS.get(gid)
        if text is None:
            return m.group(0)
        return f'<rect class="tip" x="{x - 4.5:.1f}" y="{y - 4.5:.1f}"><title>{html.escape(text)}</title></rect>\n'
    svg, n = re.subn(r'<g id="(conpat-tip-\d+)">\s*(?:<defs>.*?</defs>\s*)?<g>\s*<use [^>]*?x="([-\d.]+)" y="([-\d.]+)"[^>]*/>'
                     r'\s*</g>\s*</g>\n?', one, svg, flags=re.S)
    # The squares' size and transparency once, as CSS (SVG 2 geometry properties).
    return re.sub(r"(<svg [^>]*>)", lambda m: m.group(1) + TIP_STYLE, svg, count=1) if n else svg


TIP_STYLE = "\n<style>.tip{width:9px;height:9px;opacity:0}</style>"


def classes_for_styles(svg: str, prefix: str) -> str:
    """Style attributes repeated in an SVG become classes of one <style>
    block (named after the plot: inlined SVGs share the page's CSS)."""
    counts: dict = {}
    for st in re.findall(r' style="([^"]+)"', svg):
        counts[st] = counts.get(st, 0) + 1
    common = [st for st, n in sorted(counts.items(), key=lambda kv: -kv[1]) if n >= 3 and len(st) > 12]
    if not common:
        return svg
    names = {st: f"{prefix}{k}" for k, st in enumerate(common)}
    svg = re.sub(r' style="([^"]+)"', lambda m: f' class="{names[m.group(1)]}"' if m.group(1) in names else m.group(0),
                 svg)
    rules = "".join(f".{n}{{{st}}}" for st, n in names.items())
    return re.sub(r"(<svg [^>]*>)", lambda m: m.group(1) + f"\n<style>{rules}</style>", svg, count=1)


def compact_svg(svg: str, name: str = "p") -> str:
    """Smaller SVG, same drawing: coordinates to 0.1 pt, no indentation, no
    metadata block, one font name, repeated styles as classes."""
    svg = re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.S)
    svg = re.sub(r"\n\s*", "\n", svg)
    svg = re.sub(r'( (?:d|x|y|x1|x2|y1|y2|width|height|transform|points)=")([^"]*)"',
                 lambda m: m.group(1) + re.sub(r"(\d+\.\d)\d+", r"\1", m.group(2)).replace("\n", " ") + '"', svg)
    svg = re.sub(r' transform="rotate\(-?0 [-\d. ]+\)"', "", svg)  # a rotation by 0
    # Markers, tips and text to whole points (a third of a pixel at most).
    svg = re.sub(r'(<(?:use|rect|text) [^>]*?)>', lambda m: re.sub(r' (x|y)="(-?\d+)\.\d"', r' \1="\2"', m.group(0)),
                 svg)
    # A <use> whose style repeats its definition's (tick marks) needs none.
    defs = dict(re.findall(r'<path id="(m\w+)" d="[^"]*" style="([^"]*)"', svg))
    svg = re.sub(r'(<use xlink:href="#(m\w+)" x="[^"]*" y="[^"]*") style="([^"]*)"',
                 lambda m: m.group(1) if defs.get(m.group(2)) == m.group(3) else m.group(0), svg)
    svg = re.sub(r'<g id="text_\d+">\n(<text [^\n]*</text>)\n</g>\n', r"\1\n", svg)
    # Path data without the spaces around its commands ("M 1 2  L 3 4  " -> "M1 2L3 4").
    svg = re.sub(r'( d=")([^"]*)"', lambda m: m.group(1) + re.sub(r" ?([MLHVCSQTAZmlhvcsqtaz]) ?", r"\1",
                                                                 re.sub(r"\s+", " ", m.group(2)).strip()) + '"', svg)
    # Group ids nothing refers to (a line's or a patch's), then groups that wrap one element.
    svg = re.sub(r'<g id="(?:line2d|patch|PolyCollection|LineCollection|PathCollection)_\d+">', "<g>", svg)
    for _ in range(3):
        svg = re.sub(r"<g>\n(<(?:use|path|rect|text)\b[^\n]*>)\n</g>\n", r"\1\n", svg)
    svg = svg.replace(", 'Bitstream Vera Sans', 'Computer Modern Sans Serif', 'Lucida Grande', 'Verdana', "
                      "'Geneva', 'Lucid', 'Arial', 'Helvetica', 'Avant Garde', sans-serif", ", sans-serif")
    # Short names, unique on the page (the plots are inlined into one HTML
    # document): the plot's number in this report, then a counter.
    k = PLOT_NUMBER.setdefault(name, len(PLOT_NUMBER))
    ids: dict = {}
    svg = re.sub(r'(?<=["#])([mp])([0-9a-f]{10})(?=[")])',
                 lambda m: ids.setdefault(m.group(0), f"{m.group(1)}{k}_{len(ids)}"), svg)
    return classes_for_styles(svg, f"c{k}-")


PLOT_NUMBER: dict = {}  # plot name -> its number in this report (ids and classes)


# ---- what each family's plot draws ----------------------------------------------------
#
# A family's plot is a line plot (x: a swept parameter) or, where nothing is
# swept, a dot plot (one row per implementation). Panels: one row per
# machine; columns per `facet` value or metric, and, where a panel would hold
# more than MAX_SERIES series, per group of implementations (conpat's own;
# the C++ peers, Go and Rust, beside the reference channel).
# A family not listed here gets a plot too (fallback_spec).

@dataclass
class Spec:
    family: str
    metrics: list                  # one panel column per metric
    title: str
    ylabel: str = ""
    x: str | tuple | None = None   # a numeric parameter; a tuple of parameters: categories; None: dot plot
    xlabel: str = ""
    fixed: dict = field(default_factory=dict)
    facet: str | None = None       # one panel column per value of this parameter
    rows: str | None = None        # dot plot: a parameter named in each row's label
    x_zero: float | None = None    # where x = 0 is drawn on a log axis
    xbase: int = 10                # log base of the x axis (0: linear)
    ylog: bool = True
    variants: dict = field(default_factory=dict)  # metric -> suffix: several metrics drawn as series
    headline: dict = field(default_factory=dict)  # the workload the first screen reports
    summary: bool = True           # reported on the first screen (fastest implementation)
    summary_metric: str = ""       # what "fastest" means there, when not the first metric
    note: str = ""
    extra: object = None           # extra(ax, run, spec): marks drawn on each panel
    file: str = ""                 # file name, when not the family's

    @property
    def name(self) -> str:
        return self.file or self.family.replace(".", "_")


def stride_marks(ax, run, spec):
    fs = run.ctx.get("derived", {}).get("false_sharing")
    if fs:
        ax.axvline(fs["false_sharing_distance_bytes"], color="black", ls=":", lw=1)
        ax.axvline(fs["hardware_destructive_interference_size"], color="grey", ls="--", lw=1, alpha=0.6)


def writer_freq_marks(ax, run, spec):
    for c in run.ctx.get("derived", {}).get("writer_freq", {}).get("crossovers", []):
        ax.axvspan(*(max(w, 1) for w in c["between_work"]), alpha=0.08, color="k", lw=0)


SPECS = [
    Spec("channel.spsc", ["ns_per_item"], "channel.spsc: one producer, one consumer, 8-byte items: time per item "
         "against capacity", "ns per item", x="cap", xlabel="capacity (0 = unbuffered)", x_zero=0.5, xbase=2,
         fixed={"payload": 8, "work": 0}, headline={"cap": 1024, "payload": 8, "work": 0}),
    Spec("channel.spsc", ["lat_p50_ns", "lat_p99_ns"], "channel.spsc, capacity 1024: send-to-receive latency, "
         "median and 99th percentile", "", fixed={"cap": 1024, "payload": 8, "work": 0}, summary=False,
         file="channel_spsc_latency"),
    Spec("channel.mpmc", ["ns_per_item"], "channel.mpmc, capacity 1024: time per item against producers x consumers",
         "ns per item", x=("producers", "consumers"), xlabel="producers x consumers", fixed={"cap": 1024},
         headline={"cap": 1024, "producers": 2, "consumers": 2}),
    Spec("channel.pingpong", ["ns_per_item"], "channel.pingpong: round trip over two channels", "",
         facet="cap", headline={"cap": 0}),
    Spec("channel.fan_in", ["ns_per_item"], "channel.fan_in: N workers send into one channel (capacity 64): "
         "time per item", "ns per item", x="workers", xlabel="workers", headline={"workers": 1024, "cap": 64}),
    Spec("channel.merge", ["ns_per_item"], "channel.merge: fan_in merging N inputs into one channel (Go: the "
         "article's FanIn): time per item, by capacity", "ns per item", x="inputs", xlabel="inputs", xbase=2,
         facet="cap", headline={"inputs": 8, "cap": 16}),
    Spec("channel.merge_sparse", ["ns_per_item"], "channel.merge_sparse: the merge with one value in flight, sent "
         "on one of N inputs (capacity 0: a forwarder per input; 16: conpat's shared forwarders): time per item",
         "ns per item", x="inputs", xlabel="inputs", xbase=2, facet="cap", headline={"inputs": 64, "cap": 16}),
    Spec("channel.select_rx", ["ns_per_item"], "channel.select_rx: T senders on their own channels, one receiver "
         "selecting over the T channels (crossbeam's select_rx; Go: select): time per item, by capacity",
         "ns per item", facet="cap", headline={"threads": 4, "cap": 1}),
    Spec("channel.select_both", ["ns_per_item"], "channel.select_both: T senders and T receivers, each selecting "
         "over the same T channels (crossbeam's select_both; Go: select): time per item, by capacity",
         "ns per item", facet="cap", headline={"threads": 4, "cap": 1}),
    Spec("close.drain", ["time_ns"], "close.drain: close a full channel and receive what it held", "",
         facet="cap", headline={"cap": 1024}),
    Spec("timeout.armed", ["ns_per_item"], "timeout.armed: the spsc workload with a timeout on every operation "
         "(ns per item)", "", facet="cap", headline={"cap": 1024}),
    Spec("timeout.recv_for", ["overshoot_p50_ns", "overshoot_p99_ns"], "timeout.recv_for: how late a timeout "
         "fires (actual - requested)", "overshoot (ns)", x="timeout_ns", xlabel="requested timeout (ns)",
         x_zero=100, headline={"timeout_ns": 100000},
         note="Go's timers wake in whole milliseconds on Linux (epoll_wait): go_chan's overshoot measures its timer, "
              "not its channel"),
    Spec("cancel.fanout", ["time_ns"], "cancel.fanout: from request_stop() until the last of N blocked workers "
         "has returned", "time (ns)", x="workers", xlabel="workers", headline={"workers": 64}),
    Spec("callback.dispatch", ["ns_per_call"], "callback.dispatch: one call through each kind of callable", "",
         facet="capture", headline={"capture": "value"}),
    Spec("callback.dispatch", ["allocs_per_op", "bytes_per_op"], "callback.dispatch: heap allocations to make a "
         "closure, hold it and call it once (Go: testing.AllocsPerRun)", "", rows="capture", ylog=False,
         summary=False, file="callback_dispatch_allocs"),
    Spec("callback.spawn", ["time_ns"], "callback.spawn: one task on its own thread (goroutine) and its result "
         "back: time per task", "", rows="capture", headline={"capture": "value"}),
    Spec("callback.spawn", ["allocs_per_op", "bytes_per_op"], "callback.spawn: heap allocations per task (Go: "
         "testing.AllocsPerRun)", "", rows="capture", ylog=False, summary=False, file="callback_spawn_allocs"),
    Spec("callback.error_rate", ["ns_per_op"], "callback.error_rate: error codes, Expected and exceptions",
         "ns per operation", x="error_pct", xlabel="error rate (%)", x_zero=0.01,
         headline={"error_pct": 1}),
    Spec("callback.cross_thread", ["time_ns"], "callback.cross_thread: one result back from a worker thread", ""),
    Spec("collect.false_sharing", ["packed_ns_per_op", "padded_ns_per_op"], "collect.false_sharing: "
         "Counter{hits, misses}, fields packed or padded", "ns per increment", x="threads", xlabel="threads",
         facet="align", variants={"packed_ns_per_op": "packed", "padded_ns_per_op": "padded"}, summary=False),
    Spec("collect.stride", ["ns_per_op"], "collect.stride: where false sharing stops (dotted: the measured "
         "distance; dashed: hardware_destructive_interference_size)", "ns per increment", x="stride",
         xlabel="bytes between the threads' counters", xbase=2, ylog=False, summary=False, extra=stride_marks),
    Spec("collect.writer_freq", ["ns_per_write"], "collect.writer_freq: cost per write against local work "
         "between writes (shaded: where the order of two strategies changes)", "ns per write, work included",
         x="work", xlabel="units of local work between writes", x_zero=1, headline={"work": 0},
         extra=writer_freq_marks),
    Spec("collect.gather", ["time_ns"], "collect.gather: N workers deliver one result each (time per round)", "",
         facet="workers", rows="wait", headline={"workers": 64}),
    Spec("waitgroup.wake", ["lat_p50_ns", "lat_p99_ns"], "waitgroup.wake: from the last done() to the waiter's "
         "return", "latency (ns)", x="workers", xlabel="workers", headline={"workers": 8},
         summary_metric="time_ns"),  # tbb_task_group's latency leaves out its spawn; its time does not
    Spec("waitgroup.contended", ["items_per_second"], "waitgroup.contended: add(1); done() pairs per second",
         "pairs per second", x="threads", xlabel="threads", summary=False),
    Spec("seed.buffered_fan_in", ["throughput_rps", "e2e_p95_ms", "peak_live_producers"], "seed.buffered_fan_in: "
         "the article's fan-in under open-loop load (rows: offered load)", "", x="cap",
         xlabel="result channel capacity (0 = unbuffered)", x_zero=0.5, xbase=2, facet="qps",
         headline={"cap": 1024, "qps": 20000}),
    Spec("seed.atomic_mutex", ["ns_per_op"], "seed.atomic_mutex: an atomic add against a mutex", "ns per operation",
         x="writers", xlabel="writers", xbase=2, headline={"writers": 2}),
    Spec("seed.paced_writes", ["write_ns"], "seed.paced_writes: cost per write at a paced rate per writer",
         "ns per write", x="rate", xlabel="writes per second per writer", facet="writers",
         headline={"rate": 1000000, "writers": 2}),
    Spec("seed.false_sharing", ["throughput_loss"], "seed.false_sharing: throughput lost to false sharing "
         "(packed against padded Counter)", "share of throughput lost", x="writers", xlabel="writers", xbase=2,
         ylog=False, summary=False),
]

# Metrics a family without a spec is drawn by, in order of preference.
FALLBACK_METRICS = ("ns_per_item", "ns_per_op", "ns_per_write", "ns_per_call", "time_ns", "items_per_second")
METRIC_LABEL = {"ns_per_item": "ns per item", "time_ns": "time (ns)", "ns_per_call": "ns per call",
                "lat_p50_ns": "latency p50 (ns)", "lat_p99_ns": "latency p99 (ns)",
                "overshoot_p50_ns": "overshoot p50 (ns)", "overshoot_p99_ns": "overshoot p99 (ns)",
                "throughput_rps": "throughput (requests/s)", "e2e_p95_ms": "end-to-end P95 (ms)",
                "peak_live_producers": "peak live producers", "allocs_per_op": "heap allocations per op",
                "bytes_per_op": "bytes allocated per op"}


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def fallback_spec(family: str, runs) -> Spec:
    """A plot for a family without a spec: its time-like metric against the
    numeric parameter with most values, or a dot plot."""
    pts = [p for r in runs for p in r.select(family)]
    have = {m for p in pts for m in p["stats"]}
    metric = next((m for m in FALLBACK_METRICS if m in have), sorted(have)[0] if have else "time_ns")
    values: dict = {}
    for p in pts:
        for k, v in p["params"].items():
            if k != "runner":
                values.setdefault(k, set()).add(v)
    numeric = [k for k, vs in values.items() if len(vs) >= 3 and all(num(v) is not None for v in vs)]
    x = max(numeric, key=lambda k: len(values[k])) if numeric else None
    others = [k for k, vs in values.items() if k != x and len(vs) > 1]
    facet = others[0] if others else None
    fixed = {}
    for k in others[1:]:  # more parameters than a panel grid can show: the most common value of each
        vals = [p["params"][k] for p in pts if k in p["params"]]
        fixed[k] = max(set(vals), key=vals.count)
    zero = x is not None and any(num(v) == 0 for v in values[x])
    return Spec(family, [metric], f"{family}: {METRIC_LABEL.get(metric, metric)}"
                + ("".join(f", {k} {v}" for k, v in fixed.items())), METRIC_LABEL.get(metric, metric), x=x,
                xlabel=x or "", facet=facet, fixed=fixed, x_zero=(0.5 if zero else None), xbase=2 if x else 10)


def specs_for(runs) -> list[Spec]:
    families = sorted({f for r in runs for f in r.families()})
    listed = {s.family for s in SPECS}
    return ([s for s in SPECS if s.family in families]
            + [fallback_spec(f, runs) for f in families if f not in listed])


def family_points(run, spec: Spec) -> list[dict]:
    return [p for p in run.select(spec.family, **spec.fixed)]


def spec_series(runs, spec: Spec) -> list[str]:
    """Every series the spec draws, over all runs, in a stable order."""
    out = set()
    for run in runs:
        pts = family_points(run, spec)
        multi = multi_runner(run.select(spec.family))
        for p in pts:
            s = series_of(p, multi)
            if spec.variants:
                out.update(f"{s} {v}" for m, v in spec.variants.items() if m in p["stats"])
            elif any(m in p["stats"] for m in spec.metrics):
                out.add(s)
    return sorted(out, key=lambda s: (not is_reference(s), is_foreign(s), s))


def panel_groups(runs, spec: Spec, series: list[str]) -> list[tuple[str, list[str]]]:
    """Series per panel column: all of them when they fit; else conpat's own
    and the others (peers, Go, Rust) beside the reference channel; chunks of
    MAX_SERIES beyond that."""
    if spec.x is None or len(series) <= MAX_SERIES:
        return [("", series)]
    own = [s for s in series if group_of(s, runs) == "conpat"]
    rest = [s for s in series if s not in own]
    refs = [s for s in own if base_impl(s) == "channel" and "(" not in s][:1]
    groups = [("conpat", own), ("peers, Go and Rust", refs + rest)] if rest else [("conpat", own)]
    out = []
    for label, g in groups:
        chunks = [g[i:i + MAX_SERIES] for i in range(0, len(g), MAX_SERIES)]
        for k, c in enumerate(chunks):
            out.append((label + (f" ({k + 1}/{len(chunks)})" if len(chunks) > 1 else ""), c))
    return out


# ---- drawing ----------------------------------------------------------------------------

GID = {"n": 0}


def next_gid(kind: str) -> str:
    GID["n"] += 1
    return f"conpat-{kind}-{GID['n']}"


def interval_bars(ax, pos: list, stats: list, color, horizontal: bool = False) -> None:
    """Each point's confidence interval as a bar, one SVG path for all of a series' bars."""
    xs, ys = [], []
    for p, st in zip(pos, stats):
        if st["lo"] is None:
            continue
        a, b = [p, p, math.nan], [st["lo"], st["hi"], math.nan]
        xs += b if horizontal else a
        ys += a if horizontal else b
    if xs:
        ax.plot(xs, ys, "-", color=color, lw=1.0, alpha=0.7, zorder=2)


def rings(ax, pts: list, color) -> bool:
    """Hollow rings around oversubscribed points."""
    if pts:
        ax.plot([x for x, _ in pts], [y for _, y in pts], "o", markersize=11, markerfacecolor="none", color=color,
                ls="none", zorder=3)
    return bool(pts)


def series_gid(label: str) -> str:
    """conpat-series-<label>--<n>: the SVG group of one series in one panel;
    the label (its characters outside [A-Za-z0-9_-] as _) tells which."""
    return f"conpat-series-{re.sub(r'[^A-Za-z0-9_-]', '_', label)}--{next_gid('s').rsplit('-', 1)[1]}"


def tick_text(x: float) -> str:
    """A swept value: powers of two as they are (1024, 4096), others short (1k, 10M)."""
    n = int(x)
    if x == n and 0 < n < 100000 and (n & (n - 1)) == 0:
        return str(n)
    return human(x)


def human(v: float) -> str:
    """1500 -> '1.5k', 2e6 -> '2M', 0.25 -> '0.25'."""
    if v == 0:
        return "0"
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= div:
            return f"{v / div:.3g}{suffix}"
    return f"{v:.3g}"


def format_log_axis(axis, lo: float, hi: float) -> None:
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter, NullLocator

    decades = math.log10(hi / lo) if lo > 0 and hi > 0 else 3
    subs = (1.0,) if decades > 2.5 else (1.0, 2.0, 5.0) if decades > 1.5 else (1.0, 1.5, 2.0, 3.0, 5.0, 7.0)
    axis.set_major_locator(LogLocator(base=10, subs=subs, numticks=60))
    axis.set_major_formatter(FuncFormatter(lambda v, _: human(v)))
    axis.set_minor_locator(NullLocator())
    axis.set_minor_formatter(NullFormatter())


def fixed_ticks(axis, values: list, labels: list) -> None:
    from matplotlib.ticker import FixedFormatter, FixedLocator, NullFormatter, NullLocator

    axis.set_major_locator(FixedLocator(values))
    axis.set_major_formatter(FixedFormatter(labels))
    axis.set_minor_locator(NullLocator())
    axis.set_minor_formatter(NullFormatter())


def thin_ticks(fig) -> None:
    """Blanks every tick label that would overlap the one kept before it, as
    drawn (the SVG keeps its text as text, in the same font)."""
    from matplotlib.ticker import FixedFormatter, FixedLocator

    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    done = set()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            if id(axis.major) in done:
                continue
            locs = list(axis.get_majorticklocs())
            ticks = axis.get_major_ticks(len(locs))
            lo, hi = sorted(axis.get_view_interval())
            labels, kept = [], []
            for loc, t in zip(locs, ticks):
                text = t.label1.get_text()
                if not text or not (lo - 1e-9 * abs(lo) <= loc <= hi + 1e-9 * abs(hi)) or not t.label1.get_visible():
                    labels.append(text)
                    continue
                bb = t.label1.get_window_extent(renderer).padded(2)
                if any(bb.overlaps(k) for k in kept):
                    labels.append("")
                else:
                    kept.append(bb)
                    labels.append(text)
            if any(not x for x in labels):
                shared = [a for a in fig.axes if (a.xaxis if axis.axis_name == "x" else a.yaxis).major is axis.major]
                axis.set_major_locator(FixedLocator(locs))
                axis.set_major_formatter(FixedFormatter(labels))
                for a in shared:  # shared axes share the ticker: the same labels
                    done.add(id((a.xaxis if axis.axis_name == "x" else a.yaxis).major))
            done.add(id(axis.major))


def wrap(text: str, width_in: float, fontsize: float) -> str:
    chars = max(12, int(width_in * 72 / (fontsize * 0.62)))
    return "\n".join(textwrap.fill(line, chars) for line in text.split("\n"))


def fit_title(fig, art, width_px: float) -> None:
    """Rewraps a title until it is no wider than width_px, as drawn."""
    renderer = fig.canvas.get_renderer()
    text = art.get_text().replace("\n", " ")
    chars = max(len(line) for line in art.get_text().split("\n"))
    for _ in range(12):
        if art.get_window_extent(renderer).width <= width_px or chars <= 10:
            return
        chars = int(chars * 0.88)
        art.set_text(textwrap.fill(text, chars))


def finish(fig, out: Path, name: str, notes: list[str]) -> str:
    """Footnote, tick labels that do not overlap, titles that fit, and the
    PNG and the (compacted, hover-titled) SVG."""
    import matplotlib.pyplot as plt

    if notes:
        w = fig.get_size_inches()[0]
        fig.text(0.005, 0.005, wrap("; ".join(notes), w - 0.1, 7), fontsize=7, va="bottom", gid=next_gid("note"))
    thin_ticks(fig)
    width_px = fig.get_size_inches()[0] * fig.dpi
    for art in [fig._suptitle] + [ax.title for ax in fig.axes]:
        if art is not None and art.get_text():
            limit = width_px if art is fig._suptitle else art.axes.get_window_extent().width + 30
            fit_title(fig, art, min(limit, width_px) - 4)
    # No date in the files: regenerating from the same results gives the same report.
    fig.savefig(out / f"{name}.svg", metadata={"Date": None})
    svg = out / f"{name}.svg"
    svg.write_text(compact_svg(add_titles(svg.read_text()), name))
    TIPS.clear()
    fig.savefig(out / f"{name}.png", dpi=80)
    plt.close(fig)
    return name


def machines_title(runs, family: str) -> str:
    return ", ".join(r.machine + (" (noisy)" if family in r.noisy else "") for r in runs)


def x_value(p: dict, spec: Spec):
    if isinstance(spec.x, tuple):
        return tuple(num(p["params"].get(k)) for k in spec.x)
    v = num(p["params"].get(spec.x))
    if v is None:
        return None
    return spec.x_zero if (v <= 0 and spec.x_zero is not None) else v


def panel_points(run, spec: Spec, facet_value, metric: str) -> dict:
    """series -> [(x, stats, point)] for one panel."""
    multi = multi_runner(run.select(spec.family))
    out: dict = {}
    for p in family_points(run, spec):
        if spec.facet is not None and str(p["params"].get(spec.facet)) != str(facet_value):
            continue
        s = series_of(p, multi)
        metrics = [(m, f"{s} {v}") for m, v in spec.variants.items()] if spec.variants else [(metric, s)]
        for m, label in metrics:
            st = p["stats"].get(m)
            if st is None or st["median"] is None or (st["median"] <= 0 and spec.ylog):
                continue  # not measured (or not drawable on a log axis): no point, rather than a made-up one
            out.setdefault(label, []).append((x_value(p, spec) if spec.x else None, st, p))
    return out


def facet_values(runs, spec: Spec) -> list:
    if spec.facet is None:
        return [None]
    vals = {p["params"].get(spec.facet) for r in runs for p in family_points(r, spec) if spec.facet in p["params"]}
    return sorted(vals, key=lambda v: (num(v) is None, num(v) if num(v) is not None else 0, str(v)))


def draw_spec(runs, spec: Spec, pal: Palette, out: Path, name: str) -> str | None:
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    have = [r for r in runs if family_points(r, spec)]
    series = spec_series(have, spec)
    if not series:
        return None
    metrics = [None] if spec.variants else spec.metrics
    facets = facet_values(have, spec)
    groups = panel_groups(have, spec, series)
    dot = spec.x is None
    # Line plots: one column per metric and group of series, one row per machine and facet value.
    # Dot plots: one column per metric and facet value, one row per machine.
    if dot:
        cols = [(m, f, "", series) for m in metrics for f in facets]
        rows = [(r, None) for r in have]
    else:
        cols = [(m, None, g, ss) for m in metrics for g, ss in groups]
        rows = [(r, f) for r in have for f in facets]
    ncols, nrows = len(cols), len(rows)
    if dot:
        row_keys = dot_rows(have, spec, cols)
        pw, ph = 3.3, 1.0 + 0.19 * len(row_keys)
        label_w = 0.3 + 0.075 * max((len(k[2]) for k in row_keys), default=10)
        size = (label_w + pw * ncols, 0.9 + ph * nrows)
    else:
        pw, ph = 4.0, 2.7
        legend_w = 0.6 + 0.075 * max((len(s) for s in series), default=10)
        size = (pw * ncols + legend_w + 0.3, 1.1 + ph * nrows)
    fig, axes = plt.subplots(nrows, ncols, figsize=size, squeeze=False)
    any_over = False
    for i, (run, fv) in enumerate(rows):
        for j, (metric, cf, gname, ss) in enumerate(cols):
            ax = axes[i][j]
            facet = fv if fv is not None else cf
            parts = [run.machine]
            if facet is not None:
                parts.append(f"{spec.facet} {facet}")
            if metric is not None and len(spec.metrics) > 1:
                parts.append(METRIC_LABEL.get(metric, metric))
            if gname:
                parts.append(gname)
            ax.set_title(wrap(" · ".join(parts), pw - 0.4, 8), fontsize=8, gid=next_gid("title"))
            pts = panel_points(run, spec, facet, metric)
            if dot:
                any_over |= draw_dots(ax, spec, pts, ss, pal, row_keys, metric, run, j == 0)
            else:
                any_over |= draw_lines(ax, spec, pts, ss, pal, metric, run)
                if i == nrows - 1:
                    ax.set_xlabel(spec.xlabel, fontsize=8)
                if j == 0:
                    ax.set_ylabel(spec.ylabel if len(spec.metrics) == 1 or spec.variants
                                  else METRIC_LABEL.get(metric, metric), fontsize=8)
            if spec.extra:
                spec.extra(ax, run, spec)
            ax.tick_params(labelsize=7)
    fig.suptitle(wrap(spec.title + f"  [{machines_title(have, spec.family)}]", size[0] - 0.2, 10), fontsize=10,
                 gid=next_gid("title"))
    title_h = 0.25 + 0.17 * fig._suptitle.get_text().count("\n")
    right = 1.0
    if not dot:
        handles = [Line2D([], [], color=pal.color(s), marker=pal.marker(s), **line_kw(s)) for s in series]
        right = 1 - (legend_w + 0.2) / size[0]
        fig.legend(handles, series, loc="upper left", bbox_to_anchor=(right + 0.005, 1 - (title_h + 0.3) / size[1]),
                   fontsize=7, frameon=False)
    notes = ["points: medians of the repetitions; bars: their 95 % confidence intervals (order statistics)"]
    if any_over:
        notes.append("hollow rings: oversubscribed (more threads than hardware threads)")
    if spec.note:
        notes.append(spec.note)
    fig.tight_layout(rect=(0, 0.35 / size[1] + 0.01, right, 1 - (title_h + 0.05) / size[1]))
    return finish(fig, out, name, notes)


def dot_rows(runs, spec: Spec, cols) -> list[tuple]:
    """(series, row parameter value, label) for each row of a dot plot,
    fastest first in the first machine's first panel."""
    keys, order = {}, {}
    for run in runs:
        for metric, cf, _, _ in cols:
            for s, lst in panel_points(run, spec, cf, metric).items():
                for _, st, p in lst:
                    rv = p["params"].get(spec.rows) if spec.rows else None
                    keys[(s, str(rv))] = (s, rv, s + (f" · {rv}" if rv is not None else ""))
                    if run is runs[0] and (metric, cf) == cols[0][:2]:
                        v = st["median"]
                        order[(s, str(rv))] = -v if higher_is_better(metric) else v
    return sorted(keys.values(), key=lambda k: (order.get((k[0], str(k[1])), math.inf), k[2]))


def draw_dots(ax, spec, pts, series, pal, row_keys, metric, run, first) -> bool:
    ypos = {(k[0], str(k[1])): n for n, k in enumerate(row_keys)}
    any_over = False
    for s in series:
        have = [(ypos[(s, str(p["params"].get(spec.rows) if spec.rows else None))], st, p)
                for _, st, p in pts.get(s, [])]
        if not have:
            continue
        ys, stats = [y for y, _, _ in have], [st for _, st, _ in have]
        color = pal.color(s)
        art = ax.plot([st["median"] for st in stats], ys, linestyle="none", marker=pal.marker(s), color=color,
                      **{k: v for k, v in line_kw(s).items() if k != "linewidth"})[0]
        art.set_gid(series_gid(s))
        interval_bars(ax, ys, stats, color, horizontal=True)
        for y, st, p in have:
            tip(ax, st["median"], y, f"{row_keys[y][2]}: {metric} {stat_tip(st)}")
        any_over |= rings(ax, [(st["median"], y) for y, st, p in have if p["oversubscribed"]], color)
    fixed_ticks(ax.yaxis, list(range(len(row_keys))), [k[2] for k in row_keys])
    ax.tick_params(axis="y", labelleft=first)
    ax.set_ylim(len(row_keys) - 0.5, -0.5)
    ax.grid(True, axis="x", alpha=0.3)
    vals = [st[k] for lst in pts.values() for _, st, _ in lst for k in ("lo", "hi", "median") if st[k] is not None]
    if vals and min(vals) > 0 and spec.ylog:  # ylog=False: a linear axis, where 0 is a value (allocations)
        ax.set_xscale("log")
        format_log_axis(ax.xaxis, min(vals), max(vals))
    ax.set_xlabel(METRIC_LABEL.get(metric, metric) + (" (higher is better)" if higher_is_better(metric) else ""),
                  fontsize=8)
    return any_over


def draw_lines(ax, spec, pts, series, pal, metric, run) -> bool:
    any_over = False
    cats = None
    if isinstance(spec.x, tuple):
        cats = sorted({x for lst in pts.values() for x, _, _ in lst},
                      key=lambda c: (math.prod(c), c))
    xs_all = set()
    for s in series:
        lst = sorted(pts.get(s, []), key=lambda t: t[0])
        if not lst:
            continue
        xs = [cats.index(x) if cats else x for x, _, _ in lst]
        xs_all.update(xs)
        stats = [st for _, st, _ in lst]
        color = pal.color(s)
        art = ax.plot(xs, [st["median"] for st in stats], "-", color=color, marker=pal.marker(s), label=s,
                      **line_kw(s))[0]
        art.set_gid(series_gid(s))
        interval_bars(ax, xs, stats, color)
        for x, (xv, st, p) in zip(xs, lst):
            where = "x".join(str(p["params"].get(k)) for k in spec.x) if cats else f"{spec.x}={p['params'].get(spec.x)}"
            tip(ax, x, st["median"], f"{s}, {where}: {metric if not spec.variants else s} {stat_tip(st)}")
        any_over |= rings(ax, [(x, st["median"]) for x, (_, st, p) in zip(xs, lst) if p["oversubscribed"]], color)
    xs_sorted = sorted(xs_all)
    pts = {s: pts[s] for s in series if s in pts}  # this panel's series set its scale
    if cats:
        fixed_ticks(ax.xaxis, list(range(len(cats))), ["x".join(f"{v:g}" for v in c) for c in cats])
        ax.set_xlim(-0.4, len(cats) - 0.6)
    elif xs_sorted:
        if spec.xbase:
            ax.set_xscale("log", base=spec.xbase)
        fixed_ticks(ax.xaxis, xs_sorted, ["0" if (spec.x_zero is not None and x == spec.x_zero)
                                          else tick_text(x)
                                          for x in xs_sorted])
    vals = [st[k] for lst in pts.values() for _, st, _ in lst for k in ("lo", "hi", "median") if st[k] is not None]
    if vals:
        lo, hi = min(vals), max(vals)
        if spec.ylog and lo > 0 and hi / lo > 3:
            ax.set_yscale("log")
            format_log_axis(ax.yaxis, lo, hi)
        else:
            from matplotlib.ticker import FuncFormatter, MaxNLocator

            ax.yaxis.set_major_locator(MaxNLocator(6))
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: human(v)))
    ax.grid(True, axis="y", alpha=0.3)
    return any_over


def caption_of(spec: Spec) -> str:
    text = spec.title.split(": ", 1)[-1]
    return text[:1].upper() + text[1:]


def make_plots(runs: list[Run], out: Path, history: list | None = None) -> list[tuple[str, str, str]]:
    """Draws every plot; returns (file name, caption, family) for each."""
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams["svg.hashsalt"] = "conpat"  # stable SVG ids: regenerated reports diff cleanly
    matplotlib.rcParams["svg.fonttype"] = "none"  # text as text, not glyph paths: a third of the size
    matplotlib.rcParams["font.family"] = "DejaVu Sans"
    matplotlib.rcParams["figure.dpi"] = 80
    GID["n"] = 0
    specs = specs_for(runs)
    last = {s.family: s for s in specs}
    fallbacks = {f: fallback_spec(f, runs) for f in last}
    pal = Palette([set(spec_series(runs, s)) for s in specs + list(fallbacks.values())])
    made, names = [], set()
    for spec in specs:
        name, k = spec.name, 1
        while name in names:
            k += 1
            name = f"{spec.name}_{k}"
        names.add(name)
        got = draw_spec(runs, spec, pal, out, name)
        if got is None and spec is last[spec.family] and not any(f == spec.family for _, _, f in made):
            spec = fallbacks[spec.family]  # the family's metric is missing: a plot of what it has
            got = draw_spec(runs, spec, pal, out, name)
        if got:
            made.append((got, caption_of(spec), spec.family))
    if len(runs) >= 2:
        got = heatmap(runs, out)
        if got:
            made.append((got, "Across machines: geometric-mean time ratio per family", ""))
    made += history_plots(runs, out, history)
    return made


def heatmap(runs: list[Run], out: Path) -> str | None:
    import matplotlib.pyplot as plt
    import numpy as np

    base = cr.samples(runs[0].doc)
    cells: dict = {}
    for run in runs[1:]:
        other = cr.samples(run.doc)
        for key in set(base) & set(other):
            a, b = base[key]["metrics"].get("time_ns"), other[key]["metrics"].get("time_ns")
            if a and b:
                cells.setdefault((key[0], run.machine), []).append(cr.median(b) / cr.median(a))
    if not cells:
        return None
    families = sorted({f for f, _ in cells})
    machines = [r.machine for r in runs[1:]]
    grid = np.array([[cr.geomean(cells[(f, m)]) if (f, m) in cells else np.nan for m in machines] for f in families])
    fig, ax = plt.subplots(figsize=(5.5 + 1.2 * len(machines), 1.6 + 0.24 * len(families)))
    im = ax.imshow(np.log2(grid), cmap="coolwarm", vmin=-2, vmax=2, aspect="auto")
    fixed_ticks(ax.xaxis, list(range(len(machines))), [wrap(m, 1.4, 7) for m in machines])
    fixed_ticks(ax.yaxis, list(range(len(families))), families)
    ax.tick_params(labelsize=7)
    for i in range(len(families)):
        for j in range(len(machines)):
            if not math.isnan(grid[i, j]):
                ax.text(j, i, f"{grid[i, j]:.2f}", ha="center", va="center", fontsize=7)
                tip(ax, j, i, f"{families[i]}: {machines[j]} / {runs[0].machine} geomean time ratio "
                              f"{grid[i, j]:.4g} over {len(cells[(families[i], machines[j])])} benchmarks")
    fig.colorbar(im, label="log2(time ratio): above 0 slower")
    fig.suptitle(wrap(f"Geometric-mean time ratio per family, each machine against {runs[0].machine}",
                      fig.get_size_inches()[0] - 0.2, 10), fontsize=10, gid=next_gid("title"))
    fig.tight_layout(rect=(0, 0.06, 1, 0.92))
    return finish(fig, out, "machines_heatmap", ["cells: geometric mean over the family's benchmarks of the ratio "
                                                 "of median times (no interval: a summary of many)"])


# ---- history: one machine across commits --------------------------------------------
#
# For every machine with two or more runs, chosen benchmarks are drawn
# against the runs in time order (commit and date), as the ratio to the
# series' first run, each point with its interval. The history is read from
# run summaries (scripts/history.py: median, interval and n per benchmark),
# never from the sample files: from --history (history/<machine>.jsonl, as
# CI stores them; its newest history.TAIL lines), else summarised from the
# newest HISTORY_FILES results files in the directory of the reported run.
# Only runs of the reported run's profile are drawn. Every point after the
# first says whether it changed from the run before: both have 5 or more
# samples, their 95 % intervals do not overlap and the medians differ by
# 5 % or more (changed); tested and not so (no change); or not tested.

HISTORY_SERIES = [
    ("channel.spsc", "channel", {"cap": 1024, "payload": 8, "work": 0}, "time_ns", "spsc cap 1024: channel"),
    ("channel.spsc", "go_chan", {"cap": 1024, "payload": 8, "work": 0}, "time_ns", "spsc cap 1024: Go chan"),
    ("channel.spsc", "spsc_ring_padded", {"cap": 1024, "payload": 8, "work": 0}, "time_ns",
     "spsc cap 1024: padded SPSC ring"),
    ("channel.pingpong", "channel", {"cap": 0}, "time_ns", "pingpong cap 0: channel"),
    ("channel.mpmc", "channel", {"cap": 1024, "producers": 2, "consumers": 2}, "time_ns", "mpmc 2x2: channel"),
    ("collect.false_sharing", "counter", {"threads": 2, "align": 64}, "packed_ns_per_op",
     "false sharing, 2 threads: packed"),
]
HISTORY_FILES = 12  # results files summarised for a history when no --history is given
HISTORY_MIN_SAMPLES = 5


def history_records(runs: list[Run], history: list | None) -> dict[str, list[dict]]:
    """machine -> its run summaries in time order, for machines with two or more
    runs of the profile reported for them (or, for a machine not reported, of
    its newest summary's profile)."""
    import history as hist

    by_machine: dict = {}
    if history:
        for path in history:
            for f in hist.files_in(path):
                for rec in hist.read(f):
                    by_machine.setdefault(rec.get("machine", "?"), []).append(rec)
    else:
        seen = set()
        for run in reversed(runs):
            label = cr.machine_label(run.doc, run.path)
            if label in seen:
                continue
            seen.add(label)
            recs = []
            for f in cr.results_files(run.path.parent)[-HISTORY_FILES:]:
                try:
                    doc = run.doc if f.resolve() == run.path.resolve() else cr.load(f)
                    recs.append(hist.summarize(doc, f.name))
                except cr.ResultsError as e:
                    print(f"report: history: skipping {f}: {e}", file=sys.stderr)
            by_machine[label] = recs
    profiles = {cr.machine_label(r.doc, r.path): r.ctx.get("profile") for r in runs}
    out = {}
    for machine, recs in by_machine.items():
        recs.sort(key=lambda r: str(r.get("start_time") or ""))
        profile = profiles.get(machine, recs[-1].get("profile") if recs else None)
        recs = [r for r in recs if r.get("profile") == profile]
        if len(recs) >= 2:
            out[machine] = recs
    return out


def history_stat(rec: dict, family: str, impl: str, params: dict, metric: str) -> dict | None:
    """A summary's median_ci-shaped stat for a benchmark (thread runner where a runner is named)."""
    for label, (med, lo, hi, n) in sorted(rec.get("metrics", {}).get(metric, {}).items()):
        fam, imp, prm = cr.parse_name(label)
        if fam == family and imp == impl and prm.get("runner", "thread") != "fiber" \
                and all(str(prm.get(k)) == str(v) for k, v in params.items()):
            return {"median": med, "lo": lo, "hi": hi, "n": n}
    return None


def history_change(a: dict | None, b: dict | None) -> str | None:
    """"changed", "no change" or "not tested" from one summary to the next (None: a point is missing)."""
    if a is None or b is None:
        return None
    if min(a["n"], b["n"]) < HISTORY_MIN_SAMPLES or None in (a["lo"], a["hi"], b["lo"], b["hi"]) or not a["median"]:
        return "not tested"
    apart = a["hi"] < b["lo"] or b["hi"] < a["lo"]
    return "changed" if apart and abs(b["median"] / a["median"] - 1) >= 0.05 else "no change"


def run_label(rec: dict) -> str:
    return f"{rec.get('git_commit') or '?'}{'*' if rec.get('git_dirty') else ''}\n{str(rec.get('start_time') or '?')[:10]}"


HISTORY_STATUS = {"changed": "changed from the run before (95 % intervals apart and >= 5 %)",
                  "no change": "tested: no change from the run before",
                  "not tested": "not tested (fewer than 5 samples a side)"}


def history_plots(runs: list[Run], out: Path, history: list | None = None) -> list[tuple[str, str, str]]:
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    made = []
    for machine, series in history_records(runs, history).items():
        fig, ax = plt.subplots(figsize=(10.5, 4.6))
        colors = plt.cm.tab10.colors
        handles, labels, allv = [], [], []
        for k, (family, impl, params, metric, label) in enumerate(HISTORY_SERIES):
            pts = []
            for i, rec in enumerate(series):
                s = history_stat(rec, family, impl, params, metric)
                if s is not None and s["median"]:
                    pts.append((i, s))
            if not pts:
                continue
            base = pts[0][1]["median"]
            xs = [i for i, _ in pts]
            scaled = [{**s, "median": s["median"] / base, "lo": None if s["lo"] is None else s["lo"] / base,
                       "hi": None if s["hi"] is None else s["hi"] / base} for _, s in pts]
            allv += [v for s in scaled for v in (s["lo"], s["hi"], s["median"]) if v is not None]
            color = colors[k % 10]
            art = ax.plot(xs, [s["median"] for s in scaled], "-", color=color, lw=1.8 if emphasized(impl) else 1.2)[0]
            art.set_gid(series_gid(label))
            handles.append(Line2D([], [], color=color, lw=1.8))
            labels.append(label)
            interval_bars(ax, xs, scaled, color)
            prev, prev_i = None, None
            for (i, s), sc in zip(pts, scaled):
                st = "first" if i == xs[0] else (history_change(prev, s) if prev is not None and i - 1 == prev_i
                                                 else "not tested")
                prev, prev_i = s, i
                face = "white" if st == "not tested" else color
                ax.plot([i], [sc["median"]], "o", markersize=6, markerfacecolor=face, color=color, zorder=5)
                if st == "changed":
                    ax.plot([i], [sc["median"]], "o", markersize=13, markerfacecolor="none", color="black", zorder=6)
                tip(ax, i, sc["median"], f"{label} at {series[i].get('git_commit') or '?'}: {metric} "
                                         f"{stat_tip(s)} ({sc['median']:.3f}x the first run)"
                                         + (f"; {HISTORY_STATUS[st]}" if st in HISTORY_STATUS else ""))
        handles += [Line2D([], [], ls="none", marker="o", color="grey", markerfacecolor="grey"),
                    Line2D([], [], ls="none", marker="o", color="grey", markerfacecolor="white"),
                    Line2D([], [], ls="none", marker="o", markersize=11, markerfacecolor="none", color="black")]
        labels += ["filled: " + HISTORY_STATUS["no change"], "hollow: " + HISTORY_STATUS["not tested"],
                   "black ring: " + HISTORY_STATUS["changed"]]
        ax.axhline(1.0, color="grey", lw=0.8)
        ax.set_yscale("log")
        if allv:
            format_log_axis(ax.yaxis, min(allv + [1.0]), max(allv + [1.0]))
        ticks = list(range(len(series)))
        step = max(1, len(series) // 12)  # at most about 12 labels: a long history stays readable
        fixed_ticks(ax.xaxis, ticks[::step], [run_label(r) for r in series][::step])
        ax.tick_params(labelsize=7)
        ax.grid(True, which="both", alpha=0.3)
        ax.set_xlabel("run (commit, date; * = uncommitted changes)", fontsize=8)
        ax.set_ylabel("ratio to the first run (lower is faster)", fontsize=8)
        fig.legend(handles, [wrap(t, 3.2, 7) for t in labels], loc="upper left", bbox_to_anchor=(0.66, 0.88),
                   fontsize=7, frameon=False)
        fig.suptitle(f"History on {machine}: chosen benchmarks across commits", fontsize=10, gid=next_gid("title"))
        fig.tight_layout(rect=(0, 0.05, 0.65, 0.94))
        name = "history_" + re.sub(r"[^A-Za-z0-9_.-]", "_", machine)
        made.append((finish(fig, out, name, ["points: medians; bars: 95 % confidence intervals; each point is "
                                             "compared with the run before it"]), f"History on {machine}", ""))
    return made


# ---- the summary: fastest per workload, Channel against Go ------------------------------

def g3(v: float, digits: int = 3) -> str:
    """A ratio to `digits` significant digits, trailing zeros kept (1.0, 12, 180, 1.2k)."""
    a = abs(v)
    if a >= 1000:
        return human(v)
    if a >= 1:
        return f"{v:.{max(0, digits - len(str(int(a))))}f}"
    return f"{v:.{digits}g}"


def fmt_ratio(r: float, lo, hi, digits: int = 3) -> str:
    """'1.31x [1.18–1.47]': a ratio of medians and its interval. With
    digits=2 (the first screen) a ratio below 1 reads as a division:
    '÷180 [150–210]' is 1/180 of the other's speed."""
    if digits == 2 and r < 1 and r > 0:
        inv = f"÷{g3(1 / r, 2)}"
        return inv + (f" [{g3(1 / hi, 2)}–{g3(1 / lo, 2)}]" if lo is not None and lo > 0 else "")
    return f"{g3(r, digits)}x" + (f" [{g3(lo, digits)}–{g3(hi, digits)}]" if lo is not None else " (no interval)")


def params_text(params: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in params.items()) or "its one workload"


def version_key(v) -> list[int]:
    return [int(x) for x in re.findall(r"\d+", str(v))]


def one_runtime(pts: list[dict], prefer: str | None) -> list[dict]:
    """A run may measure Go's chan under two Go releases (runtime:goX.Y): the
    tables compare against one, as channel_table.py does, the release of the
    Go on PATH (`prefer`) where an implementation has it, else its newest;
    the family's plots show them all."""
    have: dict = {}
    for p in pts:
        if "runtime" in p["params"]:
            have.setdefault(p["impl"], set()).add(str(p["params"]["runtime"]))
    pick = {i: prefer if prefer in rts else max(rts, key=version_key) for i, rts in have.items()}
    return [p for p in pts if "runtime" not in p["params"] or str(p["params"]["runtime"]) == pick[p["impl"]]]


def cell_entries(run, spec: Spec, params: dict, metric: str) -> list[tuple[str, dict, dict]]:
    """(series, stats, point) of every implementation measured in one workload
    (a family and its parameters; one release of another language); a
    parameter that still varies among the points that have it (gather's
    wait) is named in the series."""
    multi = multi_runner(run.select(spec.family))
    pts = one_runtime([p for p in run.select(spec.family, **params) if metric in p["stats"]],
                      channel_table.go_release(run.doc))
    varying = sorted(k for k in {k for p in pts for k in p["params"]} - set(params) - {"runner"}
                     if len({str(p["params"][k]) for p in pts if k in p["params"]}) > 1)
    return [(series_of(p, multi) + "".join(f" · {p['params'][k]}" for k in varying if k in p["params"]),
             p["stats"][metric], p) for p in pts]


def fastest(entries: list, metric: str) -> dict | None:
    """The fastest entry, the runner-up, and how far ahead (ratio with its
    interval; a tie when the interval reaches 1)."""
    if len(entries) < 2:
        return None
    better_high = higher_is_better(metric)
    ranked = sorted(entries, key=lambda e: -e[1]["median"] if better_high else e[1]["median"])
    (s1, a, _), (s2, b, _) = ranked[0], ranked[1]
    num, den = (a, b) if better_high else (b, a)
    if den["median"] <= 0:
        return None
    lo, hi = cr.ratio_ci(num, den)
    return {"fastest": s1, "runner_up": s2, "ratio": num["median"] / den["median"], "lo": lo, "hi": hi,
            "tie": lo is None or lo <= 1.0, "n": len(entries), "stats": a}


def fastest_text(f: dict | None) -> str:
    if f is None:
        return "—"
    margin = fmt_ratio(f["ratio"], f["lo"], f["hi"])
    if f["tie"]:
        return f"{f['fastest']} ≈ {f['runner_up']} ({margin}: within the noise)"
    return f"{f['fastest']} {margin} ahead of {f['runner_up']}"


def fastest_html(f: dict | None) -> str:
    if f is None:
        return "—"
    e = html.escape
    margin = e(fmt_ratio(f["ratio"], f["lo"], f["hi"], 2))
    if f["tie"]:  # the interval is in the cell's title
        return f"{e(f['fastest'])} ≈ {e(f['runner_up'])} <small>a tie</small>"
    return f"<b>{e(f['fastest'])}</b> {margin} <small>› {e(f['runner_up'])}</small>"


def channel_vs_foreign(entries: list, metric: str, langs=("go", "rust")) -> list[tuple[str, str, float, object, object]]:
    """(reference series, foreign series, how many times faster the
    reference is, lo, hi) for conpat::Channel against Go's (and Rust's)
    channels in one workload; langs: which languages' (an implementation
    named <lang>_...)."""
    better_high = higher_is_better(metric)
    refs = [e for e in entries if is_reference(e[0].split(" · ")[0])]
    foreign = [e for e in entries if is_foreign(e[0].split(" · ")[0]) and lang_of(e[0]) in langs]
    out = []
    for fs, fst, _ in foreign:
        for rs, rst, _ in refs:
            num, den = (rst, fst) if better_high else (fst, rst)
            if den["median"] > 0:
                lo, hi = cr.ratio_ci(num, den)
                out.append((rs, fs, num["median"] / den["median"], lo, hi))
    return out


def vs_text(pairs: list, digits: int = 3) -> str:
    if not pairs:
        return "—"
    foreign = {p[1] for p in pairs}
    parts = []
    for rs, fs, r, lo, hi in pairs:
        runner = rs[len("channel"):].strip(" ()") or "thread"
        parts.append((f"vs {fs}: " if len(foreign) > 1 or fs != "go_chan" else "")
                     + f"{runner} {fmt_ratio(r, lo, hi, digits)}")
    return " · ".join(parts)


def summary_specs(runs) -> list[Spec]:
    seen, out = set(), []
    for s in specs_for(runs):
        if s.summary and s.family not in seen:
            seen.add(s.family)
            out.append(s)
    return out


def headline_params(run, spec: Spec) -> dict | None:
    """The spec's headline workload where the run has it, else its workload
    with the most implementations."""
    if spec.headline and run.select(spec.family, **spec.headline):
        return dict(spec.headline)
    cells = workloads(run, spec)
    return max(cells, key=lambda c: len(run.select(spec.family, **c))) if cells else None


def swept(run, spec: Spec, params: dict) -> dict:
    """The parameters of a workload that the run varies in its family (the
    first screen names those; the fixed ones are in its title)."""
    pts = run.select(spec.family)
    return {k: v for k, v in params.items() if len({str(p["params"].get(k)) for p in pts}) > 1}


def workloads(run, spec: Spec) -> list[dict]:
    """Every workload (parameters but the runner and the dot plot's row
    parameter) the run measured in the spec's family."""
    seen = {}
    for p in run.select(spec.family):
        c = {k: v for k, v in sorted(p["params"].items()) if k not in ("runner", "runtime", spec.rows)}
        seen[json.dumps(c, sort_keys=True, default=str)] = c
    return [seen[k] for k in sorted(seen, key=lambda k: [(num(v) is None, num(v) or 0, str(v))
                                                             for v in json.loads(k).values()])]


def summary_rows(runs) -> list[dict]:
    """One row per family: per machine, its headline workload's fastest
    implementation and Channel against Go."""
    rows = []
    for spec in summary_specs(runs):
        metric = spec.summary_metric or spec.metrics[0]
        cells = {}
        for run in runs:
            params = headline_params(run, spec)
            if params is None:
                continue
            entries = cell_entries(run, spec, params, metric)
            cells[run.machine] = {"params": params, "swept": swept(run, spec, params),
                                  "fastest": fastest(entries, metric), "vs": channel_vs_foreign(entries, metric, ("go",))}
        if any(c["fastest"] for c in cells.values()):
            rows.append({"family": spec.family, "metric": metric, "cells": cells})
    return rows


def workload_rows(runs) -> list[dict]:
    """Every workload of every family, fastest per machine."""
    rows = []
    for spec in summary_specs(runs):
        metric = spec.summary_metric or spec.metrics[0]
        keys = {}
        for run in runs:
            for c in workloads(run, spec):
                keys.setdefault(json.dumps(c, sort_keys=True, default=str), c)
        for k, params in keys.items():
            cells = {}
            for run in runs:
                entries = cell_entries(run, spec, params, metric)
                f = fastest(entries, metric)
                if f:
                    cells[run.machine] = {"fastest": f, "vs": channel_vs_foreign(entries, metric)}
            if cells:
                rows.append({"family": spec.family, "params": params, "metric": metric, "cells": cells})
    return rows


# ---- changes: a baseline or an A/B test ---------------------------------------------------

def changed(row: dict) -> bool:
    return str(row.get("verdict", "")).split(" ")[0] in ("slower", "faster")


def worst_first(rows: list[dict]) -> list[dict]:
    """Changed rows: slowdowns, largest first, then speedups, largest first."""
    moved = [r for r in rows if changed(r) and isinstance(r.get("change_pct"), (int, float))]
    return sorted(moved, key=lambda r: (r["change_pct"] <= 0, -abs(r["change_pct"])))


def change_text(r: dict) -> str:
    ci = r.get("change_ci_pct")
    text = f"{r['change_pct']:+.1f} %"
    if isinstance(ci, (list, tuple)) and len(ci) == 2 and all(isinstance(v, (int, float)) for v in ci):
        text += f" [{ci[0]:+.1f}, {ci[1]:+.1f}]"
    return text


def load_abtest(path: Path) -> dict:
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise cr.ResultsError(f"{path}: no such file") from None
    except (OSError, json.JSONDecodeError) as e:
        raise cr.ResultsError(f"{path}: not a readable JSON file ({e})") from None
    if isinstance(doc, list) and len(doc) == 1:
        doc = doc[0]  # abtest.py --format json writes a list of one comparison, as compare.py does
    rows = doc.get("rows") if isinstance(doc, dict) else None
    if not isinstance(rows, list):
        raise cr.ResultsError(f"{path}: not an A/B test result (no top-level 'rows' list)")
    for i, r in enumerate(rows):
        if not isinstance(r, dict) or not {"benchmark", "metric", "change_pct", "verdict"} <= set(r):
            raise cr.ResultsError(f"{path}: rows[{i}] lacks benchmark, metric, change_pct or verdict")
    return {"title": f"A/B test {path.name}", "source": rel(path), "rows": rows}


def baseline_changes(path: Path, runs: list[Run]) -> dict:
    """The newest reported run of the baseline's machine (else the newest
    reported run) against the baseline, by compare.py."""
    import compare

    path = cr.resolve_inputs([path])[0]
    base = cr.load(path)
    label = cr.machine_label(base, path)
    same = [r for r in runs if cr.machine_label(r.doc, r.path) == label and r.path.resolve() != path.resolve()]
    pool = same or [r for r in runs if r.path.resolve() != path.resolve()] or runs
    target = max(pool, key=lambda r: str(r.ctx.get("start_time", "")))
    rows = compare.compare_pair(base, target.doc, 0.01, 5.0)
    if not rows:
        raise cr.ResultsError(f"{path}: no benchmark in common with {target.path}")
    note = "" if same else f" (another machine: {label})"
    return {"title": f"{target.machine} against the baseline {rel(path)}{note}", "source": rel(path), "rows": rows,
            "short": f"{target.machine} against {path.name}" + ("" if same else " (another machine)")}


def change_counts(rows: list[dict]) -> str:
    verdicts = [str(r.get("verdict", "")) for r in rows]
    slower = sum(v.startswith("slower") for v in verdicts)
    faster = sum(v.startswith("faster") for v in verdicts)
    same = sum(v == "no change" for v in verdicts)
    return (f"{len(rows)} rows: {slower} slower, {faster} faster, {same} no change, "
            f"{len(rows) - slower - faster - same} not tested")


# ---- metadata and rendering ---------------------------------------------------------

def metadata(run: Run) -> list[str]:
    """What a reader needs to trust a run, as plain lines (both outputs show them)."""
    c, g = run.ctx, run.doc["context"]
    dirty = c.get("git_dirty")
    cv = run.time_cv()
    lines = [
        f"CPU: {c.get('cpu_model', '?')}, {c.get('hardware_threads', g.get('num_cpus', '?'))} hardware threads",
        f"kernel: {c.get('kernel', '?')}; compiler: {c.get('compiler', '?')} {c.get('cxx_flags', '')}".rstrip(),
        f"commit: {c.get('git_commit', '?')}" + (" (with uncommitted changes)" if dirty else
                                                  "" if dirty is False else " (dirty flag unknown)"),
        f"run: {c.get('start_time', g.get('date', '?'))} to {c.get('end_time', '?')}, profile {c.get('profile', '?')}",
        f"repetitions per benchmark: {run.repetitions()}"
        + (f"; median spread of time across repetitions (CV): {100 * cv:.1f} %" if cv is not None else ""),
    ]
    ms = c.get("machine_state") or {}
    c2c = [p["c2c_round_trip_ns"] for p in ms.get("probes", []) if p.get("c2c_round_trip_ns")]
    if c2c:
        lines.append(f"machine state: core-to-core round trip {min(c2c):.0f}-{max(c2c):.0f} ns over {len(c2c)} probes "
                     f"(median {ms['median_c2c_round_trip_ns']:.0f} ns); passes in a shifted state: "
                     + (", ".join(map(str, ms["shifted_passes"])) if ms["shifted_passes"] else "none"))
        per_sample = ms.get("samples")
        if per_sample and per_sample.get("usual_c2c_round_trip_ns"):
            off = sum(p.get("n_off_state", 0) for p in run.points)
            mixed = sum(1 for p in run.points if p.get("state_mixed"))
            lines.append(f"samples in another machine state: {per_sample['marked']} marked (round trip over "
                         f"{per_sample['factor']:g}x the usual {per_sample['usual_c2c_round_trip_ns']:.0f} ns), "
                         f"{off} left out of the points; {mixed} point(s) mix states for want of 3 usual samples")
    pin = c.get("pinning")
    if pin:
        lines.append("thread pinning: " + (f"on, one thread per CPU of {pin.get('allowed_cpus')}" if pin.get("enabled")
                                           else "off (" + ("turned off" if not pin.get("requested")
                                                           else "one CPU allowed") + ")"))
    if g.get("library_build_type") == "debug" and not any("debug build" in w for w in c.get("warnings", [])):
        lines.append("Google Benchmark library built as debug (its own overhead may be higher)")
    lines += [f"warning: {w}" for w in c.get("warnings", [])]
    return lines


def run_brief(run: Run) -> str:
    c = run.ctx
    return (f"{run.machine}: commit {c.get('git_commit', '?')}{'*' if c.get('git_dirty') else ''}, "
            f"{str(c.get('start_time', '?'))[:16].replace('T', ' ')}, profile {c.get('profile', '?')}, "
            f"{run.repetitions()} repetitions, {c.get('hardware_threads', '?')} hardware threads")


def rel(path: Path) -> str:
    path = Path(path)
    return str(path.resolve().relative_to(ROOT) if path.resolve().is_relative_to(ROOT) else path)


def verdict_class(v: str) -> str:
    return "v-" + re.sub(r"[^a-z]+", "-", v.lower()).strip("-")


def claim_groups(rows: list[dict]) -> list[list[dict]]:
    """claims.table's rows (one per claim and machine), grouped by claim in order."""
    out: dict = {}
    for r in rows:
        out.setdefault(r.get("id", r["claim"]), []).append(r)
    return list(out.values())


def fold_as_stated(groups: list[list[dict]]) -> list[tuple[list[dict], list[dict] | None]]:
    """(claim rows, its as-stated rows or None): a claim's variant with the
    article's own setup rides on the claim's row when every machine gives
    it the same verdict (usually "untestable"), else it keeps a row."""
    out: list = []
    for grp in groups:
        base = out[-1][0] if out and out[-1][1] is None else None
        if (base is not None and grp[0].get("as_stated") and len({r["verdict"] for r in grp}) == 1
                and grp[0].get("id") == f"{base[0].get('id')}.as_stated"):
            out[-1] = (base, grp)
        else:
            out.append((grp, None))
    return out


def side_lines(r: dict) -> list[tuple[str, list[str]]]:
    """The sides' answers of one claim row, whatever sides claims.py reports."""
    names = {"cpp": "C++", "go": "Go"}
    return [(names.get(k, k), v) for k, v in r.items() if isinstance(v, list) and all(isinstance(x, str) for x in v)]


# Counters that describe the setup rather than measure it.
CSV_SKIPS = {"goroutines", "fibers", "cpus_used", "usable_cap", "requests", "unit_ns", "work_ns",
             "hardware_destructive_interference_size"}


def write_csv(runs: list[Run], out: Path) -> None:
    """Every benchmark's every metric per machine: median, interval, n, unit."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["machine", "commit", "family", "impl", "runner", "params", "metric", "unit", "median", "lo", "hi",
                "coverage", "n", "oversubscribed", "state_mixed"])
    g = lambda v: "" if v is None else f"{v:.5g}"  # noqa: E731
    for run in runs:
        for p in sorted(run.points, key=lambda p: (p["family"], p["raw"]["impl"], cr.key_of(
                {"family": p["family"], "impl": p["raw"]["impl"], "params": p["raw"]["params"]}))):
            raw = p["raw"]
            params = ";".join(f"{k}={v}" for k, v in sorted(raw["params"].items()) if k != "runner")
            runner = raw["params"].get("runner") or raw.get("runner") or ""
            for metric, s in sorted(p["stats"].items()):
                if metric.endswith("_samples") or metric in CSV_SKIPS:
                    continue
                w.writerow([run.machine, run.ctx.get("git_commit", ""), p["family"], raw["impl"], runner, params,
                            metric, unit_of(metric), g(s["median"]), g(s["lo"]), g(s["hi"]),
                            "" if s["coverage"] is None else f"{s['coverage']:.4f}", s["n"],
                            int(p["oversubscribed"]), int(p["state_mixed"])])
    (out / "summary.csv").write_text(buf.getvalue())


CSS = """
body{font-family:'DejaVu Sans',sans-serif;font-size:13px;max-width:1380px;margin:0 auto;padding:0 10px;color:#222}
h1{font-size:20px;margin:6px 0 2px}h2{font-size:15px;margin:10px 0 3px}h2 small{font-weight:normal;color:#555;font-size:12px}
p.sub{margin:0 0 4px;color:#555;font-size:12px}
table{border-collapse:collapse}td,th{border:1px solid #d4d4d4;padding:1px 5px;font-size:12px;vertical-align:top;text-align:left}
th{background:#f3f3f3;font-weight:600}
#summary{width:100%}#summary td{font-size:12px}#summary td.w{color:#333}#summary small{color:#777}
.row2{display:grid;grid-template-columns:minmax(0,1.65fr) minmax(0,1fr);gap:12px}
.row1{display:block}
#claims{table-layout:fixed;width:100%}#claims th.m{width:180px;white-space:normal}#claims td.v{white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
#claims summary{white-space:nowrap;overflow:hidden;text-overflow:ellipsis;cursor:pointer}
#claims details[open] summary{white-space:normal}
#claims .more{white-space:normal;font-size:12px;padding:3px 0}
#changes table{table-layout:fixed;width:100%}#changes td{font-size:11px}#changes td.n{white-space:nowrap}
#changes td.b{overflow-wrap:anywhere}#changes th.n{width:172px}
.v-holds{color:#1a7f37;font-weight:600}.v-does-not-hold{color:#b42318;font-weight:600}
.v-inconclusive{color:#8a6d00;font-weight:600}.v-not-measured,.v-untestable{color:#777}
.slower{color:#b42318}.faster{color:#1a7f37}.tie{color:#777}
small{color:#666}
figure{margin:14px 0;border-top:1px solid #ddd;padding-top:6px}figcaption{font-weight:600;margin-bottom:4px}
svg{max-width:100%;height:auto}
details.box{margin:8px 0}details.box>summary{font-weight:600;cursor:pointer;font-size:14px}
"""


def render(runs: list[Run], plots, out: Path, change: dict | None) -> None:
    machines = [r.machine for r in runs]
    rows = claims.table(runs)
    groups = claim_groups(rows)
    summary = summary_rows(runs)
    every = workload_rows(runs)
    e = html.escape

    # ---- HTML -----------------------------------------------------------------------
    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>conpat report</title>",
             f"<style>{CSS}</style></head><body>",
             "<h1>conpat report</h1><p class='sub'>" + " · ".join(e(run_brief(r)) for r in runs)
             + ". Generated by <code>make report</code>; the files, run details and warnings "
             "<a href='#runs'>below</a>.</p>"]
    # Fastest here.
    parts.append("<h2>Fastest here <small>each family's headline workload: the fastest, its lead over the runner-up "
                 "(a tie's on hover), and conpat::Channel's speed over Go's chan (the Go on PATH); medians' ratios "
                 "[95 % interval]. <a href='#workloads'>Every workload</a></small></h2>")
    head1 = "".join(f"<th colspan='2'>{e(m)}</th>" for m in machines)
    head2 = "".join("<th>fastest, its lead › over the runner-up</th><th>Channel's speed over Go's chan "
                    "(÷: slower)</th>" for _ in machines)
    parts.append(f"<table id='summary'><tr><th rowspan='2'>workload</th>{head1}</tr><tr>{head2}</tr>")
    for row in summary:
        params = next((c["params"] for c in row["cells"].values()), {})
        same = all(c["params"] == params for c in row["cells"].values())
        shown = {k: v for c in row["cells"].values() for k, v in c["swept"].items()}
        shown = {k: v for k, v in params.items() if k in shown}
        label = row["family"] + (f" <small>{e(params_text(shown))}</small>" if same and shown else "")
        cells = ""
        for m in machines:
            c = row["cells"].get(m)
            if c is None:
                cells += "<td class='tie'>not measured</td><td></td>"
                continue
            f = c["fastest"]
            cls = "tie" if f is None or f["tie"] else ""
            extra = "" if same else f" <small>({e(params_text(c['swept']))})</small>"
            title = e(f"{row['metric']}: {ci_text(f['stats'])}; lead {fmt_ratio(f['ratio'], f['lo'], f['hi'], 2)}") if f else ""
            cells += f"<td class='{cls}' title='{title}'>{fastest_html(f)}{extra}</td><td>{e(vs_text(c['vs'], 2))}</td>"
        parts.append(f"<tr><td class='w' title='{e(row['family'])} ({e(params_text(params))}): fastest by "
                     f"{e(row['metric'])}'>{label}</td>"
                     f"{cells}</tr>")
    parts.append("</table>")
    # Claims, and changes beside them.
    parts.append(f"<div class='{'row2' if change else 'row1'}'><div>")
    parts.append("<h2>The article's claims, here <small>click a claim for its experiment and numbers</small></h2>")
    parts.append("<table id='claims'><tr><th>claim</th>" + "".join(f"<th class='m'>{e(m)}</th>" for m in machines)
                 + "</tr>")
    for grp, stated in fold_as_stated(groups):
        first = grp[0]
        more = []
        for g in [grp] + ([stated] if stated else []):
            more.append(f"<div class='more'>{'<b>As the article set it up</b>: ' if g[0].get('as_stated') else ''}"
                        f"<code>{e(g[0]['experiment'])}</code>: {e(g[0]['setup'])}"
                        + (f" ({e(g[0]['rule'])})" if g[0].get("rule") else "") + "</div>")
            for r in g:
                more.append(f"<div class='more'><b>{e(r['machine'])}</b>: <span class='{verdict_class(r['verdict'])}'>"
                            f"{e(r['verdict'])}</span>" + (f" ({e(r['by'])})" if r.get("by") else "") + "<br>"
                            + "<br>".join((f"{e(side)}: " if len(lines) == 1 else "") + "<br>".join(map(e, lines))
                                          for side, lines in side_lines(r))
                            + "</div>")
        verdicts = "".join(f"<td class='v' title='{e(r['verdict'])}" + (f" ({e(r['by'])})" if r.get("by") else "")
                           + f"'><span class='{verdict_class(r['verdict'])}'>{e(r['verdict'])}</span>"
                           + (f" <small>({e(r['by'])})</small>" if r.get("by") else "") + "</td>" for r in grp)
        also = f" · as the article set it up: {stated[0]['verdict']}" if stated else ""
        parts.append(f"<tr><td class='c'><details><summary title='{e(first['claim'] + also)}'>{e(first['claim'])}"
                     + (f"<small>{e(also)}</small>" if also else "") + "</summary>"
                     + "".join(more) + f"</details></td>{verdicts}</tr>")
    parts.append("</table></div>")
    if change:
        moved = worst_first(change["rows"])
        parts.append(f"<div id='changes'><h2>Biggest changes, worst first <small>{e(change.get('short', change['title']))}"
                     "</small></h2>")
        parts.append(f"<p class='sub'>{e(change_counts(change['rows']))}; slower is positive, "
                     "[95 % interval] where given" + ("; * oversubscribed" if any(
                         r.get("oversubscribed") for r in moved[:FIRST_CHANGES]) else "") + "</p>")
        if moved:
            parts.append("<table><tr><th>benchmark · metric</th><th class='n'>change</th></tr>")
            for r in moved[:FIRST_CHANGES]:  # each is slower or faster: the sign and the colour say which
                cls = "slower" if r["change_pct"] > 0 else "faster"
                over = "<sup title='oversubscribed: more threads than CPUs'>*</sup>" if r.get("oversubscribed") else ""
                parts.append(f"<tr><td class='b'>{e(r['benchmark'])} · {e(r['metric'])}{over}</td>"
                             f"<td class='n {cls}' title='{e(str(r['verdict']))}'>{e(change_text(r))}</td></tr>")
            parts.append("</table>" + (f"<p class='sub'><a href='#all-changes'>all {len(moved)} changed rows</a></p>"
                                       if len(moved) > FIRST_CHANGES else ""))
        else:
            parts.append("<p>No row changed significantly.</p>")
        parts.append("</div>")
    parts.append("</div>")
    # Below the first screen.
    nwarn = sum(len(r.ctx.get("warnings", [])) for r in runs)
    parts.append(f"<details class='box' id='runs'><summary>Runs: machine, build, machine state and {nwarn} "
                 "warning(s)</summary>")
    for r in runs:
        parts.append(f"<h3>{e(r.machine)}</h3><ul><li>file: <code>{e(rel(r.path))}</code></li>"
                     + "".join(f"<li>{e(line)}</li>" for line in metadata(r)) + "</ul>")
    parts.append("</details>")
    intro = re.sub(r"\*([^*]+)\*", r"<i>\1</i>", e(CLAIMS_INTRO))  # the Markdown emphasis, as HTML
    parts.append(f"<details class='box'><summary>How the claims are judged</summary><p>{intro}</p></details>")
    if change:
        moved = worst_first(change["rows"])
        by_bench: dict = {}  # one line per benchmark, in the order of its worst change
        for r in moved:
            by_bench.setdefault(r["benchmark"], []).append(r)
        parts.append(f"<details class='box' id='all-changes'><summary>Every changed row ({len(moved)}), "
                     f"{e(change['title'])}; slower is positive</summary><table><tr><th>benchmark</th>"
                     "<th>metric: change [95 % interval]</th></tr>" + "".join(
                         f"<tr><td>{e(b)}</td><td>" + "<br>".join(f"{e(r['metric'])}: {e(change_text(r))}" for r in rs)
                         + "</td></tr>" for b, rs in by_bench.items()) + "</table></details>")
    parts.append("<h2 id='channel-table'>conpat::Channel against Go's chan <small>ns per item, median [95 % "
                 "interval]; Go / Channel above 1: Channel faster</small></h2>")
    for r in runs:
        table = channel_table.table(r.doc)
        if len(table) < 2:
            parts.append(f"<p>{e(r.machine)}: no channel rows of channel or go_chan.</p>")
            continue
        parts.append(f"<h3>{e(r.machine)}</h3><table class='chan'><tr>" + "".join(f"<th>{e(h)}</th>" for h in table[0])
                     + "</tr>" + "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in table[1:])
                     + "</table><ul>" + "".join(f"<li>{e(x)}</li>" for x in channel_table.machine_figures(r.doc))
                     + "</ul>")
    parts.append("<details class='box' id='workloads'><summary>Every workload: the fastest implementation per "
                 "machine</summary><table><tr><th>family</th><th>workload</th>"
                 + "".join(f"<th>{e(m)}</th><th>Channel vs Go</th>" for m in machines) + "</tr>")
    for row in every:
        parts.append(f"<tr><td>{e(row['family'])}</td><td>{e(params_text(row['params']))}</td>" + "".join(
            (f"<td>{e(fastest_text(row['cells'][m]['fastest']))}</td><td>{e(vs_text(row['cells'][m]['vs']))}</td>"
             if m in row["cells"] else "<td>—</td><td></td>") for m in machines) + "</tr>")
    parts.append("</table></details>")
    parts.append("<h2 id='plots'>Plots <small>hover a point for its median, interval and sample count; "
                 "conpat's channel and Go's are drawn bold</small></h2>")
    for name, caption, family in plots:
        svg = (out / f"{name}.svg").read_text()
        svg = svg[svg.index("<svg"):]  # inline: drop the XML prolog and doctype
        attr = f" data-family='{e(family)}'" if family else ""
        parts.append(f"<figure id='plot-{e(name)}'{attr}><figcaption>{e(caption)}</figcaption>{svg}</figure>")
    parts.append("<p class='sub'>Every benchmark's median, interval, n and unit per machine: "
                 "<a href='summary.csv'>summary.csv</a>.</p></body></html>")
    (out / "index.html").write_text("\n".join(parts))

    # ---- Markdown ---------------------------------------------------------------------
    cell = lambda s: str(s).replace("|", "\\|")  # noqa: E731
    md = ["# conpat report", "",
          "Generated by `make report` from " + ", ".join(f"`{rel(r.path)}`" for r in runs) + ".", ""]
    md += [f"- {run_brief(r)}" for r in runs]
    md += ["", "## Fastest here", "",
           "Each family's headline workload per machine: the fastest implementation, how far ahead of the "
           "runner-up (median ratio [95 % interval]), and conpat::Channel's speed over Go's chan (the Go on PATH "
           "where a run has two releases; > 1: Channel faster).", "",
           "| workload | " + " | ".join(f"{m}: fastest | {m}: Channel vs Go" for m in machines) + " |",
           "|---|" + "---|---|" * len(machines)]
    for row in summary:
        params = next((c["params"] for c in row["cells"].values()), {})
        md.append(f"| {row['family']}" + (f" ({cell(params_text(params))})" if params else "") + " | " + " | ".join(
            (f"{cell(fastest_text(row['cells'][m]['fastest']))} | {cell(vs_text(row['cells'][m]['vs']))}"
             if m in row["cells"] else "not measured | ") for m in machines) + " |")
    md += ["", "## The seed's claims", "", CLAIMS_INTRO, "",
           "| claim | experiment and setup | machine | C++ | Go | verdict |", "|---|---|---|---|---|---|"]
    for r in rows:
        sides = dict(side_lines(r))
        others = [(k, v) for k, v in side_lines(r) if k not in ("C++", "Go")]
        go = sides.get("Go", ["not measured"]) + [f"{k}: {x}" for k, v in others for x in v]
        md.append("| " + " | ".join([cell(r["claim"]), cell(f"`{r['experiment']}`: {r['setup']}"
                                                            + (f" ({r['rule']})" if r.get("rule") else "")),
                                      cell(r["machine"]), "<br>".join(map(cell, sides.get("C++", ["not measured"]))),
                                      "<br>".join(map(cell, go)),
                                      f"**{r['verdict']}**" + (f" ({r['by']})" if r.get("by") else "")]) + " |")
    if change:
        moved = worst_first(change["rows"])
        md += ["", f"## Changes: {change['title']}", "", change_counts(change["rows"]) + "; slower is positive.", ""]
        if moved:
            md += ["| benchmark | metric | change | verdict |", "|---|---|---|---|"]
            md += [f"| {cell(r['benchmark'])} | {r['metric']} | {cell(change_text(r))} | {cell(r['verdict'])} |"
                   for r in moved]
        else:
            md.append("No row changed significantly.")
    md += ["", "## conpat::Channel against Go's chan", ""]
    for r in runs:
        table = channel_table.table(r.doc)
        if len(table) < 2:
            continue
        md += [f"### {r.machine}", "", "| " + " | ".join(table[0]) + " |", "|" + "---|" * len(table[0])]
        md += ["| " + " | ".join(map(cell, row)) + " |" for row in table[1:]]
        md += [""] + [f"- {x}" for x in channel_table.machine_figures(r.doc)] + [""]
    md += ["## Plots", ""]
    for name, caption, _ in plots:
        md += [f"### {caption}", "", f"![{caption}]({name}.png)", ""]
    md += ["## Runs", ""]
    for r in runs:
        md.append(f"- **{r.machine}**")
        md += [f"  - {line}" for line in metadata(r)]
    md += ["", "Every benchmark's median, interval, n and unit per machine: [summary.csv](summary.csv)."]
    (out / "REPORT.md").write_text("\n".join(md) + "\n")
    write_csv(runs, out)
    (out / MARKER).write_text("This directory is generated by scripts/report.py; it replaces it as a whole.\n")


def check_out_dir(out: Path) -> None:
    """Refuses to replace a directory that is not a previous report."""
    if not out.exists():
        return
    if not out.is_dir():
        raise cr.ResultsError(f"{out}: exists and is not a directory")
    entries = list(out.iterdir())
    if not entries or (out / MARKER).is_file():
        return
    foreign = [p.name for p in entries if not (p.is_file() and REPORT_FILE_RE.match(p.name))]
    if foreign:
        raise cr.ResultsError(f"{out}: not a conpat report directory (holds {', '.join(sorted(foreign)[:3])}"
                              f"{', ...' if len(foreign) > 3 else ''}); give an empty or new --out")


def unique_labels(runs: list[Run]) -> None:
    """Runs of one machine label (a baseline and a new run) are told apart by commit, then by position."""
    labels = [r.machine for r in runs]
    for r in runs:
        if labels.count(r.machine) > 1:
            r.machine = f"{r.machine}@{r.ctx.get('git_commit', '?')}"
    labels = [r.machine for r in runs]
    for k, r in enumerate(runs):
        if labels.count(r.machine) > 1:
            r.machine = f"{r.machine}#{k + 1}"


def default_inputs() -> list[Path]:
    root = ROOT / "results"
    paths = []
    if root.is_dir():
        for d in sorted(d for d in root.iterdir() if d.is_dir()):
            files = cr.results_files(d)
            if files:
                paths.append(files[-1])
    if not paths:
        raise cr.ResultsError(f"{root}: no results files (run 'make bench' first)")
    return paths


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                epilog="The output directory must be new, empty, or a previous report. "
                                       "Exit codes: 0 done, 2 bad input (nothing is written then).")
    p.add_argument("runs", nargs="*", help="results files or directories (a directory stands for its newest file; "
                                           "default: the newest file per machine under results/)")
    p.add_argument("--out-dir", "--out", dest="out", default=str(ROOT / "report"),
                   help="output directory (default: report/; --out is the older name)")
    p.add_argument("--history", action="append", metavar="PATH",
                   help="run summaries to draw the history view from: a history/<machine>.jsonl file (as CI "
                        "stores them, scripts/history.py) or a directory of them; repeatable. Default: the "
                        f"newest {HISTORY_FILES} results files in the reported run's directory, summarised")
    p.add_argument("--baseline", metavar="RUN",
                   help="a results file or directory to compare against: the newest reported run of its machine "
                        "(else the newest reported run) is compared with it by compare.py, and the biggest "
                        "changes, worst first, join the first screen")
    p.add_argument("--abtest", metavar="FILE",
                   help="a paired A/B test result (JSON with a top-level 'rows' list in compare.py's row shape, "
                        "as scripts/abtest.py writes it): its biggest changes, worst first, join the first screen")
    args = p.parse_args()
    if args.baseline and args.abtest:
        p.error("give --baseline or --abtest, not both")
    out = Path(args.out)
    try:
        check_out_dir(out)
        paths = cr.resolve_inputs(args.runs) if args.runs else default_inputs()
        runs = []
        for path in paths:
            run = Run(path, cr.load(path))
            if not run.points:
                raise cr.ResultsError(f"{path}: no successful benchmark to report")
            if not any(p["stats"] for p in run.points):
                raise cr.ResultsError(f"{path}: not a results file to report: no benchmark has a time or a counter "
                                      "(real_time, items_per_second, ...)")
            runs.append(run)
        import history as hist
        for h in args.history or []:
            found = hist.files_in(h)
            if not found:
                raise cr.ResultsError(f"{h}: no history files (<machine>.jsonl) in it")
            for f in found:
                hist.read(f)
        change = None
        if args.abtest:
            change = load_abtest(Path(args.abtest))
        elif args.baseline:
            change = baseline_changes(Path(args.baseline), runs)
    except cr.ResultsError as e:
        print(f"report: {e}", file=sys.stderr)
        return 2
    unique_labels(runs)
    # Build in a scratch directory, then swap it in: a failure leaves the old report intact.
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".report-", dir=out.parent))
    try:
        plots = make_plots(runs, tmp, args.history)
        render(runs, plots, tmp, change)
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
        out.chmod(0o755)  # mkdtemp made it private; a report is for reading
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    print(f"report: {len(plots)} plots, {out / 'index.html'}, {out / 'REPORT.md'}, {out / 'summary.csv'}")
    return 0


if __name__ == "__main__":
    cr.quiet_pipe()
    sys.exit(main())
