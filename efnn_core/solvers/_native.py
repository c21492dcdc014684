"""The compiled Chebyshev recursion of the KPM solver (private).

``_chebyshev.c`` is built on first use with the machine's C compiler, into the
same private per-user cache folder as the network kernels (see
``efnn_core.nets._native``: keyed by a hash of source, compiler, flags and CPU,
written under a temporary name and renamed), and called through ctypes, which
releases the GIL, so threads over probe blocks run in parallel.  Without a
compiler, with ``EFNN_NATIVE=0`` or if the build fails, ``library()`` is None and
the solver uses its numpy stencil (same numbers up to rounding, ~10x slower).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import threading
import warnings
from pathlib import Path

SOURCE = Path(__file__).with_name("_chebyshev.c")
FLAGS = ["-O3", "-march=native", "-std=gnu11", "-shared", "-fPIC"]
_lock = threading.Lock()
_state: dict = {}


def _compile() -> ctypes.CDLL:
    from ..nets._native import _cpu_fingerprint, _folder

    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not cc:
        raise RuntimeError("no C compiler (cc, gcc or $CC)")
    key = hashlib.sha256(b"\0".join(x.encode() if isinstance(x, str) else x for x in
                                    (SOURCE.read_bytes(), cc, " ".join(FLAGS), _cpu_fingerprint(),
                                     platform.machine()))).hexdigest()[:20]
    lib_path = _folder() / f"chebyshev-{key}.so"
    if not lib_path.exists():
        fd, tmp = tempfile.mkstemp(suffix=".so", dir=lib_path.parent)
        os.close(fd)
        try:
            res = subprocess.run([cc, *FLAGS, "-o", tmp, str(SOURCE)], capture_output=True, text=True, timeout=120)
            if res.returncode:
                raise RuntimeError(f"{cc} failed: {res.stderr.strip()[:300]}")
            os.replace(tmp, lib_path)
        finally:
            Path(tmp).unlink(missing_ok=True)
    lib = ctypes.CDLL(str(lib_path))
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
