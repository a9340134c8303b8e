"""The one exception type of the data layer."""

from __future__ import annotations

__all__ = ["ReidDataError"]


class ReidDataError(ValueError):
    """Bad input data: a missing root or split folder, an empty split, an unparsable file name, an
    unreadable image, a .mat file of the wrong structure. The message always names the path and
    what was expected there."""
