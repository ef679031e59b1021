"""The process's garbage-collector setting, owned by core (plugins leave the collector alone).

A started hub holds a large, long-lived heap: every module, the plugins, settings, pools. The
cyclic collector's full collections walk all of it, again and again while a library sync
decodes and maps pages of thousands of short-lived objects; measured on a 30,000-item Plex
walk, that was about a quarter of the reader's CPU time. :func:`freeze_startup_heap` moves
what exists once the hub has started into the collector's permanent generation (``gc.freeze``),
so later collections only walk what was made afterwards. Reference counting still frees
everything as before; only cycles among the frozen objects would never be collected, and the
startup heap lives as long as the process anyway.
"""

from __future__ import annotations

import gc

_frozen = False


def freeze_startup_heap() -> bool:
    """Collect, then freeze the heap as it is; once per process. Returns whether it froze."""
    global _frozen
    if _frozen:
        return False
    _frozen = True
    gc.collect()
    gc.freeze()
    return True
