"""Keep large, short-lived buffers out of the heap so that they go back to the system when freed.

glibc serves a request above ``M_MMAP_THRESHOLD`` with its own ``mmap`` and unmaps it on free — but it
raises that threshold each time such a block is freed (up to 32 MiB). After the first 4K image, a
10 MiB response body, its parsed JSON and the decoded image all land in the heap instead, where freed
space is kept: the preview's buffers then add to the response's instead of reusing its memory, and a
4096x4096 generation with a preview peaked at 4.8x the response size above idle. Fixing the threshold
at 1 MiB (which also stops the raising) brings it to ~2.7x (bench/memory.py, docs/benchmarks.md).

Only on glibc (Linux); elsewhere, and when ``MALLOC_MMAP_THRESHOLD_`` is already set, nothing changes.
"""

from __future__ import annotations

import logging
import os
import sys

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number
THRESHOLD_BYTES = 1 << 20


def return_large_buffers() -> bool:
    """Set the fixed mmap threshold; True when it was set."""
    if not sys.platform.startswith("linux") or "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return False
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(M_MMAP_THRESHOLD, THRESHOLD_BYTES))
    except (OSError, AttributeError):  # not glibc (musl, …): its allocator returns memory its own way
        logging.getLogger("imagegen_mcp").debug("mallopt not available; heap left as it is")
        return False
