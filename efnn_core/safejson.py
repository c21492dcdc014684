"""JSON from untrusted files and uploads, bounded before it is parsed.

``json.loads`` on hostile text can raise ``RecursionError`` (deep nesting),
build a 10^400-digit integer that later overflows every ``float()``, or
return ``inf``/``NaN`` (``1e400``, ``NaN``).  :func:`loads` refuses all of
these with a :class:`JSONError` (a ``ValueError``) naming the bound:

* at most ``max_bytes`` bytes (default 1 MiB);
* nesting depth at most ``max_depth`` (default 32), counted *before* parsing;
* every number finite and every integer of at most ``MAX_INT_DIGITS`` digits.

    >>> loads('{"a": [1, 2.5]}')
    {'a': [1, 2.5]}
    >>> depth('[' * 100 + ']' * 100)     # loads() refuses it: nesting depth 100 exceeds the limit of 32
    100
"""

from __future__ import annotations

import json
import math
import re

import numpy as np

MAX_BYTES = 1 << 20
MAX_DEPTH = 32
MAX_INT_DIGITS = 19  # |n| < 10^19: every integer fits an int64 / converts to float exactly enough

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)


class JSONError(ValueError):
    """Text that is not JSON, or JSON beyond the size, depth or number bounds."""


def depth(text: str) -> int:
    """Maximal nesting depth of ``[``/``{`` outside strings (0 for a scalar); linear time, no recursion."""
    bare = _STRING.sub("", text)
    if not bare:
        return 0
    b = np.frombuffer(bare.encode("utf-8", "replace"), dtype=np.uint8)
    step = np.zeros(len(b), dtype=np.int64)
    step[(b == ord("[")) | (b == ord("{"))] = 1
    step[(b == ord("]")) | (b == ord("}"))] = -1
    return int(np.cumsum(step).max(initial=0))


def _const(name):
    raise JSONError(f"contains {name}; only finite numbers are allowed")


def _float(s: str) -> float:
    v = float(s)
    if not math.isfinite(v):
        raise JSONError(f"number {s[:20]}{'...' if len(s) > 20 else ''} overflows a float; "
                        "only finite numbers are allowed")
    return v


def _int(s: str) -> int:
    if len(s.lstrip("-")) > MAX_INT_DIGITS:
        raise JSONError(f"integer with {len(s.lstrip('-'))} digits is out of range "
                        f"(at most {MAX_INT_DIGITS} digits)")
    return int(s)


def loads(text, *, what: str = "JSON", max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH):
    """Parse ``text`` (str or UTF-8 bytes) within the bounds above; raise JSONError otherwise."""
    if isinstance(text, (bytes, bytearray, memoryview)):
        raw = bytes(text)
        if len(raw) > max_bytes:
            raise JSONError(f"{what} is {len(raw)} bytes; at most {max_bytes} are allowed")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise JSONError(f"{what} is not UTF-8 text") from None
    if not isinstance(text, str):
        raise JSONError(f"{what} must be text or bytes, got {type(text).__name__}")
    if len(text) > max_bytes:
        raise JSONError(f"{what} is {len(text)} characters; at most {max_bytes} are allowed")
    dep = depth(text)
    if dep > max_depth:
        raise JSONError(f"{what} nesting depth {dep} exceeds the limit of {max_depth}")
    try:
        return json.loads(text, parse_constant=_const, parse_float=_float, parse_int=_int)
    except JSONError as err:
        raise JSONError(f"{what}: {err}") from None
    except (json.JSONDecodeError, RecursionError, ValueError) as err:
        raise JSONError(f"{what} is not valid JSON: {err}") from None
