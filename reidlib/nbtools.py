"""Refresh the committed outputs of the notebooks (what nbval compares against).

``python -m reidlib.nbtools notebooks/*.ipynb`` (``make notebooks``) executes each notebook in place
at its defaults (the smoke profile) with papermill and the ``reidlib`` kernel, then cleans it for
committing: no stderr streams (progress bars, warnings), no papermill/execution metadata (timings,
paths), no absolute paths of this checkout in the outputs. Run it after a deliberate change to a
model or loss, review the diff of the ``# NBVAL_CHECK_OUTPUT`` cells, and commit.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

__all__ = ["clean", "refresh", "main"]

KERNEL = {"name": "reidlib", "display_name": "Python (reidlib)", "language": "python"}


def clean(nb, root: str | os.PathLike[str]):
    """Strip what changes from run to run (stderr, timings, metadata) and the checkout's absolute path."""
    root = str(Path(root).resolve())
    nb.metadata.pop("papermill", None)
    nb.metadata["kernelspec"] = dict(KERNEL)
    for cell in nb.cells:
        for key in ("papermill", "execution"):
            cell.metadata.pop(key, None)
        if cell.cell_type != "code":
            continue
        kept = []
        for out in cell.outputs:
            if out.output_type == "stream" and out.name == "stderr":
                continue
            if out.output_type == "stream":
                out.text = out.text.replace(root + os.sep, "").replace(root, ".")
            for key, val in list(out.get("data", {}).items()):
                if isinstance(val, str) and not key.startswith("image/"):
                    out.data[key] = val.replace(root + os.sep, "").replace(root, ".")
            kept.append(out)
        cell.outputs = kept
    return nb


def refresh(path: str | os.PathLike[str], timeout: int = 600) -> Path:
    """Execute ``path`` in place at its default parameters and clean it; returns the path."""
    import nbformat
    import papermill

    from reidlib.reproduce import repo_root

    path = Path(path).resolve()
    root = repo_root()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / path.name
        papermill.execute_notebook(str(path), str(out), kernel_name=KERNEL["name"], cwd=str(root),
                                   progress_bar=False, execution_timeout=timeout)
        nb = clean(nbformat.read(out, as_version=4), root)
    nbformat.validate(nb)
    from reidlib.utils.io import atomic_write_text

    atomic_write_text(path, nbformat.writes(nb) + "\n")
    return path


def main(argv: Sequence[str] | None = None) -> int:
    paths = list(argv if argv is not None else sys.argv[1:])
    if not paths:
        print("usage: python -m reidlib.nbtools NOTEBOOK.ipynb [...]", file=sys.stderr)
        return 2
    for p in paths:
        print(f"refreshing {p}", flush=True)
        refresh(p)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
