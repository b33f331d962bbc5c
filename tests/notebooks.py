"""Running a notebook as a person would, for the tests of the shipped notebooks."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient


def executed_notebook(notebook_path: Path, working_directory: Path) -> nbformat.NotebookNode:
    """Execute ``notebook_path`` top to bottom in ``working_directory``; the notebook with
    its outputs.

    Raises nbclient's ``CellExecutionError``, naming the cell, if any cell fails.
    """
    notebook = nbformat.read(notebook_path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(working_directory)}},
    )
    client.execute()
    return notebook


def _outputs(notebook: nbformat.NotebookNode):
    for cell in notebook.cells:
        if cell.cell_type == "code":
            yield from cell.outputs


def printed_text(notebook: nbformat.NotebookNode) -> str:
    """Everything the executed notebook's cells printed (stdout and stderr streams)."""
    return "".join(output.get("text", "") for output in _outputs(notebook))


def image_cells(notebook: nbformat.NotebookNode) -> int:
    """How many code cells show at least one PNG image."""
    return sum(
        any("image/png" in output.get("data", {}) for output in cell.outputs)
        for cell in notebook.cells
        if cell.cell_type == "code"
    )


def executed_notebook_text(notebook_path: Path, working_directory: Path) -> str:
    """Execute ``notebook_path`` in ``working_directory``; its printed text."""
    return printed_text(executed_notebook(notebook_path, working_directory))
