"""Checkpoints: safetensors weights + JSON metadata, validated on load, never unpickled.

A checkpoint is a pair of files sharing a stem:

* ``<stem>.safetensors`` - the tensors (the net's ``state_dict``, or the
  arrays of an ``EffectiveModel``), raw little-endian numbers behind a JSON
  header: reading it cannot execute code;
* ``<stem>.json`` - what the tensors are: format and schema version, the
  library version, the model kind and its config (architecture and
  hyperparameters, ``asdict(model.config)``), the output standardization of a
  ``training.Standardized`` model, the parameter count, every tensor's name,
  shape and dtype, the sha256 of the weights file, the physical system and
  its parameters, the fingerprints (manifest sha256s) of the datasets it was
  trained and tested on, its metrics and training settings.

``load`` trusts neither file.  It refuses, with a ``CheckpointError`` naming
the problem, a missing file, oversized files, non-JSON or wrong-schema
metadata, an unknown architecture or family, hyperparameters outside sane
ranges (a hostile file must not make us allocate gigabytes), a weights file
that is not safetensors (a pickle or ``torch.save`` archive renamed is
recognised and named), a header that does not parse or whose offsets do not
tile the file, weights that do not match the metadata's sha256, tensor names,
shapes or dtypes that differ from the rebuilt model's ``state_dict``, and
non-finite values.  The model is first built on torch's ``meta`` device (no
memory) to compare shapes before anything real is allocated.

    from efnn_core import checkpoint
    checkpoint.save("runs/efnn_c3", trainer.model, system="double_exchange",
                    dataset={"train": "de_L10_train", "test": "de_L10_test"}, metrics=trainer.result)
    model, meta = checkpoint.load("runs/efnn_c3")   # model: Standardized(LatticeEFNN), eval mode
    meta["model"]["config"]                        # {"arch": "efnn", "channels": 3, ..., "family": "lattice"}
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import json
import math
import os
import re
import struct
from pathlib import Path

import numpy as np
import torch

from . import __version__, safejson
from .atomic import write_atomic
from .nets import ARCHITECTURES, FAMILIES

__all__ = [
    "CheckpointError",
    "save",
    "load",
    "load_bytes",
    "read_metadata",
    "dataset_fingerprint",
    "architecture",
    "paths",
    "FORMAT",
    "SCHEMA_VERSION",
]

FORMAT = "efnn-checkpoint"
SCHEMA_VERSION = 1
MAX_JSON_BYTES = 1 << 20  # metadata file
MAX_HEADER_BYTES = 1 << 20  # safetensors JSON header
MAX_WEIGHT_BYTES = 1 << 30  # weights file (1 GiB)
MAX_PARAMETERS = 50_000_000  # the paper's nets have < 10^4; this only stops absurd files
MAX_TENSORS = 10_000
MAX_JSON_DEPTH = 16  # metadata nesting (ours is at most 5 deep)
# Sane ranges of the hyperparameters the nets contract names; any other integer
# hyperparameter must lie in [-INT_LIMIT, INT_LIMIT].
HP_LIMITS = {
    "channels": (1, 1024),
    "layers": (0, 256),
    "width": (1, 65536),
    "kernel": (1, 63),
    "sites": (1, 100_000),
}
INT_LIMIT = 1_000_000
_DTYPES = {
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "F32": torch.float32,
    "F64": torch.float64,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}
_DTYPE_NAMES = {v: k for k, v in _DTYPES.items()}
_FLOAT = ("F16", "BF16", "F32", "F64")


class CheckpointError(ValueError):
    """A checkpoint is missing, malformed, inconsistent or not one of ours."""


# --------------------------------------------------------------------------- helpers
def paths(path: str | os.PathLike) -> tuple[Path, Path]:
    """``(weights, metadata)`` paths of a checkpoint stem (a ``.json``/``.safetensors`` suffix is dropped)."""
    p = Path(path)
    if p.suffix in (".json", ".safetensors"):
        p = p.with_suffix("")
    return p.with_name(p.name + ".safetensors"), p.with_name(p.name + ".json")


def _jsonable(x):
    """Convert to plain JSON types: dataclasses, numpy scalars/arrays, tuples, Paths; NaN/inf -> None."""
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return _jsonable(dataclasses.asdict(x))
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return float(x) if math.isfinite(x) else None
    if isinstance(x, (str, int, bool)) or x is None:
        return x
    if isinstance(x, os.PathLike):
        return str(x)
    if isinstance(x, torch.Tensor) and x.numel() == 1:
        return _jsonable(x.item())
    raise CheckpointError(f"cannot store {type(x).__name__} value {x!r:.80} in checkpoint metadata")


def dataset_fingerprint(name: str, data_dir=None) -> dict:
    """What identifies dataset ``name``: its manifest's sha256 of spins and energies, system, L, count.

    Generation time and hardware are left out, so a bit-identical regeneration matches.
    """
    from . import data

    m = data.manifest(name, data_dir)
    fp = {
        "name": name,
        "system": m.get("system"),
        "count": m.get("count"),
        "sha256_spins": m.get("sha256_spins"),
        "sha256_energies": m.get("sha256_energies"),
    }
    if "L" in m:
        fp["L"] = m["L"]
    return fp


def _datasets(dataset) -> dict | None:
    if dataset is None:
        return None
    if isinstance(dataset, str):
        dataset = {"train": dataset}
    if isinstance(dataset, (list, tuple)):
        dataset = {f"set{i}": d for i, d in enumerate(dataset)}
    if not isinstance(dataset, dict):
        raise CheckpointError(
            f"dataset must be a name, a list of names or a dict role -> name; got {dataset!r}"
        )
    return {
        role: dataset_fingerprint(d) if isinstance(d, str) else _jsonable(d) for role, d in dataset.items()
    }


def _sha256(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


# --------------------------------------------------------------------------- save
def save(
    path: str | os.PathLike,
    model,
    *,
    system: str | None = None,
    system_params: dict | None = None,
    dataset=None,
    metrics: dict | None = None,
    training=None,
    extra: dict | None = None,
) -> dict:
    """Write ``<path>.safetensors`` and ``<path>.json``; return the metadata dict written.

    Args:
        path: checkpoint stem (``runs/efnn``); a ``.json``/``.safetensors`` suffix is dropped.
        model: a net from ``efnn_core.nets`` (has ``config``), a ``training.Standardized``
            wrapping one, or an ``EffectiveModel`` (``to_dict``/``from_dict``).
        system: system name ("double_exchange", "three_spin_binary", ...); default: the
            training dataset's.
        system_params: its parameters (``system.params()``); default: the dataset manifest's.
        dataset: a dataset name (the training set), or a dict role -> name (``{"train": ..,
            "test": ..}``) or role -> fingerprint dict; names are fingerprinted from ``data/``.
        metrics: e.g. ``metrics.evaluate(...)`` or ``Trainer.result`` (non-finite -> null).
        training: a ``TrainConfig`` or dict of training settings.
        extra: any further JSON-able information.
    """
    from .training import Standardized

    wpath, jpath = paths(path)
    datasets = _datasets(dataset)
    if (system is None or system_params is None) and datasets:
        first = next(iter(datasets.values()))
        if isinstance(first, dict) and first.get("name"):
            from . import data

            try:
                m = data.manifest(first["name"])
                system = system or m.get("system")
                system_params = system_params if system_params is not None else m.get("params")
            except ValueError:
                pass
    meta = {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "library_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    if isinstance(model, torch.nn.Module):
        output = model.output() if isinstance(model, Standardized) else None
        net = model.net if isinstance(model, Standardized) else model
        cfg = getattr(net, "config", None)
        if cfg is None or not dataclasses.is_dataclass(cfg):
            raise CheckpointError(
                f"{type(net).__name__} has no dataclass `config`; only efnn_core.nets "
                f"models (and EffectiveModel) can be checkpointed"
            )
        tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in net.state_dict().items()}
        from safetensors.torch import save as st_save

        blob = st_save(tensors, metadata={"format": "pt"})
        nparams = (
            int(net.num_parameters())
            if hasattr(net, "num_parameters")
            else sum(p.numel() for p in net.parameters())
        )
        meta["kind"] = "torch"
        meta["model"] = {
            "class": type(net).__name__,
            "config": _jsonable(cfg),
            "num_parameters": nparams,
            "output": output,
        }
        listing = {k: {"shape": list(v.shape), "dtype": _DTYPE_NAMES[v.dtype]} for k, v in tensors.items()}
    elif hasattr(model, "to_dict") and hasattr(type(model), "from_dict"):
        d = model.to_dict()
        arrays = {k: np.ascontiguousarray(v) for k, v in d.items() if isinstance(v, np.ndarray)}
        params = {k: v for k, v in d.items() if k not in arrays}
        from safetensors.numpy import save as st_save_np

        blob = st_save_np(arrays, metadata={"format": "np"})
        meta["kind"] = "effective"
        meta["model"] = {
            "class": type(model).__name__,
            "params": _jsonable(params),
            "num_parameters": int(sum(a.size for a in arrays.values())),
        }
        listing = {
            k: {"shape": list(a.shape), "dtype": _DTYPE_NAMES[torch.from_numpy(a).dtype]}
            for k, a in arrays.items()
        }
    else:
        raise CheckpointError(
            f"cannot checkpoint a {type(model).__name__}: expected an efnn_core.nets model, "
            f"a Standardized one or an EffectiveModel"
        )
    meta.update(
        tensors=listing,
        weights_sha256=_sha256(blob),
        system=system,
        system_params=_jsonable(system_params),
        dataset=datasets,
        metrics=_jsonable(metrics),
        training=_jsonable(training.to_dict() if hasattr(training, "to_dict") else training),
        extra=_jsonable(extra),
    )
    text = json.dumps(meta, indent=1, allow_nan=False) + "\n"
    # keep number lists (shapes) on one line: [3, 1, 5, 5]
    text = re.sub(r"\[\n\s*([-\d.e+, \n]*?)\n\s*\]", lambda m: "[" + " ".join(m.group(1).split()) + "]", text)
    wpath.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(wpath, blob)
    write_atomic(jpath, text.encode())
    return meta


def architecture(meta: dict) -> dict:
    """What a checkpoint's model is, from its one stored configuration: ``{"arch", "family", **hparams}``.

    Networks: ``model.config`` (``arch`` in ``nets.ARCHITECTURES``, ``family`` "lattice"/"dense",
    their hyperparameters); effective models: arch and family ``"effective"`` plus ``model.params``.
    """
    model = meta.get("model") or {}
    if meta.get("kind") == "effective":
        return {"arch": "effective", "family": "effective", **(model.get("params") or {})}
    cfg = dict(model.get("config") or {})
    if "arch" not in cfg or "family" not in cfg:
        raise CheckpointError("metadata: model.config has no arch/family; not an efnn_core network checkpoint")
    return cfg


# --------------------------------------------------------------------------- validation
def _parse_meta(meta: bytes | str | dict) -> dict:
    if isinstance(meta, dict):
        return meta
    if isinstance(meta, bytes):
        if len(meta) > MAX_JSON_BYTES:
            raise CheckpointError(f"metadata is {len(meta)} bytes, more than the {MAX_JSON_BYTES} allowed")
        try:
            meta = meta.decode("utf-8")
        except UnicodeDecodeError:
            raise CheckpointError("metadata is not UTF-8 text (is it the .json file?)") from None
    if len(meta) > MAX_JSON_BYTES:
        raise CheckpointError(f"metadata is {len(meta)} characters, more than the {MAX_JSON_BYTES} allowed")
    try:  # bounded: size, nesting depth, finite numbers of sane magnitude
        d = safejson.loads(meta, what="metadata", max_bytes=MAX_JSON_BYTES, max_depth=MAX_JSON_DEPTH)
    except safejson.JSONError as err:
        raise CheckpointError(str(err)) from None
    if not isinstance(d, dict):
        raise CheckpointError(f"metadata must be a JSON object, got {type(d).__name__}")
    return d


def _require(d: dict, key: str, types, where: str):
    types = types if isinstance(types, tuple) else (types,)
    if key not in d:
        raise CheckpointError(f"metadata: missing key {where}{key!r}")
    v = d[key]
    if not isinstance(v, types) or (isinstance(v, bool) and bool not in types):
        names = "/".join(t.__name__ for t in types)
        raise CheckpointError(f"metadata: {where}{key!r} must be {names}, got {type(v).__name__} {v!r:.60}")
    return v


def _check_meta(d: dict) -> None:
    fmt = d.get("format")
    if fmt != FORMAT:
        raise CheckpointError(
            f"metadata: format is {fmt!r}, expected {FORMAT!r}; not an efnn_core checkpoint"
        )
    ver = _require(d, "schema_version", int, "")
    if ver > SCHEMA_VERSION:
        raise CheckpointError(
            f"checkpoint schema version {ver} is newer than this library's "
            f"({SCHEMA_VERSION}); upgrade efnn_core"
        )
    if ver < 1:
        raise CheckpointError(f"checkpoint schema version {ver} is invalid")
    _require(d, "library_version", str, "")
    kind = _require(d, "kind", str, "")
    if kind not in ("torch", "effective"):
        raise CheckpointError(f"metadata: unknown model kind {kind!r}; expected 'torch' or 'effective'")
    model = _require(d, "model", dict, "")
    _require(model, "num_parameters", int, "model.")
    if kind == "torch":
        cfg = _require(model, "config", dict, "model.")
        _check_config(cfg)
        out = model.get("output")
        if out is not None:
            if not isinstance(out, dict) or set(out) != {"scale", "offset_per_site"}:
                raise CheckpointError(
                    f"metadata: model.output must be null or {{scale, offset_per_site}}; got {out!r:.80}"
                )
            for k, v in out.items():
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                    raise CheckpointError(f"metadata: model.output.{k} must be a finite number, got {v!r}")
            if not out["scale"] > 0:
                raise CheckpointError(f"metadata: model.output.scale must be > 0, got {out['scale']}")
    else:
        _require(model, "params", dict, "model.")
    tensors = _require(d, "tensors", dict, "")
    if len(tensors) > MAX_TENSORS:
        raise CheckpointError(f"metadata lists {len(tensors)} tensors; at most {MAX_TENSORS} allowed")
    total = 0
    for name, t in tensors.items():
        if not isinstance(t, dict):
            raise CheckpointError(f"metadata: tensors[{name!r}] must be an object with shape and dtype")
        shape = _require(t, "shape", list, f"tensors[{name!r}].")
        if not all(
            isinstance(s, int) and not isinstance(s, bool) and 0 <= s <= MAX_PARAMETERS for s in shape
        ):
            raise CheckpointError(f"metadata: tensors[{name!r}].shape {shape!r:.80} is not a list of sizes")
        if _require(t, "dtype", str, f"tensors[{name!r}].") not in _DTYPES:
            raise CheckpointError(f"metadata: tensors[{name!r}].dtype {t['dtype']!r} is not supported")
        total += math.prod(shape)
        if total > MAX_PARAMETERS:
            raise CheckpointError(
                f"metadata lists more than {MAX_PARAMETERS} numbers; refusing an absurd model"
            )
    _require(d, "weights_sha256", str, "")
    for key in ("system",):
        if d.get(key) is not None and not isinstance(d[key], str):
            raise CheckpointError(f"metadata: {key!r} must be a string or null")
    for key in ("system_params", "dataset", "metrics", "training", "extra"):
        if d.get(key) is not None and not isinstance(d[key], dict):
            raise CheckpointError(f"metadata: {key!r} must be an object or null, got {type(d[key]).__name__}")


def _check_config(cfg: dict) -> None:
    fam = cfg.get("family")
    if fam not in FAMILIES:
        raise CheckpointError(
            f"metadata: model.config.family is {fam!r}; known families: {', '.join(FAMILIES)}"
        )
    arch = cfg.get("arch", cfg.get("architecture"))
    if arch is not None and arch not in ARCHITECTURES:
        raise CheckpointError(f"metadata: unknown architecture {arch!r}; known: {', '.join(ARCHITECTURES)}")
    for k, v in cfg.items():
        if isinstance(v, bool) or v is None or isinstance(v, str):
            continue
        if isinstance(v, float):
            if not math.isfinite(v):
                raise CheckpointError(f"metadata: model.config.{k} = {v} is not finite")
            continue
        if isinstance(v, int):
            lo, hi = HP_LIMITS.get(k, (-INT_LIMIT, INT_LIMIT))
            if not lo <= v <= hi:
                raise CheckpointError(
                    f"metadata: model.config.{k} = {v} is outside the sane range "
                    f"[{lo}, {hi}]; refusing to build it"
                )
            continue
        if isinstance(v, list) and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v):
            if len(v) > 1024 or any(abs(x) > INT_LIMIT for x in v):
                raise CheckpointError(f"metadata: model.config.{k} is an absurd list; refusing to build it")
            continue
        raise CheckpointError(f"metadata: model.config.{k} has unsupported type {type(v).__name__}")


def _pickle_like(b: bytes) -> str | None:
    if len(b) >= 2 and b[0] == 0x80 and 2 <= b[1] <= 5:
        return "a Python pickle"
    if b[:4] == b"PK\x03\x04":
        return "a zip archive (torch.save format, which contains a pickle)"
    return None


def _parse_header(blob: bytes) -> dict:
    """The safetensors header {name: {dtype, shape, data_offsets}}, checked to tile the file."""
    kind = _pickle_like(blob)
    if kind:
        raise CheckpointError(
            f"the weights file is {kind}, not safetensors; checkpoints are safetensors "
            f"only and nothing is ever unpickled"
        )
    if len(blob) < 8:
        raise CheckpointError(
            f"the weights file has {len(blob)} bytes; too short to be safetensors (truncated?)"
        )
    (n,) = struct.unpack("<Q", blob[:8])
    if n > MAX_HEADER_BYTES or 8 + n > len(blob):
        raise CheckpointError(
            f"the weights file is not valid safetensors: header length {n} does not fit "
            f"the {len(blob)}-byte file (truncated or corrupt)"
        )
    try:
        header = safejson.loads(blob[8 : 8 + n], what="header", max_bytes=MAX_HEADER_BYTES, max_depth=4)
    except safejson.JSONError as err:
        raise CheckpointError(
            f"the weights file is not valid safetensors: its header does not parse ({err})"
        ) from None
    if not isinstance(header, dict):
        raise CheckpointError("the weights file is not valid safetensors: header is not a JSON object")
    header.pop("__metadata__", None)
    spans = []
    for name, t in header.items():
        try:
            dtype, shape, (a, b) = t["dtype"], t["shape"], t["data_offsets"]
        except (KeyError, TypeError, ValueError):
            raise CheckpointError(f"the weights file's header entry {name!r} is malformed") from None
        if not isinstance(dtype, str) or dtype not in _DTYPES:
            raise CheckpointError(f"tensor {name!r} has dtype {dtype!r:.40}; allowed: {', '.join(_DTYPES)}")
        if not (isinstance(shape, list) and len(shape) <= 8
                and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape)):
            raise CheckpointError(f"tensor {name!r} has a malformed shape {shape!r:.60}")
        nbytes = math.prod(shape) * torch.empty((), dtype=_DTYPES[dtype]).element_size()
        if not (isinstance(a, int) and isinstance(b, int) and 0 <= a <= b and b - a == nbytes):
            raise CheckpointError(f"tensor {name!r}: data offsets {a}..{b} do not match its shape {shape}")
        spans.append((a, b))
    spans.sort()
    pos = 0
    for a, b in spans:
        if a != pos:
            raise CheckpointError("the weights file's tensors overlap or leave gaps (corrupt file)")
        pos = b
    if 8 + n + pos != len(blob):
        raise CheckpointError(
            f"the weights file has {len(blob)} bytes but its header describes {8 + n + pos} "
            f"(truncated or corrupt)"
        )
    return header


def _compare(listed: dict, header: dict, expected: dict | None, what: str) -> None:
    """Names and shapes: metadata listing == file header (== rebuilt model, when given)."""

    def diff(a: dict, b: dict, an: str, bn: str):
        missing = sorted(set(b) - set(a))
        extra = sorted(set(a) - set(b))
        if missing or extra:
            raise CheckpointError(
                f"{an} and {bn} differ: missing {missing[:5]}{'...' if len(missing) > 5 else ''}"
                f", unexpected {extra[:5]}{'...' if len(extra) > 5 else ''}"
            )
        for k in a:
            if list(a[k]["shape"]) != list(b[k]["shape"]):
                raise CheckpointError(
                    f"tensor {k!r}: shape {a[k]['shape']} in {an} but {b[k]['shape']} in {bn}"
                )

    diff(header, listed, "the weights file", "the metadata")
    for k in header:
        if header[k]["dtype"] != listed[k]["dtype"]:
            raise CheckpointError(
                f"tensor {k!r}: dtype {header[k]['dtype']} in the weights file but "
                f"{listed[k]['dtype']} in the metadata"
            )
    if expected is not None:
        diff(header, expected, "the weights file", what)
        for k, t in expected.items():
            is_float = header[k]["dtype"] in _FLOAT
            if t["float"] != is_float or (not is_float and header[k]["dtype"] != t["dtype"]):
                raise CheckpointError(
                    f"tensor {k!r}: dtype {header[k]['dtype']} does not fit {what} (expects {t['dtype']})"
                )


def read_metadata(path: str | os.PathLike) -> dict:
    """The validated metadata of a checkpoint, without reading or building the model."""
    _, jpath = paths(path)
    if not jpath.is_file():
        raise CheckpointError(f"checkpoint metadata {jpath} not found")
    if jpath.stat().st_size > MAX_JSON_BYTES:
        raise CheckpointError(
            f"{jpath} is {jpath.stat().st_size} bytes, more than the {MAX_JSON_BYTES} allowed"
        )
    d = _parse_meta(jpath.read_bytes())
    _check_meta(d)
    return d


# --------------------------------------------------------------------------- load
def load(path: str | os.PathLike, *, device=None):
    """Load and validate the checkpoint at stem ``path``.

    Returns:
        ``(model, metadata)``: ``model`` in eval mode on ``device`` (default cpu);
        a ``training.Standardized`` when the checkpoint stores an output
        standardization, the bare net otherwise, or an ``EffectiveModel``.
    Raises:
        CheckpointError: naming what is missing or wrong.
    """
    wpath, jpath = paths(path)
    for p, what in ((jpath, "metadata"), (wpath, "weights")):
        if not p.is_file():
            raise CheckpointError(
                f"checkpoint {what} file {p} not found (a checkpoint is {wpath.name} + {jpath.name})"
            )
    if jpath.stat().st_size > MAX_JSON_BYTES:
        raise CheckpointError(
            f"{jpath} is {jpath.stat().st_size} bytes, more than the {MAX_JSON_BYTES} allowed"
        )
    if wpath.stat().st_size > MAX_WEIGHT_BYTES:
        raise CheckpointError(
            f"{wpath} is {wpath.stat().st_size} bytes, more than the {MAX_WEIGHT_BYTES} allowed"
        )
    return load_bytes(wpath.read_bytes(), jpath.read_bytes(), device=device)


def load_bytes(weights: bytes, meta: bytes | str | dict, *, device=None):
    """``load`` for in-memory files (e.g. uploaded in the app): weights bytes + metadata bytes/text."""
    if not isinstance(weights, (bytes, bytearray, memoryview)):
        raise CheckpointError(f"weights must be bytes, got {type(weights).__name__}")
    weights = bytes(weights)
    if len(weights) > MAX_WEIGHT_BYTES:
        raise CheckpointError(f"weights are {len(weights)} bytes, more than the {MAX_WEIGHT_BYTES} allowed")
    d = _parse_meta(meta)
    _check_meta(d)
    header = _parse_header(weights)
    if _sha256(weights) != d["weights_sha256"]:
        _compare(d["tensors"], header, None, "")  # a clearer message when the listing differs too
        raise CheckpointError(
            "the weights file does not match the metadata's weights_sha256 "
            "(edited or corrupt, or a .json from another checkpoint)"
        )
    _compare(d["tensors"], header, None, "")
    if d["kind"] == "effective":
        return _load_effective(weights, d), d
    return _load_torch(weights, header, d, device), d


def _state_listing(module: torch.nn.Module) -> dict:
    return {
        k: {"shape": list(v.shape), "float": v.is_floating_point(), "dtype": _DTYPE_NAMES.get(v.dtype, "?")}
        for k, v in module.state_dict().items()
    }


def _load_torch(weights: bytes, header: dict, d: dict, device):
    from safetensors import SafetensorError
    from safetensors.torch import load as st_load

    from .nets import from_config
    from .training import Standardized, seeded

    cfg = dict(d["model"]["config"])
    try:  # shapes first, on the meta device: no memory is allocated
        with torch.device("meta"):
            probe = from_config(dict(cfg))
    except CheckpointError:
        raise
    except Exception as err:  # noqa: BLE001 - any rejection by the nets is a bad checkpoint
        if "meta" in str(err).lower():  # a net that cannot be built on meta: rely on the range checks
            probe = None
        else:
            raise CheckpointError(
                f"model.config {cfg!r:.200} is not accepted by efnn_core.nets: {err}"
            ) from None
    if probe is not None:
        n = sum(p.numel() for p in probe.parameters())
        if n > MAX_PARAMETERS:
            raise CheckpointError(f"model.config describes {n} parameters (> {MAX_PARAMETERS}); refusing")
        _compare(d["tensors"], header, _state_listing(probe), "the model its config describes")
        del probe
    try:
        with seeded(0):
            net = from_config(dict(cfg))
    except Exception as err:  # noqa: BLE001
        raise CheckpointError(f"model.config {cfg!r:.200} is not accepted by efnn_core.nets: {err}") from None
    _compare(d["tensors"], header, _state_listing(net), "the model its config describes")
    try:
        tensors = st_load(weights)
    except (SafetensorError, ValueError, RuntimeError) as err:
        raise CheckpointError(f"the weights file is not valid safetensors: {err}") from None
    floats = {t.dtype for t in tensors.values() if t.is_floating_point()}
    if len(floats) > 1:
        raise CheckpointError(f"tensors mix float dtypes {sorted(map(str, floats))}")
    for k, t in tensors.items():
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise CheckpointError(f"tensor {k!r} contains NaN or infinite values")
    if floats:
        net.to(dtype=floats.pop())
    try:
        net.load_state_dict(tensors, strict=True)
    except RuntimeError as err:
        raise CheckpointError(f"weights do not fit the model: {err}") from None
    if d["model"]["num_parameters"] != sum(p.numel() for p in net.parameters()):
        raise CheckpointError(
            f"metadata says {d['model']['num_parameters']} parameters, the rebuilt model has "
            f"{sum(p.numel() for p in net.parameters())}"
        )
    out = d["model"].get("output")
    model = Standardized(net, **out) if out else net
    if device is not None:
        from .device import pick_device

        model.to(pick_device(device))
    model.eval()
    return model


def _load_effective(weights: bytes, d: dict):
    from safetensors import SafetensorError
    from safetensors.numpy import load as st_load_np

    from .nets.effective import EffectiveModel

    cls = d["model"].get("class")
    if cls != "EffectiveModel":
        raise CheckpointError(f"unknown effective model class {cls!r}; expected 'EffectiveModel'")
    try:
        arrays = st_load_np(weights)
    except (SafetensorError, ValueError, RuntimeError) as err:
        raise CheckpointError(f"the weights file is not valid safetensors: {err}") from None
    for k, a in arrays.items():
        if a.dtype.kind == "f" and not np.isfinite(a).all():
            raise CheckpointError(f"array {k!r} contains NaN or infinite values")
    overlap = set(arrays) & set(d["model"]["params"])
    if overlap:
        raise CheckpointError(f"names {sorted(overlap)} appear both as arrays and as parameters")
    try:
        return EffectiveModel.from_dict({**d["model"]["params"], **arrays})
    except Exception as err:  # noqa: BLE001
        raise CheckpointError(f"EffectiveModel.from_dict rejected the checkpoint: {err}") from None
