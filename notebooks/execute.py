"""Run the lab notebooks (notebooks/lab.ipynb and its Chinese edition, lab.zh.ipynb) top to bottom and save
them with their outputs: the notebooks the repository ships.

    .venv/bin/python notebooks/execute.py        (make notebook)

It opens with every figure and animation in place, without a kernel; tests/test_notebook.py runs it again.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import nbclient
import nbformat

NOTEBOOKS = [Path(__file__).with_name(name) for name in ("lab.ipynb", "lab.zh.ipynb")]


def main() -> int:
    for notebook in NOTEBOOKS:
        nb = nbformat.read(notebook, as_version=4)
        with tempfile.TemporaryDirectory(prefix="spikevision-lab-") as work:
            os.environ["SPIKEVISION_LAB_DIR"] = work
            nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                    resources={"metadata": {"path": work}}).execute()
        nbformat.write(nb, notebook)
        print(f"executed {notebook} ({notebook.stat().st_size / 1e6:.1f} MB with its outputs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
