"""Where tensors live and how many CPU threads torch may use.

``pick_device("auto")`` prefers CUDA, then Apple's MPS, then the CPU; any
explicit choice (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``) is honoured
or refused with a message naming what is available.  ``set_threads()`` sizes
torch's intra-op pool to the cores this process may really use (CPU affinity
and a cgroup CPU quota both count) that other jobs are not keeping busy
(1-minute load average), and uses a single inter-op thread: the
networks here are small, so one op at a time on all cores beats several ops
competing for two cores.

    >>> from efnn_core.device import pick_device, set_threads
    >>> pick_device("cpu")
    device(type='cpu')
    >>> set_threads(1)
    1
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import torch

__all__ = ["pick_device", "set_threads", "auto_threads", "usable_cores", "resolve_dtype", "describe"]

_DTYPES = {"float32": torch.float32, "float64": torch.float64}


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def pick_device(preference: str | torch.device | None = "auto") -> torch.device:
    """The torch device to compute on.

    Args:
        preference: ``"auto"`` (or None): CUDA if present, else MPS, else CPU.
            Otherwise any torch device string (``"cpu"``, ``"cuda"``, ``"cuda:0"``,
            ``"mps"``) or a ``torch.device``; it must be available here.
    Returns:
        ``torch.device``.
    Raises:
        ValueError: the requested device is unknown or not available, e.g.
            ``pick_device("cuda")`` on a machine without CUDA.
    """
    if preference is None or (isinstance(preference, str) and preference.strip().lower() == "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(preference.strip().lower() if isinstance(preference, str) else preference)
    except (RuntimeError, TypeError) as err:
        raise ValueError(
            f"unknown device {preference!r} ({err}); use auto, cpu, cuda, cuda:N or mps"
        ) from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device {preference!r} requested but CUDA is not available here; use --device auto or cpu"
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(
                f"device {preference!r}: only {torch.cuda.device_count()} CUDA device(s) present"
            )
    elif dev.type == "mps":
        if not _mps_available():
            raise ValueError(
                f"device {preference!r} requested but MPS is not available here; use auto or cpu"
            )
    elif dev.type != "cpu":
        raise ValueError(f"unsupported device {preference!r}; use auto, cpu, cuda, cuda:N or mps")
    return dev


def resolve_dtype(name: str | torch.dtype, device: torch.device | None = None) -> torch.dtype:
    """``"float32"``/``"float64"`` (or a torch dtype) -> torch dtype, checked against the device.

    MPS has no float64, so ``resolve_dtype("float64", torch.device("mps"))`` raises ValueError.
    """
    if isinstance(name, torch.dtype):
        dtype = name
        if dtype not in _DTYPES.values():
            raise ValueError(f"dtype {dtype} not supported; use float32 or float64")
    else:
        if name not in _DTYPES:
            raise ValueError(f"dtype {name!r} not supported; use float32 or float64")
        dtype = _DTYPES[name]
    if device is not None and device.type == "mps" and dtype == torch.float64:
        raise ValueError("MPS does not support float64; use --dtype float32 or --device cpu")
    return dtype


def _cgroup_quota() -> int | None:
    """CPUs allowed by a cgroup v2 (``cpu.max``) or v1 (``cpu.cfs_quota_us``) quota, or None."""
    try:
        v2 = Path("/sys/fs/cgroup/cpu.max")
        if v2.is_file():
            quota, period = v2.read_text().split()[:2]
            if quota != "max":
                return max(1, math.ceil(int(quota) / int(period)))
            return None
        q = Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us")
        p = Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us")
        if q.is_file() and p.is_file():
            quota = int(q.read_text())
            if quota > 0:
                return max(1, math.ceil(quota / int(p.read_text())))
    except (OSError, ValueError):
        pass
    return None


def usable_cores() -> int:
    """Cores this process may run on: CPU affinity, capped by a cgroup quota (>= 1)."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # macOS, Windows
        n = os.cpu_count() or 1
    quota = _cgroup_quota()
    return max(1, min(n, quota) if quota else n)


def auto_threads() -> int:
    """Threads worth using now: the usable cores not already busy, at least 1.

    ``ceil(usable_cores() - load)`` with the 1-minute load average, clamped to
    [1, usable_cores()].  On a shared 2-core machine that is 2 when it is idle
    and 1 once another job keeps a core busy: oversubscribed OpenMP threads
    spin-wait on each other, and on this project's 2 shared cores a small net
    trained 12x slower with 2 threads than with 1 under load.
    """
    n = usable_cores()
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # Windows
        return n
    return max(1, min(n, math.ceil(n - load)))


def set_threads(n: int | None = None) -> int:
    """Set torch's intra-op threads to ``n`` (default: ``auto_threads()``) and inter-op threads to 1.

    Process-wide (torch has no per-thread setting).  Inter-op threads can only
    be set before torch's first parallel work; later calls keep what is there.

    Returns:
        the intra-op thread count now in effect.
    """
    if n is None:
        n = auto_threads()
    n = int(n)
    if n < 1:
        raise ValueError(f"thread count must be >= 1, got {n}")
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    if torch.get_num_interop_threads() != 1:
        try:
            torch.set_num_interop_threads(1)
        except RuntimeError:  # parallel work already started; keep the existing pool
            pass
    return torch.get_num_threads()


def describe(device: torch.device) -> str:
    """One line naming the device, e.g. ``"cuda:0 (NVIDIA H100)"`` or ``"cpu (2 threads)"``."""
    if device.type == "cuda":
        i = device.index if device.index is not None else torch.cuda.current_device()
        return f"cuda:{i} ({torch.cuda.get_device_name(i)})"
    if device.type == "cpu":
        return f"cpu ({torch.get_num_threads()} threads)"
    return str(device)
