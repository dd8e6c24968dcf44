"""The example notebook runs from top to bottom (so it never rots), and shows what it
says: inline tables and figures, the store finding runs, a study back from the store."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="needs the notebook extra: descend[notebook]")
nbclient = pytest.importorskip("nbclient", reason="needs the notebook extra: descend[notebook]")
pytest.importorskip("ipykernel", reason="needs the notebook extra: descend[notebook]")

NOTEBOOK = Path(__file__).parents[1] / "examples" / "tour.ipynb"


def texts(cell) -> str:
    """Everything a cell printed or showed, as text (plain, HTML, markdown)."""
    parts = []
    for output in cell.get("outputs", []):
        parts.append(output.get("text", ""))
        data = output.get("data", {})
        parts += [data.get(kind, "") for kind in ("text/plain", "text/html", "text/markdown")]
    return "\n".join(p if isinstance(p, str) else "".join(p) for p in parts)


def this_python_kernel(folder: Path, monkeypatch) -> str:
    """A kernel spec for this interpreter (a 'python3' spec found elsewhere on the machine
    could be another Python, without descend)."""
    spec = folder / "kernels" / "descend-tests"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "descend tests", "language": "python"})
    )
    monkeypatch.setenv("JUPYTER_PATH", str(folder))
    return "descend-tests"


def test_the_tour_notebook_runs_and_shows_its_results(tmp_path, monkeypatch):
    shutil.copy(NOTEBOOK, tmp_path / NOTEBOOK.name)
    notebook = nbformat.read(tmp_path / NOTEBOOK.name, as_version=4)
    kernel = this_python_kernel(tmp_path / "jupyter", monkeypatch)
    client = nbclient.NotebookClient(
        notebook, timeout=600, kernel_name=kernel, resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()  # raises CellExecutionError, with the cell and its traceback, on any error
    code = [c for c in notebook.cells if c.cell_type == "code"]
    shown = [texts(c) for c in code]
    assert "anisotropic(kappa=8)" in shown[1] and "data:image/png;base64" in shown[1]
    assert any("application/vnd.plotly.v1+json" in o.get("data", {}) for o in code[2].outputs)
    assert "0 of 10 runs found in the store, 10 to run" in shown[3]
    assert "10 of 14 runs found in the store, 4 to run" in shown[4]
    assert "regimes" in shown[5] and "anisotropic" in shown[5]
    assert "minibatch:25:shuffle" in shown[6]
    assert any("image/png" in o.get("data", {}) for o in code[7].outputs)
    assert "KiB" in shown[8] and (tmp_path / "descend-out" / "regimes.html").is_file()
    assert (
        "## Reproducibility" in shown[9] and (tmp_path / "regimes_files" / "curves.png").is_file()
    )
