"""Build and load the library's small C kernels (private): one cache, one compile path.

``build(source, stem)`` compiles ``source`` with the machine's C compiler (``$CC``, else ``cc``
or ``gcc``; ``-O3 -march=native``) into a per-user cache folder and loads it with ctypes.  Used by
``nets._native`` (periodic convolutions) and ``solvers._native`` (KPM's Chebyshev recursion).

Cache: ``$EFNN_CACHE_DIR``, else ``$XDG_CACHE_HOME/efnn_core`` or ``~/.cache/efnn_core``; a per-user
temporary folder if that is not writable.  Either must belong to this user and be writable by no
one else, or it is not used.  The file name holds a hash of the source, the compiler, its flags and
this CPU's model and feature flags, so a shared home folder never loads a library built for another
processor; it is compiled under a temporary name and renamed, so concurrent processes never load a
half-written file.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path

FLAGS = ["-O3", "-march=native", "-std=gnu11", "-shared", "-fPIC"]


def cpu_fingerprint() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        return "\n".join(sorted({ln for ln in lines if ln.split(":")[0].strip() in ("model name", "flags",
                                                                                  "Features", "CPU part")}))
    except OSError:
        return platform.processor() or platform.machine()


def _cache_dir() -> Path:
    if os.environ.get("EFNN_CACHE_DIR"):
        return Path(os.environ["EFNN_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "efnn_core"


def _private(folder: Path) -> bool:
    """Owned by this user and writable by no one else: a library found there was put there by us (a
    shared folder such as /tmp must never hand us someone else's code to load)."""
    if not hasattr(os, "getuid"):
        return os.access(folder, os.W_OK)
    st = folder.stat()
    return st.st_uid == os.getuid() and not st.st_mode & 0o022 and os.access(folder, os.W_OK)


def folder() -> Path:
    """The cache folder, else a per-user temporary one: the first that can be created and is private."""
    user = getattr(os, "getuid", lambda: "user")()
    for f in (_cache_dir(), Path(tempfile.gettempdir()) / f"efnn_core-{user}"):
        try:
            f.mkdir(mode=0o700, parents=True, exist_ok=True)
            if _private(f):
                return f
        except OSError:
            continue
    raise RuntimeError("no private, writable cache folder for the compiled kernel")


def build(source: Path, stem: str) -> ctypes.CDLL:
    """The compiled ``source`` as a loaded library (compiled once per source, compiler and CPU).

    Raises RuntimeError (no compiler, compile error) or OSError (load failure); callers fall back.
    """
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not cc:
        raise RuntimeError("no C compiler (cc, gcc or $CC) on this machine")
    key = hashlib.sha256(b"\0".join([source.read_bytes(), cc.encode(), " ".join(FLAGS).encode(),
                                     cpu_fingerprint().encode(), platform.machine().encode()])).hexdigest()
    target = folder() / f"{stem}-{key[:20]}.so"
    if not target.exists():  # compile to a temporary name, then rename: never a half-written library
        fd, tmp = tempfile.mkstemp(suffix=".so", dir=target.parent)
        os.close(fd)
        try:
            done = subprocess.run([cc, *FLAGS, "-o", tmp, str(source)], capture_output=True, text=True, timeout=120)
            if done.returncode != 0:
                raise RuntimeError(f"{cc} failed: {done.stderr.strip()[:500]}")
            os.replace(tmp, target)
        finally:
            Path(tmp).unlink(missing_ok=True)
    return ctypes.CDLL(str(target))
