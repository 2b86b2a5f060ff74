"""A real browser for the tests that look at the kit's pages: Debian's `chromium`, driven headless.

`look(page, shots)` loads a page at 1000 px wide and reports what a reader would see: how wide the
page is against the viewport, each item row (`tr.line`) and whether it and its badge are on
screen, and each image and whether it loaded. It also saves a full-page screenshot into `shots`,
which the suite keeps as artifacts (`outputs/test-artifacts/screenshots/`).
"""
from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

WIDTH = 1000
ARTIFACTS = Path(__file__).resolve().parents[1] / "outputs" / "test-artifacts" / "screenshots"

# Runs after the page and its images have loaded; writes its findings into an attribute of <body>.
PROBE = """<script>
window.addEventListener('load', function () {
  var root = document.documentElement, shown = function (e) { var r = e.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && r.right <= window.innerWidth + 1 && getComputedStyle(e).visibility !== 'hidden'; };
  var rows = Array.prototype.map.call(document.querySelectorAll('tr.line'), function (row) {
    var badge = row.querySelector('.badge');
    return {text: row.textContent.slice(0, 60), shown: shown(row), badge: !!badge && shown(badge)}; });
  var images = Array.prototype.map.call(document.images, function (img) {
    return {src: img.getAttribute('src'), loaded: img.complete && img.naturalWidth > 0,
            fits: img.getBoundingClientRect().right <= window.innerWidth + 1}; });
  document.body.setAttribute('data-seen', JSON.stringify({viewport: window.innerWidth, page: root.scrollWidth,
    rows: rows, images: images, badges: document.querySelectorAll('.badge').length}));
});
</script>"""


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


def _run(arguments: list[str]) -> str:
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                               f"--user-data-dir={profile}", "--virtual-time-budget=15000", *arguments],
                              capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"chromium failed: {done.stderr[-1500:]}")
    return done.stdout


def look(page: Path, shots: Path, name: str) -> dict:
    """What a reader sees of `page` at WIDTH px; a screenshot goes to shots/name.png."""
    probe = page.with_name(f".probe-{page.name}")
    text = page.read_text(encoding="utf-8")
    probe.write_text(text.replace("</body>", PROBE + "</body>") if "</body>" in text else text + PROBE, encoding="utf-8")
    try:
        dom = _run([f"--window-size={WIDTH},900", "--dump-dom", probe.as_uri()])
    finally:
        probe.unlink()
    found = re.search(r'data-seen="([^"]*)"', dom)
    if not found:
        raise RuntimeError(f"the page's probe did not run: {dom[:500]}")
    shots.mkdir(parents=True, exist_ok=True)
    height = max(900, 60 * (text.count("<tr") + text.count("<p") + 20 * text.count("<img")))
    _run([f"--window-size={WIDTH},{min(height, 16000)}", f"--screenshot={shots / (name + '.png')}", page.as_uri()])
    return json.loads(html.unescape(found.group(1)))
