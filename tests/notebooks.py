"""Running a notebook as a person would, for the tests of the shipped notebooks."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient


def executed_notebook_text(notebook_path: Path, working_directory: Path) -> str:
    """Execute ``notebook_path`` top to bottom in ``working_directory``; its printed text.

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
    return "".join(
        output.get("text", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
    )
