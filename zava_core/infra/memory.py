"""Giving back to the system what a load freed.

A load decodes hundreds of thousands of documents a batch at a time and keeps a fraction of them in compact
form; glibc keeps the freed heap pages for later instead of returning them, so the process's RSS stays at the
load's high-water mark (~20 MB more than needed after the order book, measured). `malloc_trim(0)` returns the free
pages. Elsewhere (macOS, musl) there is nothing to call and nothing is done.
"""

from __future__ import annotations

import ctypes
import functools
import sys
from collections.abc import Callable


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None


def release_freed_memory() -> None:
    """Return freed heap pages to the system (after a load; a few milliseconds)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
