"""Process settings that make unrolled training faster on the CPU: the C allocator.

Training an unrolled model keeps every layer's intermediates for the backward pass, so each
forward allocates tens of fresh multi-megabyte buffers (a batch of 10 complex spectrograms of
513 × 88 bins is 3.6 MB) and the backward frees them again. glibc serves blocks above its mmap
threshold with ``mmap`` and returns them with ``munmap`` or by trimming the heap, so every
training step pays page faults and the kernel's zeroing of fresh pages for memory it had a
moment before. Measured on unfolded ADMM (admm-pr, 15 untied layers, batch 10 × 2 s, one
thread, forward + backward with the neg-STOI loss, the two settings alternated six times in one
process): 35.7 → 29.2 ms of CPU time per layer at the best repeat, 46.1 → 38.9 ms at the median.

:func:`tune_allocator` raises the mmap threshold and the trim threshold to 1 GiB (and pads heap
growth by 256 MiB), so freed buffers stay in the process and are reused. The cost is memory
that is not handed back to the system before the process ends (up to about the training peak,
which the process reached anyway). ``unfold run`` and ``unfold compare`` call it before
training; set ``UNFOLD_ALLOCATOR=default`` to keep glibc's own settings. On a C library other
than glibc (macOS, musl) it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from dataclasses import dataclass

# mallopt parameter numbers of glibc's <malloc.h>
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3


@dataclass(frozen=True)
class AllocatorSettings:
    """glibc ``mallopt`` values in bytes."""

    mmap_threshold: int = 1 << 30
    trim_threshold: int = 1 << 30
    top_pad: int = 256 << 20


def _glibc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    if not hasattr(libc, "gnu_get_libc_version"):  # musl, macOS: no mallopt of this meaning
        return None
    return libc


def tune_allocator(settings: AllocatorSettings | None = None) -> bool:
    """Apply ``settings`` (default :class:`AllocatorSettings`) to glibc's allocator.

    Returns True when they were applied; False on another C library, when
    ``UNFOLD_ALLOCATOR=default`` is set, or when glibc refused a value.
    """
    if os.environ.get("UNFOLD_ALLOCATOR", "tuned") == "default":
        return False
    libc = _glibc()
    if libc is None:
        return False
    s = settings or AllocatorSettings()
    ok = True
    for param, value in ((_M_MMAP_THRESHOLD, s.mmap_threshold),
                         (_M_TRIM_THRESHOLD, s.trim_threshold), (_M_TOP_PAD, s.top_pad)):
        ok = bool(libc.mallopt(ctypes.c_int(param), ctypes.c_int(value))) and ok
    return ok
