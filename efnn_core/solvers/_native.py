"""The compiled Chebyshev recursion of the KPM solver (private).

``_chebyshev.c`` is built on first use with the machine's C compiler, into the
same private per-user cache folder as the network kernels (``efnn_core._cbuild``:
keyed by a hash of source, compiler, flags and CPU, written under a temporary
name and renamed), and called through ctypes, which
releases the GIL, so threads over probe blocks run in parallel.  Without a
compiler, with ``EFNN_NATIVE=0`` or if the build fails, ``library()`` is None and
the solver uses its numpy stencil (same numbers up to rounding, ~10x slower).
"""

from __future__ import annotations

import ctypes
import os
import threading
import warnings
from pathlib import Path

from .. import _cbuild

SOURCE = Path(__file__).with_name("_chebyshev.c")
_lock = threading.Lock()
_state: dict = {}


def _compile() -> ctypes.CDLL:
    lib = _cbuild.build(SOURCE, "chebyshev")
    lib.cheb_moments.restype = None
    lib.cheb_moments.argtypes = [ctypes.c_int] * 3 + [ctypes.c_void_p] * 3 + [ctypes.c_double] + [ctypes.c_void_p] * 4
    return lib


def library() -> ctypes.CDLL | None:
    """The compiled kernel, or None where it is disabled or cannot be built (warned once)."""
    with _lock:
        if "lib" not in _state:
            _state["lib"] = None
            if os.environ.get("EFNN_NATIVE", "1") != "0":
                try:
                    _state["lib"] = _compile()
                except Exception as err:  # noqa: BLE001 - any failure: numpy fallback, say why once
                    warnings.warn(f"efnn_core: compiled KPM kernel unavailable ({err}); using numpy",
                                  RuntimeWarning, stacklevel=3)
    return _state["lib"]
