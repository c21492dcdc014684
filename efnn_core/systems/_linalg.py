"""Eigenvalue drivers for dense complex Hermitian matrices (eigenvalues only).

Which LAPACK build is fastest depends on the matrix size and the precision.
Measured on the project's 2-core machine (AMD EPYC, numpy/scipy with OpenBLAS,
torch with MKL), median seconds per matrix, eigenvalues only, 1 thread:

    n = 2L^2       numpy c128   torch c128   scipy c64 (cheevd)   torch c64
    200  (L=10)    2.8e-3       3.5e-3       1.4e-3               1.9e-3
    800  (L=20)    0.121        0.135        0.043                0.081
    1800 (L=30)    1.48         1.02         0.41                 0.49

(`python benchmarks/ed.py --drivers` re-measures this table.)  Hence:

* ``precision="double"`` (the exact reference): numpy's zheevd up to n = 1000,
  MKL's zheevd through torch above, where it is 1.5-2x faster;
* ``precision="single"`` (only for dataset generation, with the error measured
  and recorded): OpenBLAS cheevd through scipy at every size.
"""

from __future__ import annotations

import numpy as np

DRIVERS = ("numpy", "scipy-evd", "torch")
TORCH_ABOVE = 1000  # matrix dimension above which MKL (torch) beats OpenBLAS in complex128


def fastest_driver(n: int, precision: str) -> str:
    """Name of the measured-fastest driver for an n x n matrix at ``precision``."""
    if precision == "single":
        return "scipy-evd"
    if precision != "double":
        raise ValueError(f"precision must be 'double' or 'single', got {precision!r}")
    return "torch" if n > TORCH_ABOVE else "numpy"


def eigvalsh(h: np.ndarray, *, precision: str = "double", driver: str = "auto") -> np.ndarray:
    """Ascending eigenvalues of Hermitian matrices ``h`` of shape (..., n, n).

    Returns float64 eigenvalues (..., n); with ``precision="single"`` they were
    computed in complex64 and are only promoted to float64.
    """
    n = h.shape[-1]
    if driver == "auto":
        driver = fastest_driver(n, precision)
    ctype = np.complex128 if precision == "double" else np.complex64
    h = np.asarray(h, dtype=ctype)
    if driver == "numpy":
        return np.linalg.eigvalsh(h).astype(np.float64)
    if driver == "scipy-evd":
        import scipy.linalg as sl

        flat = h.reshape(-1, n, n)
        out = np.stack([sl.eigvalsh(m, driver="evd", check_finite=False) for m in flat])
        return out.reshape(h.shape[:-1]).astype(np.float64)
    if driver == "torch":
        import torch

        return torch.linalg.eigvalsh(torch.from_numpy(h)).numpy().astype(np.float64)
    raise ValueError(f"unknown eigenvalue driver {driver!r}; choose one of {DRIVERS} or 'auto'")
