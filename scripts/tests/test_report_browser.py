"""The HTML report as a reader's browser sees it: headless Chromium loads
report/index.html built from two machines' fixture results, and the page
must load without script errors and draw every plot at a non-zero size.
Skipped, with the reason, when Chromium is not installed (make deps installs
it where Debian has it)."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_compare_report import run_doc, script, write  # noqa: E402

BROWSER = next((b for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)

# Runs first in <head>: records script errors; after load, writes what it saw
# into an element that --dump-dom prints.
PROBE = """<script>
window.__errors = [];
window.addEventListener('error', e => window.__errors.push(String(e.message || e)));
window.addEventListener('load', () => {
  const sizes = [...document.querySelectorAll('svg')].map(s => {
    const r = s.getBoundingClientRect(); return [Math.round(r.width), Math.round(r.height)]; });
  const out = document.createElement('pre'); out.id = 'conpat-probe';
  out.textContent = JSON.stringify({errors: window.__errors, sizes: sizes,
                                    titles: document.querySelectorAll('svg title').length});
  document.body.appendChild(out);
});
</script>"""


@pytest.mark.skipif(BROWSER is None, reason="Chromium is not installed (Debian: apt install chromium; "
                                            "make deps installs it as an optional package)")
def test_report_loads_in_a_real_browser_and_every_plot_has_a_size(tmp_path):
    a = write(tmp_path, "in/a.json", run_doc("box-a"))
    b = write(tmp_path, "in/b.json", run_doc("box-b", slow=2.0))
    out = tmp_path / "report"
    r = script("report.py", a, b, "--out", out)
    assert r.returncode == 0, r.stderr
    page = (out / "index.html").read_text()
    plots = page.count("<svg")
    assert plots >= 9
    probed = tmp_path / "probed.html"
    probed.write_text(page.replace("<head>", "<head>" + PROBE, 1))
    cmd = [BROWSER, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
           "--no-first-run", "--user-data-dir=" + str(tmp_path / "profile"), "--virtual-time-budget=5000",
           "--window-size=1200,900", "--dump-dom", probed.as_uri()]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    m = re.search(r'<pre id="conpat-probe">(.*?)</pre>', res.stdout, re.S)
    assert m, "the page did not finish loading: " + res.stdout[-500:] + res.stderr[-1000:]
    seen = json.loads(m.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert seen["errors"] == []
    assert len(seen["sizes"]) == plots
    assert all(w > 100 and h > 100 for w, h in seen["sizes"]), seen["sizes"]
    assert seen["titles"] > 20, "hover values reach the browser"
