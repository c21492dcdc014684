"""Reading user files safely: spin configurations and model checkpoints.

Nothing here unpickles: ``.npy`` goes through ``np.load(allow_pickle=False)``,
JSON through ``json.loads``, CSV through ``np.loadtxt``; checkpoints through
``efnn_core.checkpoint.load_bytes`` (safetensors + JSON, validated).  Every
failure is a ``ValueError`` whose message can be shown to the user as it is.

Accepted spin files (L x L lattice, row-major sites, 3 components s_x, s_y, s_z):

* ``.npy``: a float array of shape (L, L, 3) (or (1, L, L, 3)); Ising: (L, L) of +-1;
* ``.json``: a nested list of that shape, or ``{"spins": [...]}``, or
  ``{"theta": [[...]], "phi": [[...]]}`` with angles in radians;
* ``.csv``: L*L rows "sx,sy,sz" (sites row-major, an optional header line), or
  L rows of L values +-1 for Ising.
"""

from __future__ import annotations

import io
import json

import numpy as np

from efnn_core.systems import angles_to_spins

MAX_SPIN_BYTES = 2_000_000


class NonUnitSpins(ValueError):
    """Spins of the right shape whose lengths are not 1; ``normalised`` holds s / |s|."""

    def __init__(self, message: str, normalised: np.ndarray):
        super().__init__(message)
        self.normalised = normalised


def _array_from(name: str, data: bytes) -> tuple[np.ndarray, bool]:
    """The numbers in the file, and whether it is a table of rows (CSV/JSON) that may list sites."""
    if len(data) > MAX_SPIN_BYTES:
        raise ValueError(f"{name} is {len(data) / 1e6:.1f} MB; spin files are at most {MAX_SPIN_BYTES / 1e6:.0f} MB "
                         f"(a 40×40 lattice needs about 40 kB)")
    if len(data) == 0:
        raise ValueError(f"{name} is empty")
    suffix = name.lower().rsplit(".", 1)[-1] if "." in name else ""
    if suffix == "npy":
        try:
            arr = np.load(io.BytesIO(data), allow_pickle=False)
        except ValueError as err:
            if "allow_pickle" in str(err) or "Object arrays" in str(err):
                raise ValueError(f"{name} holds Python objects (a pickle); only plain numeric .npy arrays are "
                                 "accepted, and pickles are never loaded") from None
            raise ValueError(f"{name} is not a valid .npy file: {err}") from None
        except Exception as err:  # noqa: BLE001 - any parser failure is the user's file, not our bug
            raise ValueError(f"{name} is not a valid .npy file ({type(err).__name__}: {err})") from None
        if isinstance(arr, np.lib.npyio.NpzFile):  # pragma: no cover - np.load of .npz content
            raise ValueError(f"{name} is an .npz archive; save a single array with np.save")
        if arr.dtype.kind not in "biuf":
            raise ValueError(f"{name} has dtype {arr.dtype}; a numeric (float or int) array is needed")
        return arr.astype(np.float64), False
    if suffix == "json":
        from efnn_core import safejson  # bounded: nesting depth, size, finite numbers (no RecursionError/OverflowError)

        obj = safejson.loads(data, what=name, max_bytes=MAX_SPIN_BYTES)
        if isinstance(obj, dict):
            if "spins" in obj:
                obj = obj["spins"]
            elif "theta" in obj and "phi" in obj:
                th, ph = _numeric(obj["theta"], name + " theta"), _numeric(obj["phi"], name + " phi")
                if th.shape != ph.shape or th.ndim != 2:
                    raise ValueError(f"{name}: theta and phi must be two L×L arrays of the same shape, got "
                                     f"{th.shape} and {ph.shape}")
                return angles_to_spins(th, ph), False
            else:
                raise ValueError(f"{name}: a JSON object needs a 'spins' key or 'theta' and 'phi' keys; "
                                 f"found {sorted(obj)[:5]}")
        return _numeric(obj, name), True
    if suffix in ("csv", "txt"):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError(f"{name} is not UTF-8 text") from None
        lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
        if lines and any(c.isalpha() and c not in "eEnNaAiIfF" for c in lines[0]):
            lines = lines[1:]  # header such as "sx,sy,sz"
        try:
            arr = np.loadtxt(io.StringIO("\n".join(lines)), delimiter=",", ndmin=2, dtype=np.float64)
        except ValueError as err:
            raise ValueError(f"{name}: every row must be comma-separated numbers ({err})") from None
        return arr, True
    raise ValueError(f"{name}: unsupported file type; upload .npy, .json or .csv")


def _numeric(obj, what: str) -> np.ndarray:
    try:
        arr = np.asarray(obj, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a rectangular array of numbers (ragged rows or text entries found)") from None
    return arr


def parse_spins(name: str, data: bytes, *, system, view: str, max_L: int = 40, min_L: int = 4) -> np.ndarray:
    """A validated configuration of ``system`` (its ``validate``: the library's one spin validator)
    from an uploaded file; ``view`` ("vector", "scalar", "chain") says the expected shape.

    Raises:
        NonUnitSpins: vector spins of the right shape, finite, but some |s| != 1 (``.normalised``
            offers s/|s|).
        ValueError: anything else, with a message naming the problem and the fix.
    """
    arr, table = _array_from(name, data)
    if view == "chain":
        arr = np.squeeze(arr)
        want = system.spin_shape(None)
        if arr.shape != tuple(want):
            raise ValueError(f"{name}: a configuration of this system is {want[0]} numbers, got shape {arr.shape}")
        return _validated(name, system, arr)
    if view == "scalar":
        if arr.ndim == 3 and arr.shape[0] == 1:
            arr = arr[0]
        if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
            raise ValueError(f"{name}: spins must be an L×L array of +1/−1, got shape {arr.shape}")
    else:
        if arr.ndim == 4 and arr.shape[0] == 1:
            arr = arr[0]
        if table and arr.ndim == 2 and arr.shape[1] == 3:     # CSV: L*L rows of (sx, sy, sz)
            L = int(round(np.sqrt(arr.shape[0])))
            if L * L != arr.shape[0]:
                raise ValueError(f"{name}: {arr.shape[0]} rows of (sx, sy, sz) is not a square number of sites")
            arr = arr.reshape(L, L, 3)
        if arr.ndim != 3 or arr.shape[2] != 3 or arr.shape[0] != arr.shape[1]:
            raise ValueError(f"{name}: spins must have shape (L, L, 3) (an L×L lattice of 3-vectors), got {arr.shape}")
    L = arr.shape[0]
    if not min_L <= L <= max_L:
        raise ValueError(f"{name}: lattice size L={L} is outside {min_L}…{max_L} allowed here")
    if view == "vector" and np.isfinite(arr).all():
        big = np.abs(arr).max()
        if big > 1e6:  # |s|^2 would overflow or swamp the other components: not a spin file
            raise ValueError(f"{name}: a component of {big:.3g} is far from a unit vector's (at most 1e6 is accepted)")
        norms = np.linalg.norm(arr, axis=-1)
        if (norms < 1e-9).any():
            raise ValueError(f"{name}: {int((norms < 1e-9).sum())} spin(s) are zero vectors and have no direction")
        try:
            system.validate(arr)
        except ValueError as err:
            raise NonUnitSpins(f"{name}: {err}", arr / norms[..., None]) from None
        return arr / norms[..., None]  # remove round-off
    return _validated(name, system, arr)


def _validated(name: str, system, arr: np.ndarray) -> np.ndarray:
    try:
        return np.asarray(system.validate(arr), dtype=np.float64)
    except ValueError as err:
        raise ValueError(f"{name}: {err}") from None


def spins_to_json(spins: np.ndarray) -> bytes:
    return json.dumps({"spins": np.round(spins, 10).tolist()}).encode()


def spins_to_npy(spins: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.asarray(spins, dtype=np.float64), allow_pickle=False)
    return buf.getvalue()


def load_checkpoint(weights_name: str, weights: bytes, meta_name: str, meta: bytes):
    """(model, metadata) from an uploaded safetensors + JSON pair, via the library's validating loader."""
    from efnn_core import checkpoint

    if not weights_name.lower().endswith(".safetensors"):
        raise ValueError(f"{weights_name}: the weights must be a .safetensors file (pickled .pt/.pth files are "
                         "never loaded)")
    if not meta_name.lower().endswith(".json"):
        raise ValueError(f"{meta_name}: the metadata must be the checkpoint's .json file")
    try:
        return checkpoint.load_bytes(weights, meta)
    except checkpoint.CheckpointError as err:
        raise ValueError(f"checkpoint rejected: {err}") from None
