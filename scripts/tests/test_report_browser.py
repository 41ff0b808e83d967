"""The HTML report as a reader's browser sees it: headless Chromium opens
report/index.html at 1400 x 900 px, and a probe measures the page's DOM:
where the summary table, the claims and the changes end; which families
have a plot; each plot's series (stroke colour and marker shape), tick
labels, titles and texts, as laid out. Built from the committed results
(two machines and a history) and from fixture results with an A/B test.
Skipped, with the reason, when Chromium is not installed (make deps
installs it where Debian has it)."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import conpat_results as cr  # noqa: E402
from test_compare_report import run_doc, script, write  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
BROWSER = next((b for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)
WIDTH, HEIGHT = 1400, 900
pytestmark = pytest.mark.skipif(BROWSER is None, reason="Chromium is not installed (Debian: apt install chromium; "
                                                        "make deps installs it as an optional package)")

# Runs first in <head>: records script errors; after load, measures the page
# and writes what it saw into an element that --dump-dom prints.
PROBE = """<script>
window.__errors = [];
window.addEventListener('error', e => window.__errors.push(String(e.message || e)));
window.addEventListener('load', () => {
  const box = el => { if (!el) return null; const r = el.getBoundingClientRect();
    return {top: r.top + scrollY, bottom: r.bottom + scrollY, left: r.left + scrollX, right: r.right + scrollX,
            width: r.width, height: r.height}; };
  const union = els => { let b = null; for (const el of els) { const r = box(el); if (!r.width || !r.height) continue;
    b = b ? {top: Math.min(b.top, r.top), bottom: Math.max(b.bottom, r.bottom), left: Math.min(b.left, r.left),
             right: Math.max(b.right, r.right)} : r; } return b; };
  // A marker's shape: its path with the coordinates scaled to the largest one (sizes differ, shapes not).
  const shape = d => { const nums = (d.match(/-?[0-9.]+/g) || []).map(Number);
    const m = Math.max(1e-9, ...nums.map(Math.abs));
    return d.replace(/-?[0-9.]+/g, () => (nums.shift() / m).toFixed(2)).replace(/\\s+/g, ' '); };
  const svgs = [...document.querySelectorAll('svg')].map(svg => {
    const series = [...svg.querySelectorAll('g[id^="conpat-series"]')].map(g => {
      const use = g.querySelector('use');
      const line = [...g.querySelectorAll('path')].find(p => !p.closest('defs'));
      let marker = 'none';
      if (use) { const def = svg.querySelector((use.getAttribute('xlink:href') || use.getAttribute('href')));
                 marker = def ? shape(def.getAttribute('d')) : 'missing'; }
      const colour = use ? getComputedStyle(use).stroke : line ? getComputedStyle(line).stroke : 'none';
      return {series: g.id.replace(/^conpat-series-/, '').replace(/--[0-9]+$/, ''), colour: colour, marker: marker};
    });
    const ticks = [...svg.querySelectorAll('g[id^="xtick_"], g[id^="ytick_"]')]
      .map(g => ({id: g.id, text: [...g.querySelectorAll('text')].map(t => t.textContent).join(''),
                  box: union([...g.querySelectorAll('text')].filter(t => t.textContent.trim()))}))
      .filter(t => t.box);
    const titles = [...svg.querySelectorAll('[id^="conpat-title"]')].map(t => ({text: t.textContent, box: union([t])}));
    const texts = [...svg.querySelectorAll('text')].filter(t => t.textContent.trim())
      .map(t => ({text: t.textContent, box: box(t)}));
    return {figure: (svg.closest('figure') || {}).id || '', box: box(svg), series: series, ticks: ticks,
            titles: titles, texts: texts, tips: svg.querySelectorAll('title').length};
  });
  const out = document.createElement('pre'); out.id = 'conpat-probe';
  out.textContent = JSON.stringify({
    errors: window.__errors, width: document.documentElement.scrollWidth,
    summary: box(document.getElementById('summary')), claims: box(document.getElementById('claims')),
    changes: box(document.getElementById('changes')),
    changed: [...document.querySelectorAll('#changes tr')].slice(1).map(tr => tr.textContent),
    families: [...document.querySelectorAll('[data-family]')].map(f => ({family: f.dataset.family,
      svgs: [...f.querySelectorAll('svg')].map(box)})),
    svgs: svgs});
  document.body.appendChild(out);
});
</script>"""


def probe(page: Path, tmp_path: Path) -> dict:
    html = page.read_text()
    probed = page.with_name("probed.html")
    probed.write_text(html.replace("<head>", "<head>" + PROBE, 1))
    cmd = [BROWSER, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
           "--no-first-run", "--hide-scrollbars", "--user-data-dir=" + str(tmp_path / "profile"),
           "--virtual-time-budget=5000", f"--window-size={WIDTH},{HEIGHT}", "--dump-dom", probed.as_uri()]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert res.returncode == 0, res.stderr[-2000:]
    m = re.search(r'<pre id="conpat-probe">(.*?)</pre>', res.stdout, re.S)
    assert m, "the page did not finish loading: " + res.stdout[-500:] + res.stderr[-1000:]
    text = m.group(1).replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return json.loads(text)


def overlap(a: dict, b: dict, slack: float = 0.5) -> bool:
    return (min(a["right"], b["right"]) - max(a["left"], b["left"]) > slack
            and min(a["bottom"], b["bottom"]) - max(a["top"], b["top"]) > slack)


def check_layout(seen: dict, families: set) -> None:
    """The properties every report must have, as laid out in the browser."""
    assert seen["errors"] == []
    assert seen["width"] <= WIDTH, "nothing is wider than the window"
    for what in ("summary", "claims"):
        assert seen[what] is not None, f"no element id={what}"
        assert 0 <= seen[what]["top"] and seen[what]["bottom"] <= HEIGHT, (what, seen[what])
    drawn = {}
    for f in seen["families"]:
        drawn.setdefault(f["family"], []).extend(f["svgs"])
    missing = sorted(f for f in families if not any(s["width"] > 100 and s["height"] > 100 for s in drawn.get(f, [])))
    assert missing == [], f"families without a plot: {missing}"
    style = {}  # series -> (colour, marker), over every plot
    for svg in seen["svgs"]:
        where = svg["figure"]
        assert svg["ticks"] and svg["texts"] and svg["titles"], f"{where}: the probe sees its labels and titles"
        assert svg["series"] or where == "plot-machines_heatmap", f"{where}: the probe sees its series"
        mine = {}
        for s in svg["series"]:
            st = (s["colour"], s["marker"])
            assert s["colour"] not in ("none", "") and s["marker"] != "missing", (where, s)
            if not where.startswith("plot-history_"):  # the history draws benchmarks, not implementations
                assert style.setdefault(s["series"], st) == st, f"{where}: {s['series']} changed its style"
            assert mine.setdefault(s["series"], st) == st, f"{where}: {s['series']} drawn in two styles"
        styles = list(mine.values())
        dupes = [name for name, st in mine.items() if styles.count(st) > 1]
        assert not dupes, f"{where}: series share colour and marker: {dupes}"
        ticks = svg["ticks"]
        for i, a in enumerate(ticks):
            for b in ticks[i + 1:]:
                assert not overlap(a["box"], b["box"]), f"{where}: tick labels {a['text']!r} and {b['text']!r} overlap"
        frame = svg["box"]
        for t in svg["titles"]:
            assert t["box"]["right"] - t["box"]["left"] <= frame["width"] + 0.5, f"{where}: title {t['text']!r}"
        for t in svg["texts"]:
            b = t["box"]
            assert (b["left"] >= frame["left"] - 1 and b["right"] <= frame["right"] + 1 and b["top"] >= frame["top"] - 1
                    and b["bottom"] <= frame["bottom"] + 1), f"{where}: text {t['text']!r} leaves its figure"


def families_of(paths) -> set:
    return {b["family"] for p in paths for b in cr.iterations(cr.load(p))}


def change_pcts(rows: list[str]) -> list[float]:
    return [float(re.search(r"([-+][0-9.]+) %", row).group(1)) for row in rows]


@pytest.mark.parametrize("with_baseline", [False, True])
def test_report_of_the_committed_results_answers_on_its_first_screen(tmp_path, with_baseline):
    dirs = [d for d in sorted((ROOT / "results").iterdir()) if d.is_dir() and cr.results_files(d)]
    inputs = [cr.newest(d) for d in dirs]
    assert len(inputs) >= 2, "the committed results hold two machines"
    out = tmp_path / "report"
    # main keeps one reference run per machine: the history view is drawn from summary lines, here three
    # of the reference run under three commits (as CI stores them in history/<machine>.jsonl)
    import history as hist

    line = hist.summarize(cr.load(inputs[0]), inputs[0].name)
    hfile = tmp_path / "history" / f"{line['machine']}.jsonl"
    hfile.parent.mkdir()
    hfile.write_text("".join(json.dumps({**line, "git_commit": f"c{i}", "start_time": f"2026-01-0{i + 1}T00:00:00Z"})
                             + "\n" for i in range(3)))
    extra = ["--history", str(hfile)]
    if with_baseline:  # the other machine's reference as the baseline, as a comparison across machines
        extra += ["--baseline", inputs[1]]
    r = script("report.py", *inputs, *extra, "--out", out)
    assert r.returncode == 0, r.stderr
    page = out / "index.html"
    size = page.stat().st_size
    assert size <= 1_000_000, f"index.html is {size} bytes"
    seen = probe(page, tmp_path)
    fams = families_of(inputs)
    assert {"channel.pingpong", "channel.fan_in", "callback.dispatch", "collect.gather", "waitgroup.wake",
            "cancel.fanout", "seed.buffered_fan_in"} <= fams
    check_layout(seen, fams)
    assert any(s["figure"].startswith("plot-history_") for s in seen["svgs"]), "a history plot"
    assert sum(s["tips"] for s in seen["svgs"]) > 500, "hover values reach the browser"
    if not with_baseline:
        assert seen["changes"] is None, "no baseline given: no changes section"
        return
    assert seen["changes"] is not None and seen["changes"]["bottom"] <= HEIGHT, seen["changes"]
    pcts = change_pcts(seen["changed"])
    if not pcts:  # compare.py's intervals (FDR-adjusted) may find no change between the references
        assert "No row changed significantly." in (out / "index.html").read_text(), "an empty changes section says so"
        return
    slower, faster = [p for p in pcts if p > 0], [p for p in pcts if p <= 0]
    assert pcts == slower + faster and slower == sorted(slower, reverse=True) and \
        faster == sorted(faster, key=abs, reverse=True), f"worst first: {pcts}"


def test_report_with_an_abtest_puts_the_worst_change_first(tmp_path):
    a = write(tmp_path, "in/a.json", run_doc("box-a"))
    b = write(tmp_path, "in/b.json", run_doc("box-b-with-a-longer-machine-label", slow=2.0))
    out = tmp_path / "report"
    r = script("report.py", a, b, "--abtest", FIXTURES / "abtest_small.json", "--out", out)
    assert r.returncode == 0, r.stderr
    seen = probe(out / "index.html", tmp_path)
    check_layout(seen, families_of([a, b]))
    assert seen["changes"] is not None and seen["changes"]["bottom"] <= HEIGHT, seen["changes"]
    rows = seen["changed"]
    assert len(rows) == 4, rows  # the four rows whose verdict is slower or faster
    assert "channel.mpmc/impl:ring" in rows[0] and "+31.0 % [+20.5, +44.0]" in rows[0], "worst first, with its interval"
    assert "+12.5 % [+8.2, +17.0]" in rows[1] or "+12.5 % [+8.3, +17.0]" in rows[1], rows[1]
    assert "-22.0 %" in rows[2] and "[" not in rows[2].split("%")[1], "a row without an interval shows none"
    assert "-7.5 % [-9.0, -6.0]" in rows[3]


GOOD = ("<g id='xtick_1'><text x='20' y='90' style='font: 10px sans-serif'>10</text></g>"
        "<g id='xtick_2'><text x='120' y='90' style='font: 10px sans-serif'>100</text></g>"
        "<g id='conpat-title-1'><text x='10' y='15' style='font: 10px sans-serif'>a title</text></g>"
        "<g id='conpat-series-a--1'><path d='M 10 10 L 90 60' style='stroke: #ff0000'/></g>"
        "<g id='conpat-series-b--2'><path d='M 10 60 L 90 10' style='stroke: #0000ff'/></g>")
BAD = {
    "tick labels": ("<text x='120' y='90' style='font: 10px sans-serif'>100</text>",
                    "<text x='24' y='90' style='font: 10px sans-serif'>100</text>"),
    "share colour and marker": ("stroke: #0000ff", "stroke: #ff0000"),
    "title": ("a title</text>", "a title far too long for a figure two hundred pixels wide, in any font</text>"),
    "families without a plot": ("data-family='fam.x'", "data-family='fam.y'"),
}


@pytest.mark.parametrize("flaw", [None, *BAD])
def test_the_layout_checks_catch_each_flaw(tmp_path, flaw):
    svg = GOOD if flaw is None or flaw == "families without a plot" else GOOD.replace(*BAD[flaw])
    figure = ("<figure id='plot-x' data-family='fam.x'><svg xmlns='http://www.w3.org/2000/svg' width='200' "
              f"height='120' viewBox='0 0 200 120'>{svg}</svg></figure>")
    if flaw == "families without a plot":
        figure = figure.replace(*BAD[flaw])
    page = tmp_path / "page.html"
    page.write_text("<!doctype html><html><head><meta charset='utf-8'></head><body><table id='summary'><tr><td>s"
                    "</td></tr></table><table id='claims'><tr><td>c</td></tr></table>" + figure + "</body></html>")
    seen = probe(page, tmp_path)
    if flaw is None:
        check_layout(seen, {"fam.x"})
    else:
        with pytest.raises(AssertionError, match=flaw):
            check_layout(seen, {"fam.x"})
