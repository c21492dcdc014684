"""A spin configuration as a short, exact text: a preset with its options plus a list of edits,
or an encoded array (uploads).  The text goes into the URL, so a shared link rebuilds the very
same numbers.  No Streamlit here.

Edits (joined by ``.``), sites as a base64url bitmask over the row-major sites:

* ``f~MASK`` flip the sites (s -> -s; binary chains: 0 <-> 1),
* ``dT,P~MASK`` point the sites along polar angle T and azimuth P (integer degrees),
* ``vX~MASK`` set chain sites to the value X (continuous 3-spin),
* ``rSEED`` / ``RSEED`` rotate every spin by the Haar-random rotation of SEED (R: times -1),
* ``F`` flip every spin.

An array (``arr``) is zlib-compressed float64 bytes in base64url: exact, about 25 kB at L = 40.
"""

from __future__ import annotations

import base64
import re
import zlib

import numpy as np

from app import _presets

MAX_EDITS = 200
MAX_ARRAY_TEXT = 200_000
_OP = re.compile(r"^(f|d-?\d{1,3},-?\d{1,3}|v-?[0-9.]{1,8})~([A-Za-z0-9_-]{1,400})$|^([rR])(\d{1,7})$|^F$")


def mask_of(indices, n: int) -> str:
    bits = np.zeros(n, dtype=bool)
    bits[np.asarray(list(indices), dtype=int)] = True
    return base64.urlsafe_b64encode(np.packbits(bits).tobytes()).decode().rstrip("=")


def indices_of(mask: str, n: int) -> np.ndarray:
    raw = base64.urlsafe_b64decode(mask + "=" * (-len(mask) % 4))
    bits = np.unpackbits(np.frombuffer(raw, dtype=np.uint8))
    if len(raw) != (n + 7) // 8 or bits[n:].any():
        raise ValueError(f"a site mask does not fit a lattice of {n} sites")
    return np.flatnonzero(bits[:n])


def preset(view: str, values: str, name: str, size: int, seed: int, *, qx=1, qy=0, radius=0.33,
           noise=0.0) -> np.ndarray:
    """The preset configuration: vector (L, L, 3), scalar (L, L) of +-1 or chain (sites,)."""
    kw = dict(q=(int(qx), int(qy)), radius=float(radius) * size, noise=float(noise))
    if view == "chain":
        return _presets.chain(name, size, seed, kind=values or "binary", **kw)
    make = _presets.ising if view == "scalar" else _presets.heisenberg
    return make(name, size, seed, **kw)


def presets_for(view: str) -> tuple:
    return _presets.CHAIN_PRESETS if view == "chain" else _presets.PRESETS


def apply(spins: np.ndarray, edits: list[str], *, view: str, values: str = "") -> np.ndarray:
    """``spins`` with each edit applied in order (ValueError naming a malformed edit)."""
    s = np.array(spins, dtype=np.float64, copy=True)
    if len(edits) > MAX_EDITS:
        raise ValueError(f"{len(edits)} edits; at most {MAX_EDITS} are kept in a link")
    L = s.shape[0]
    n = L if view == "chain" else L * L
    for op in edits:
        m = _OP.match(op)
        if m is None:
            raise ValueError(f"edit {op[:40]!r} is not understood")
        if op == "F":
            s = 1.0 - s if values == "binary" else -s
            continue
        if m.group(3):
            if view != "vector":
                raise ValueError("a rotation applies to vector spins only")
            s = _presets.rotate(s, _presets.random_rotation(int(m.group(4)), improper=m.group(3) == "R"))
            continue
        idx = indices_of(m.group(2), n)
        kind = m.group(1)
        if view == "chain":
            if kind.startswith("v"):
                val = float(kind[1:])
                if not -1.0 <= val <= 1.0 or values != "continuous":
                    raise ValueError(f"edit {op[:40]!r}: a value in [-1, 1] needs continuous spins")
                s = _presets.set_value(s, idx, val)
            elif kind == "f":
                s = _presets.toggle(s, idx, kind=values or "binary")
            else:
                raise ValueError(f"edit {op[:40]!r} does not apply to a chain")
            continue
        sites = [divmod(int(i), L) for i in idx]
        if kind == "f":
            s = _presets.flip(s, sites)
        elif kind.startswith("d") and view == "vector":
            th, ph = (int(x) for x in kind[1:].split(","))
            if not (0 <= th <= 180 and 0 <= ph < 360):
                raise ValueError(f"edit {op[:40]!r}: angles must be 0..180 and 0..359 degrees")
            s = _presets.set_direction(s, sites, np.radians(th), np.radians(ph))
        else:
            raise ValueError(f"edit {op[:40]!r} does not apply to these spins")
    return s


def encode_array(spins: np.ndarray) -> str:
    raw = np.ascontiguousarray(spins, dtype="<f8")
    head = ",".join(map(str, raw.shape)).encode() + b";"
    return base64.urlsafe_b64encode(zlib.compress(head + raw.tobytes(), 9)).decode().rstrip("=")


def decode_array(text: str) -> np.ndarray:
    """The array of ``encode_array`` (ValueError when malformed or larger than a 64x64 lattice)."""
    if len(text) > MAX_ARRAY_TEXT:
        raise ValueError("the encoded configuration is too long")
    try:
        raw = zlib.decompressobj().decompress(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)), 200_000)
        head, body = raw.split(b";", 1)
        shape = tuple(int(x) for x in head.decode().split(","))
    except (ValueError, zlib.error, UnicodeDecodeError):
        raise ValueError("the encoded configuration is not readable") from None
    if not 1 <= len(shape) <= 3 or int(np.prod(shape)) * 8 != len(body):
        raise ValueError("the encoded configuration has an inconsistent shape")
    arr = np.frombuffer(body, dtype="<f8").reshape(shape).astype(np.float64)
    if not np.isfinite(arr).all():
        raise ValueError("the encoded configuration holds NaN or infinite values")
    return arr
