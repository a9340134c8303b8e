"""Fail a papermill run whose ``-p``/``-y`` names a parameter the notebook does not have.

papermill only logs "Passed unknown parameter" and runs the defaults (e.g. ``-p profil cpu`` would
quietly run the smoke profile). papermill injects the values as plain assignments in a cell whose
source starts with ``# Parameters``, executed right after the notebook's own parameters cell; so,
inside the kernel, the names assigned in that injected cell must be among those the cell before it
assigns. Outside a papermill run (nbval, JupyterLab, no IPython) there is no injected cell and
nothing is checked.
"""

from __future__ import annotations

import ast

__all__ = ["UnknownParameterError", "assigned_names", "check_injected_parameters"]

INJECTED_HEADER = "# Parameters\n"  # papermill's Python translator starts the injected cell with it


class UnknownParameterError(NameError):
    """A papermill parameter that the notebook's parameters cell does not define."""


def assigned_names(source: str) -> set[str]:
    """Names bound by top-level assignments in ``source`` (a parameters cell)."""
    names = set()
    for node in ast.parse(source).body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] \
            if isinstance(node, ast.AnnAssign) else []
        names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


def check_injected_parameters(history: list[str] | None = None) -> None:
    """Raise :class:`UnknownParameterError` naming the unknown and the known parameters when the
    papermill-injected cell of the running kernel (``history``: its ``In`` list) assigns a name the
    parameters cell before it does not."""
    if history is None:
        try:
            from IPython import get_ipython
        except ImportError:
            return
        ip = get_ipython()
        history = list(ip.user_ns.get("In", [])) if ip is not None else []
    for i, src in enumerate(history):
        if i > 0 and src.startswith(INJECTED_HEADER):
            known = assigned_names(history[i - 1])
            unknown = sorted(assigned_names(src) - known)
            if unknown:
                raise UnknownParameterError(
                    f"unknown notebook parameter(s) {', '.join(unknown)}; this notebook's parameters are "
                    f"{', '.join(sorted(known))} (papermill -p NAME VALUE)")
