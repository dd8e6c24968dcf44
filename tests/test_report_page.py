"""The report page: one self-contained file with a study's tables, figures and
reproducibility record; every user's word escaped; opened in headless Chromium, it runs
without a console message, plotly draws its legends, and a hostile label stays text."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess

import markupsafe
import pytest

import descend
from descend import report_page
from descend.errors import DescendError

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCRIPT = "<script>alert(1)</script>"
IMAGE = "<img src=x onerror=\"document.title='pwned'\">"
TEMPLATE = "{{ 7*7 }}"
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="needs chromium (apt-get install chromium)"
)


@pytest.fixture(scope="module")
def hostile_surface():
    optimizers = [
        "sgd",
        f"sgd:momentum=0.9,label={SCRIPT!r}",
        f"sgd:momentum=0.5,label={IMAGE!r}",
        f"sgd:momentum=0.2,label={TEMPLATE!r}",
    ]
    return descend.surface("anisotropic", optimizers, lr=0.1, steps=15)


@pytest.fixture(scope="module")
def hostile_compare():
    return descend.compare(
        "quadratic-regression", ["sgd:lr=1e-3", f"sgd:lr=2e-3,label={SCRIPT!r}"],
        regimes=["full"], epochs=3, seeds=2,
        title=f"Regimes {SCRIPT}", description=f"A {TEMPLATE} study of <b>regimes</b>",
    )  # fmt: skip


def chromium(page, profile, *flags: str) -> subprocess.CompletedProcess:
    """Chromium run on the page with no network; its console messages go to stderr."""
    command = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
        "--virtual-time-budget=15000", *flags, page.as_uri(),
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=180, check=True)


# Put first in the page under test: records the page's uncaught errors, rejected promises
# and console.error calls, and writes them into the DOM once it has drawn. (Chromium's own
# notes on software WebGL, also on its console, are the browser's, not the page's.)
COLLECTOR = """<script>
window.collected = [];
window.addEventListener("error", e => collected.push("error: " + e.message));
window.addEventListener("unhandledrejection", e => collected.push("rejected: " + e.reason));
const consoleError = console.error;
console.error = (...args) => { collected.push("console.error: " + args.join(" ")); consoleError(...args); };
window.addEventListener("load", () => setTimeout(() => {
  const out = document.createElement("pre");
  out.id = "collected";
  out.textContent = JSON.stringify(collected);
  document.body.appendChild(out);
}, 2000));
</script>"""


def page_errors(page, profile) -> tuple[list[str], str]:
    """(the page's errors, its DOM) once loaded in Chromium."""
    watched = page.with_name("watched-" + page.name)
    watched.write_text(page.read_text().replace("<head>", "<head>" + COLLECTOR, 1))
    dom = chromium(watched, profile, "--dump-dom").stdout
    found = re.search(r'<pre id="collected">(.*?)</pre>', dom, re.S)
    assert found is not None, "the page never finished loading"
    return json.loads(html.unescape(found.group(1))), dom


def test_the_page_holds_every_table_figure_and_the_record(tmp_path, hostile_compare):
    page = hostile_compare.report(tmp_path / "report.html")
    text = page.read_text()
    for table in hostile_compare.tables():
        assert f'id="table-{table.name}"' in text and f"<h2>{table.title}</h2>" in text
        if table.note:
            assert f'<p class="note">{markupsafe.escape(table.note)}</p>' in text
    for name in hostile_compare.figures():
        assert f"<h3>{name}</h3>" in text
    body = text.split("</head>", 1)[1]  # (plotly.js, in the head, has data URIs of its own)
    assert body.count('src="data:image/png;base64,') == 4  # paths, contour, fits, curves
    assert 'class="plotly-graph-div"' in text  # the landscape, interactive
    assert "<script src" not in text and "<link" not in text  # nothing fetched
    assert "<dt>torch</dt>" in text and "<dt>seeds</dt><dd>0, 1</dd>" in text


def test_every_user_word_is_escaped_and_never_evaluated(tmp_path, hostile_surface, hostile_compare):
    for study in (hostile_surface, hostile_compare):
        text = study.report(tmp_path / "page.html").read_text()
        assert SCRIPT not in text and "<img src=x" not in text and "<b>regimes</b>" not in text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
        assert TEMPLATE in text or "<b>" not in text
    assert "<title>Regimes &lt;script&gt;alert(1)&lt;/script&gt;</title>" in text
    assert "A {{ 7*7 }} study of &lt;b&gt;regimes&lt;/b&gt;" in text


def test_markdown_and_its_images(tmp_path, hostile_surface):
    out = hostile_surface.report(tmp_path / "surface.md", format="md")
    text = out.read_text()
    assert text.startswith("# anisotropic(kappa=8): w1**2 + 8*w2**2")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text and SCRIPT not in text
    files = {p.name for p in (tmp_path / "surface_files").iterdir()}
    assert {"contour.png", "loss.png", "surface.html", "surface3d.png", "descent.gif"} <= files
    assert "[surface (interactive)](surface_files/surface.html)" in text
    assert "## Reproducibility" in text


def test_a_bad_format_or_folder_is_refused_before_any_figure(tmp_path, hostile_surface):
    with pytest.raises(DescendError, match=r"Invalid format 'pdf' \(allowed: html, md\)"):
        report_page.write(hostile_surface, tmp_path / "x.pdf", format="pdf")
    with pytest.raises(DescendError, match=r"Invalid --out .*: no folder"):
        report_page.write(hostile_surface, tmp_path / "none" / "x.html")


@needs_chromium
def test_the_console_check_sees_an_error(tmp_path):
    page = tmp_path / "broken.html"
    page.write_text(
        "<html><head></head><body><script>console.error('bad', 1); undefinedFunction()</script>"
        "</body></html>"
    )
    errors, _ = page_errors(page, tmp_path / "profile")
    assert errors == [
        "console.error: bad 1",
        "error: Uncaught ReferenceError: undefinedFunction is not defined",
    ]


@needs_chromium
@pytest.mark.parametrize("kind", ["surface", "compare"])
def test_the_page_draws_in_chromium_and_a_hostile_label_stays_text(
    tmp_path, kind, hostile_surface, hostile_compare
):
    study = hostile_surface if kind == "surface" else hostile_compare
    page = study.report(tmp_path / "report.html")
    errors, dom = page_errors(page, tmp_path / "profile")
    assert errors == []
    legend = re.findall(r'class="legendtext"[^>]*data-unformatted="([^"]*)"', dom)
    assert any(text.startswith("sgd") for text in legend)  # plotly.js drew the 3-D figure
    assert any("script&amp;gt;alert(1)" in text for text in legend)  # the label, as text
    body = dom.split("<body", 1)[1]
    assert "<title>pwned</title>" not in dom and '<img src="x"' not in body
    assert "<script>alert(1)</script>" not in body
