"""The interactive 3-D page, opened in a real headless browser (Debian's chromium, which
.ci/run installs): plotly draws it offline, and a hostile label stays text."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

import descend

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
HOSTILE = "<img src=x onerror=\"document.title='pwned'\">"

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="needs chromium (apt-get install chromium)"
)


def rendered_dom(path, profile) -> str:
    """The page's DOM after its scripts ran, as chromium dumps it (no network at all)."""
    command = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile}", "--virtual-time-budget=10000", "--dump-dom", path.as_uri(),
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True).stdout


def test_the_3d_page_renders_offline_with_every_label(tmp_path):
    study = descend.surface(
        "anisotropic",
        ["sgd", "sgd:momentum=0.9", f"sgd:momentum=0.5,label={HOSTILE!r}"],
        lr=0.1,
        steps=30,
    )
    written = study.save(tmp_path / "out", gif=False)
    dom = rendered_dom(written["surface"], tmp_path / "profile")
    legend = re.findall(r'class="legendtext"[^>]*data-unformatted="([^"]*)"', dom)
    assert legend[:2] == ["sgd", "sgd momentum=0.9"]  # drawn by plotly.js, inlined in the page
    assert "start" in legend and "global minimum" in legend
    assert "<title>pwned</title>" not in dom  # the label's onerror never ran
    assert "<img" not in dom.split("<body", 1)[1]  # ... because no <img> element was made
    assert any("img src=x" in text for text in legend)  # it is shown as text
