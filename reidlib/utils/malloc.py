"""Keep freed memory in the process (glibc), so that large CPU tensors are not page-faulted in anew.

glibc serves an allocation above ``M_MMAP_THRESHOLD`` (dynamic, at most 32 MiB on 64-bit) with a
fresh ``mmap`` and gives it back to the kernel on ``free``; the next tensor of that size is then
faulted in page by page, and the kernel zeroes every page first. A training step at the paper's
size on CPU allocates many such tensors (ResNet-50 at 256×128, batch 32: an early activation is
67 MB), and an MSGR step about twice as many as a plain one (the first backward's graph and the
double backward's temporaries). Measured on this project's 2-core machine (one thread, ResNet-50
256×128 batch 32, taps x, C2, C3): plain 7.0 s → 6.6 s, MSGR 24.1 s → 15.0 s per step, parameter
gradients bit-identical (``results/bench/train_step.csv`` has the same comparison in one run).

The price: the process keeps its peak heap (freed memory is reused, not returned) and some
fragmentation (PyTorch allocates with ``posix_memalign``, whose split-off remainders keep a freed
block from always fitting the next request of its size): peak RSS 6.2 → 7.6 GB in that MSGR step,
bounded over many steps (``tests/test_utils_malloc.py``). The trainer and the bench turn it on for CPU
work; GPU training never calls it (CUDA's caching allocator already reuses device memory)."""

from __future__ import annotations

import ctypes
import sys

__all__ = ["keep_freed_memory"]

_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4  # glibc's mallopt parameter numbers (malloc.h)


def keep_freed_memory() -> bool:
    """Tell glibc's malloc to serve every allocation from the heap (``M_MMAP_MAX`` 0) and to keep
    freed memory (``M_TRIM_THRESHOLD`` 2 GiB), for the rest of the process. True when glibc took
    both settings; False elsewhere (macOS, Windows, musl), where nothing changes."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, 2**31 - 1))
