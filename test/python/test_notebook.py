"""examples/tutorial.ipynb, executed top to bottom in a fresh kernel, as a reader runs it.

The notebook compares everything the generated code computes with Torch and raises on a
mismatch, so executing it is the test: any error in any cell fails it. Its outputs are
stripped in git; here they are checked for what a reader must see.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[2] / "examples" / "tutorial.ipynb"


def test_the_notebook_is_stored_without_outputs():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert code
    for cell in code:
        assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]


def test_the_tutorial_runs_top_to_bottom_and_matches_torch(tmp_path):
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    # A fresh kernel (ipykernel, this environment's Python) working in a scratch directory.
    client = NotebookClient(notebook, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError on any error, a failed assert included
    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "max |torch - SOFIE| over 2000 entries" in text, text
    assert "scored 2000 entries on 2 slots" in text, text
    # JupyROOT shows a canvas as a JSROOT drawing (its default) or as a PNG image.
    shown = [o for o in outputs if "image/png" in o.get("data", {})
             or "JSROOT" in str(o.get("data", {}).get("text/html", ""))]
    assert shown, "the canvas was not displayed inline"
    assert (tmp_path / "toy.root").is_file()
