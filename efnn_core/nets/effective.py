"""Linear effective-model baseline (paper Eq. 3), fitted by ridge least squares.

    E_eff(S) = J_0 + sum_{ij} g_ij s_i.s_j + sum_{ijkl} g_ijkl (s_i.s_j)(s_k.s_l)

Every feature is a dot product or a product of two, so the model is O(3)
invariant by construction.  The full model at L = 10 has 12,758,826 terms;
two restrictions are implemented:

``kind="tiled"`` (the paper's construction): the L x L lattice is cut into
non-overlapping ``tile`` x ``tile`` tiles (no wrap, no coupling between
tiles; when ``tile`` does not divide L the last row/column of tiles is
narrower).  Inside a tile with m sites the features are the p = m(m+1)/2
pairs s_p.s_q with replacement and the p(p+1)/2 pairs-of-pairs with
replacement; each tile has its own coefficients, plus one intercept.  Counts
at L = 10:

    tile  tiles (sites)                      features + intercept   X^T X (float64)
    2     25 x (4)                           25*(10+55) + 1 = 1626      21 MB
    3     9 x (9), 6 x (3), 1 x (1)          9*1080 + 6*27 + 2 + 1 = 9885   0.8 GB
    4     4 x (16), 4 x (8), 1 x (4)         4*9452 + 4*702 + 65 + 1 = 40682   13 GB
    5     4 x (25)   (the paper's count)     4*(325+52975) + 1 = 213201   364 GB
    5     4 x (15)   (the authors' code)     4*(120+7260) + 1 = 29521      7 GB

Decision: accumulating X^T X costs (samples) x (features)^2 multiply-adds, so
on 2 cores / 24 GB with 40,000 samples and < 1 minute of fitting only
``tile=2`` (about 1e11 flops, seconds) is practical; ``tile=3`` works but
takes minutes; larger tiles are refused (``max_features``, default 12000).
The paper's 25-site and the authors' 15-site 5x5 tiles are documented above
but not offered.  Note that with unit spins the self pairs s_p.s_p = 1 are
constants (collinear with the intercept and making some 4-body terms copies
of 2-body ones); the ridge term makes the solution unique.

``kind="translation"``: the couplings depend only on relative positions, so
every feature is a lattice sum (this variant applies at any L):

    2-body:  P_d = sum_i s_i.s_{i+d}   for all displacements 0 < |d|_inf <= max_range
             (d and -d give the same sum: (2r+1)^2 - 1)/2 features, 12 at r = 2);
    4-body:  Q = sum_i (s_{i+p}.s_{i+q}) (s_{i+r}.s_{i+u}) for every pair of bonds
             (with replacement) whose four sites lie in a ``window`` x ``window``
             square, bonds between distinct sites, deduplicated by translation
             (``window=3``: 36 bonds, 666 bond pairs -> 447 distinct sums; ``window=2``: 19);
    constant: e_0 N (a per-site energy times the number of sites N = L^2).

With the defaults (max_range=2, window=3) that is 12 + 447 + 1 = 460 features.
The features use periodic boundaries; use L >= 2 max(max_range, window) + 1 so
that no bond wraps onto itself.

Fit: X^T X and X^T y are accumulated over batches of ``batch`` samples (the
design matrix is never formed); the normal equations plus
ridge * mean(diag X^T X) * I are solved by Cholesky (scipy ``assume_a="pos"``).

Example::

    >>> em = EffectiveModel("translation", max_range=1, window=2).fit(spins, energies)
    >>> em.predict(spins).shape       # (B,)
"""

from __future__ import annotations

import functools
import itertools
import math
import numbers

import numpy as np
import scipy.linalg

KINDS = ("tiled", "translation")
# Bounds checked before anything is enumerated (a 2 kB checkpoint with window=60 or
# L=10^6, tile=1 must not make us build billions of terms):
MAX_WINDOW = 4  # 4-body window: 120 bonds, 7260 bond pairs at 4 (window 5: 45,150; 6: ~2e5)
MAX_RANGE = 8  # 2-body range: 144 displacements
MAX_L = 256  # lattice side of a fitted tiled model
MAX_FEATURES = 12000  # X^T X of 8 F^2 bytes: 1.15 GB at the cap
PARAMS = ("kind", "tile", "ridge", "max_range", "window", "max_features")


def _check_spins(spins, name="spins") -> np.ndarray:
    s = np.asarray(spins, dtype=np.float64)
    if s.ndim != 4 or s.shape[-1] != 3 or s.shape[1] != s.shape[2]:
        raise ValueError(f"{name} must have shape (B, L, L, 3), got {s.shape}")
    if not np.isfinite(s).all():
        raise ValueError(f"{name} contain NaN or infinite values")
    return s


def _int(v, name: str, lo: int, hi: int) -> int:
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or (
            not isinstance(v, numbers.Integral) and (not math.isfinite(v) or int(v) != v)):
        raise ValueError(f"{name} must be an integer, got {v!r:.40}")
    if not lo <= int(v) <= hi:
        raise ValueError(f"{name} must be between {lo} and {hi}, got {int(v)}")
    return int(v)


def tile_blocks(L: int, tile: int) -> list[np.ndarray]:
    """Flat site indices of each tile of an L x L lattice, row-major tiles."""
    starts = range(0, L, tile)
    out = []
    for r0 in starts:
        for c0 in starts:
            rr, cc = np.meshgrid(np.arange(r0, min(r0 + tile, L)), np.arange(c0, min(c0 + tile, L)),
                                 indexing="ij")
            out.append((rr * L + cc).ravel())
    return out


def tiled_feature_count(L: int, tile: int) -> int:
    """Number of coefficients of the tiled model, intercept included (closed form, O(1)).

    Along each axis there are L // tile full tiles and, when tile does not
    divide L, one of width L % tile; a tile of m sites has p + p(p+1)/2
    features with p = m(m+1)/2.
    """
    widths = [(tile, L // tile)] + ([(L % tile, 1)] if L % tile else [])

    def per_tile(m):
        p = m * (m + 1) // 2
        return p + p * (p + 1) // 2

    return 1 + sum(na * nb * per_tile(a * b) for a, na in widths for b, nb in widths)


@functools.lru_cache(maxsize=64)
def translation_terms(max_range: int, window: int):
    """(2-body displacements, 4-body terms (a, e, b)) of the translation-invariant model.

    A 4-body term sum_i D_a(i) D_b(i + e) uses the dot fields D_d(i) = s_i . s_{i+d}.
    ``max_range`` <= MAX_RANGE and ``window`` <= MAX_WINDOW (checked first: the
    enumeration grows like window^8).
    """
    max_range = _int(max_range, "max_range", 1, MAX_RANGE)
    window = _int(window, "window", 1, MAX_WINDOW)
    two = [(dy, dx) for dy in range(0, max_range + 1) for dx in range(-max_range, max_range + 1)
           if dy > 0 or dx > 0]
    sites = [(y, x) for y in range(window) for x in range(window)]
    bonds = list(itertools.combinations(sites, 2))
    seen = set()
    four = []
    for b1, b2 in itertools.combinations_with_replacement(bonds, 2):
        keys = []
        for (p, q), (r, u) in ((b1, b2), (b2, b1)):
            for pp, qq in ((p, q), (q, p)):
                for rr, uu in ((r, u), (u, r)):
                    keys.append(tuple((z[0] - pp[0], z[1] - pp[1]) for z in (qq, rr, uu)))
        key = min(keys)
        if key in seen:
            continue
        seen.add(key)
        a, r0, u0 = key  # first bond (0, a), second bond (r0, u0)
        four.append((a, r0, (u0[0] - r0[0], u0[1] - r0[1])))  # D_a(i) * D_{u-r}(i + r)
    return tuple(two), tuple(four)


class EffectiveModel:
    """Ridge-regression effective model, ``kind`` "tiled" or "translation" (see module docstring).

    Args:
        kind: "tiled" (paper, per-tile couplings, fixed L) or "translation"
            (couplings by relative displacement, any L).
        tile: tile size for "tiled".
        ridge: relative ridge strength (times the mean diagonal of X^T X).
        max_range: 2-body range (Chebyshev) for "translation".
        window: 4-body window size for "translation".
        max_features: refuse larger tiled models (memory of X^T X is 8 F^2 bytes).
    """

    def __init__(self, kind: str = "tiled", tile: int = 2, ridge: float = 1e-6, max_range: int = 2,
                 window: int = 3, max_features: int = 12000):
        if not isinstance(kind, str) or kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r:.40}")
        tile = _int(tile, "tile", 1, MAX_L)
        max_range = _int(max_range, "max_range", 1, MAX_RANGE)
        window = _int(window, "window", 1, MAX_WINDOW)
        max_features = _int(max_features, "max_features", 1, MAX_FEATURES)
        if isinstance(ridge, bool) or not isinstance(ridge, numbers.Real) or not (0 <= ridge <= 1e300):  # NaN fails
            raise ValueError(f"ridge must be a finite number >= 0, got {ridge!r:.40}")
        self.kind, self.tile, self.ridge = kind, tile, float(ridge)
        self.max_range, self.window, self.max_features = max_range, window, max_features
        if kind == "translation" and self.num_parameters() > max_features:
            raise ValueError(f"translation model with max_range={max_range}, window={window} has "
                             f"{self.num_parameters()} coefficients; at most max_features={max_features}")
        self.L: int | None = None
        self.coef_: np.ndarray | None = None

    # ------------------------------------------------------------------ features
    def num_parameters(self, L: int | None = None) -> int:
        """Number of coefficients (intercept included); the tiled count depends on L."""
        if self.kind == "translation":
            two, four = translation_terms(self.max_range, self.window)
            return len(two) + len(four) + 1
        L = L if L is not None else self.L
        if L is None:
            raise ValueError("the tiled model's size depends on L; fit it first or pass L")
        return tiled_feature_count(_int(L, "L", 1, MAX_L), self.tile)

    def features(self, spins) -> np.ndarray:
        """Design-matrix rows (B, num_parameters) for spins (B, L, L, 3); column 0 is the constant."""
        s = _check_spins(spins)
        return self._tiled(s) if self.kind == "tiled" else self._translation(s)

    def _tiled(self, s):
        b, L = s.shape[0], s.shape[1]
        flat = s.reshape(b, L * L, 3)
        cols = [np.ones((b, 1))]
        for sites in tile_blocks(L, self.tile):
            v = flat[:, sites]  # (b, m, 3)
            iu, ju = np.triu_indices(len(sites))
            pairs = np.einsum("bic,bjc->bij", v, v)[:, iu, ju]  # (b, p), pairs with replacement
            ia, ib = np.triu_indices(pairs.shape[1])
            cols += [pairs, pairs[:, ia] * pairs[:, ib]]
        return np.concatenate(cols, 1)

    def _translation(self, s):
        b, L = s.shape[0], s.shape[1]
        two, four = translation_terms(self.max_range, self.window)
        dots: dict = {}

        def dot(d):  # D_d(i) = s_i . s_{i+d}, (b, L, L)
            if d not in dots:
                dots[d] = np.einsum("byxc,byxc->byx", s, np.roll(s, (-d[0], -d[1]), (1, 2)))
            return dots[d]

        cols = [np.full(b, float(L * L))]
        cols += [dot(d).sum((1, 2)) for d in two]
        # sum_i D_a(i) D_b(i + e) for every 4-body term: D_b periodically padded once, so each shift e is a
        # view, contracted without a temporary (half the time of rolling a copy per term)
        reach = max((max(abs(e[0]), abs(e[1])) for _, e, _ in four), default=0)
        padded: dict = {}
        for a, e, d2 in four:
            if d2 not in padded:
                padded[d2] = np.pad(dot(d2), ((0, 0), (reach, reach), (reach, reach)), mode="wrap")
            shifted = padded[d2][:, reach + e[0]:reach + e[0] + L, reach + e[1]:reach + e[1] + L]
            cols.append(np.einsum("byx,byx->b", dot(a), shifted))
        return np.stack(cols, 1)

    # ------------------------------------------------------------------ fit / predict
    def fit(self, spins, energies, batch: int = 2000) -> "EffectiveModel":
        """Ridge least squares from normal equations accumulated in batches; returns self."""
        s = _check_spins(spins)
        y = np.asarray(energies, dtype=np.float64).reshape(-1)
        if len(y) != len(s):
            raise ValueError(f"{len(s)} configurations but {len(y)} energies")
        if not np.isfinite(y).all():
            raise ValueError("energies contain NaN or infinite values")
        L = s.shape[1]
        nf = self.num_parameters(L)
        if nf > self.max_features:
            raise ValueError(f"{self.kind} model with tile={self.tile} at L={L} has {nf} coefficients; "
                             f"X^T X would need {8 * nf * nf / 1e9:.1f} GB and ~{len(s) * nf * nf:.1e} "
                             f"multiply-adds (limit max_features={self.max_features}); use a smaller tile")
        xtx = np.zeros((nf, nf))
        xty = np.zeros(nf)
        for i in range(0, len(s), batch):
            x = self.features(s[i:i + batch])
            xtx += x.T @ x
            xty += x.T @ y[i:i + batch]
        scale = max(float(np.mean(np.diag(xtx))), 1e-300)
        xtx[np.diag_indices(nf)] += self.ridge * scale
        try:
            self.coef_ = scipy.linalg.solve(xtx, xty, assume_a="pos")
        except (np.linalg.LinAlgError, scipy.linalg.LinAlgError):
            self.coef_ = np.linalg.lstsq(xtx, xty, rcond=None)[0]
        self.L = L
        return self

    def predict(self, spins, batch: int = 2000) -> np.ndarray:
        """Energies (B,) float64."""
        if self.coef_ is None:
            raise ValueError("the effective model is not fitted; call fit(spins, energies) first")
        s = _check_spins(spins)
        if self.kind == "tiled" and s.shape[1] != self.L:
            raise ValueError(f"the tiled model was fitted at L={self.L} and has per-tile couplings; "
                             f"got L={s.shape[1]} (use kind='translation' to change L)")
        return np.concatenate([self.features(s[i:i + batch]) @ self.coef_ for i in range(0, len(s), batch)])

    # ------------------------------------------------------------------ storage
    def to_dict(self) -> dict:
        """JSON-able parameters plus the one array "coef" (for safetensors + metadata)."""
        return {"kind": self.kind, "tile": self.tile, "ridge": self.ridge, "max_range": self.max_range,
                "window": self.window, "max_features": self.max_features, "L": self.L,
                "coef": None if self.coef_ is None else np.asarray(self.coef_, dtype=np.float64)}

    @classmethod
    def from_dict(cls, d: dict) -> "EffectiveModel":
        """Rebuild from ``to_dict()`` output (e.g. an untrusted checkpoint).

        Every parameter is type- and range-checked (window <= MAX_WINDOW,
        max_range <= MAX_RANGE, L <= MAX_L, the coefficient count <= max_features)
        before any term is enumerated; ``coef`` must be a finite 1-D float array
        of exactly ``num_parameters(L)`` entries.
        """
        if not isinstance(d, dict):
            raise ValueError(f"effective model parameters must be a dict, got {type(d).__name__}")
        d = dict(d)
        coef, L = d.pop("coef", None), d.pop("L", None)
        unknown = sorted(set(map(str, d)) - set(PARAMS))
        if unknown:
            raise ValueError(f"unknown effective model parameter(s) {unknown[:5]}; expected {', '.join(PARAMS)}")
        m = cls(**d)
        if L is not None:
            L = _int(L, "L", 3, MAX_L)
            if m.kind == "tiled":
                m.tile = _int(m.tile, "tile", 1, L)
                if tiled_feature_count(L, m.tile) > m.max_features:
                    raise ValueError(f"tiled model with tile={m.tile} at L={L} has {tiled_feature_count(L, m.tile)} "
                                     f"coefficients; at most max_features={m.max_features}")
        elif m.kind == "tiled" and coef is not None:
            raise ValueError("a fitted tiled model needs its L")
        m.L = L
        if coef is not None:
            c = np.asarray(coef)
            if c.ndim != 1 or c.dtype.kind != "f" or not np.isfinite(c).all():
                raise ValueError(f"coef must be a finite 1-D float array, got shape {c.shape}, dtype {c.dtype}")
            need = m.num_parameters(L) if (L is not None or m.kind == "translation") else None
            if need is not None and len(c) != need:
                raise ValueError(f"coef has {len(c)} entries but the model needs {need}")
            m.coef_ = c.astype(np.float64)
        return m

    def __repr__(self) -> str:
        return (f"EffectiveModel(kind={self.kind!r}, tile={self.tile}, ridge={self.ridge}, "
                f"max_range={self.max_range}, window={self.window})")
