"""Atomic file writes: a reader (or a resumed run) never sees half a file.

``write_atomic(path, content)`` writes ``content`` (bytes, or a callable given the open binary file)
into a hidden temporary sibling named after this process, then renames it over ``path``
(``os.replace`` is atomic on POSIX and Windows); on any error the temporary file is removed and
``path`` keeps its old content.  Every dataset shard, manifest, checkpoint, sweep result and Monte
Carlo checkpoint of the library is written this way.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.bin"
    >>> write_atomic(p, b"abc"); p.read_bytes()
    b'abc'
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def write_atomic(path: str | os.PathLike, content: bytes | Callable[[BinaryIO], object]) -> None:
    """Replace ``path`` by ``content`` (bytes, or ``content(file)`` writing into it) in one rename."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            if callable(content):
                content(fh)
            else:
                fh.write(content)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
