"""Server-wide settings of the Streamlit process that are not pages: its garbage collector and a bound
on the page scripts running at once (``RUNS``).

Python's full (generation-2) collection walks every tracked object: with torch, plotly and the shipped models
loaded that is hundreds of thousands, 0.2-0.33 s with the GIL held on a busy 2-core machine (measured in
benchmarks/load.py's L = 40 scenario; 0.05-0.13 s once frozen), during which no session runs
and the event loop (websockets, ``/_stcore/health``) waits. Those objects live as long as the server, so after
the first full run of each page, the objects alive then (its modules, caches, shipped models) are moved to
the permanent generation (``gc.freeze()``, after one last collection): later full collections only walk what
sessions create. Objects frozen are never collected as cycles; this is meant for what stays loaded.
"""

from __future__ import annotations

import gc
import os
import threading

_seen: set[str] = set()
_lock = threading.Lock()


def freeze_after_first_run(page: str) -> bool:
    """Call at the end of a page's full run; the first time for ``page``, collect and freeze. True if it did."""
    with _lock:
        if page in _seen:
            return False
        _seen.add(page)
        gc.collect()
        gc.freeze()
        return True


# At most this many page scripts run at once (the others wait their turn, in arrival order): thirty
# sessions' first renders at once otherwise share the one GIL with the event loop (websockets,
# ``/_stcore/health``), which then waits its turn behind all of them (benchmarks/load.py, L = 40 scenario).
RUNS = threading.BoundedSemaphore(max(1, int(os.environ.get("EFNN_CONCURRENT_RUNS", "3"))))
