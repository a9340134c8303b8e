"""Small shared helpers (atomic file writes, seeding)."""

from reidlib.utils.io import atomic_path, atomic_torch_save, atomic_write_bytes, atomic_write_text

__all__ = ["atomic_write_bytes", "atomic_write_text", "atomic_torch_save", "atomic_path"]
