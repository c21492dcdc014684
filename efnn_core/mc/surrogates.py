"""Surrogate energies for self-learning Monte Carlo: cheap local energy changes.

SLMC runs many local Metropolis steps with a surrogate energy E^s and corrects
with the exact energy once per cumulative update (see ``slmc``), so what
matters is the cost of one *local* change dE^s = E^s(S with s_i -> v) - E^s(S).

``LocalEffective`` -- the translation-invariant effective model
(``nets.EffectiveModel(kind="translation")``), an O(1) local change:

    E^s(S) = e_0 N + sum_d c_d sum_x s_x.s_{x+d}
             + sum_t c_t sum_x (s_{x+p_t}.s_{x+q_t}) (s_{x+r_t}.s_{x+u_t}).

As a function of the one spin v = s_i, with the K neighbour spins n_k = s_{i+o_k}
(o_k in [-R, R]^2 \\ 0, R = max(max_range, window - 1), K = (2R+1)^2 - 1 = 24), every
term touching i is a_k (v.n_k), or B (v.n_k)(n_k'.n_l'), or C (v.n_k)(v.n_l), so

    E^s_i(v) = v.h + v^T M v,   h = N^T (a + B vec(N N^T)),   M = N^T C N,

with N the (K, 3) neighbour spins and a (K,), B (K, K^2), C (K, K) fixed
numbers precomputed once from the coefficients (translation invariance makes
them the same at every site).  dE^s = (v' - v).h + v'^T M v' - v^T M v.  Cost:
one (K, 3) gather and a few small products, ~15-25 us per local step in numpy
on this machine, independent of L (the feature evaluation of the whole model
costs ~50 ms).

``GlobalEnergy`` -- any energy model of a whole configuration (a lattice EFNN
or baseline, through ``nets.frozen`` at batch 1): dE^s needs a full forward
pass per local step (the EFNN's receptive field covers the whole L = 10
lattice), ~0.2-0.7 ms at L = 10 -- a full sweep costs as much as ~20-100 EDs.

Both expose ``sweep(spins, sites, noise, uniforms, step, T)``: m local
Metropolis steps with the surrogate, in place, returning (dE^s total, accepted).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

__all__ = ["LocalEffective", "GlobalEnergy", "load_surrogate", "SurrogateError"]


class SurrogateError(ValueError):
    """A surrogate that cannot be used (unknown name, wrong system, unsupported model)."""


def _offsets(R: int) -> list[tuple[int, int]]:
    return [(dy, dx) for dy in range(-R, R + 1) for dx in range(-R, R + 1) if (dy, dx) != (0, 0)]


def neighbour_table(L: int, R: int) -> np.ndarray:
    """(L*L, K) flat indices of the sites i + o_k on the L x L torus (row-major, i = r*L + c)."""
    r, c = np.divmod(np.arange(L * L), L)
    return np.stack([((r + dy) % L) * L + (c + dx) % L for dy, dx in _offsets(R)], 1)


class LocalEffective:
    """O(1) local energy changes of a fitted translation-invariant ``EffectiveModel``.

    Args:
        model: ``EffectiveModel(kind="translation")`` with ``coef_`` set.
        L: lattice size (>= 2R + 1, so that no term wraps onto itself).
    """

    kind = "local"

    def __init__(self, model, L: int):
        from ..nets.effective import translation_terms

        if getattr(model, "kind", None) != "translation" or model.coef_ is None:
            raise SurrogateError("a local surrogate needs a fitted EffectiveModel of kind 'translation'")
        self.model, self.L = model, int(L)
        two, four = translation_terms(model.max_range, model.window)
        self.R = R = max(model.max_range, model.window - 1)
        if self.L < 2 * R + 1:
            raise SurrogateError(f"this effective model reaches {R} sites; it needs L >= {2 * R + 1}, got L={L}")
        offs = _offsets(R)
        index = {o: k for k, o in enumerate(offs)}
        K = len(offs)
        a, B, C = np.zeros(K), np.zeros((K, K * K)), np.zeros((K, K))
        coef = np.asarray(model.coef_, float)
        terms = [(coef[1 + k], [((0, 0), d)]) for k, d in enumerate(two)]
        terms += [(coef[1 + len(two) + k], [((0, 0), av), (e, (e[0] + d2[0], e[1] + d2[1]))])
                  for k, (av, e, d2) in enumerate(four)]
        for c, bonds in terms:
            sites = {p for bond in bonds for p in bond}
            for u in sites:  # the instance in which site i plays the role of u (each instance once)
                rel = [tuple((p[0] - u[0], p[1] - u[1]) for p in bond) for bond in bonds]
                with_i = [q if p == (0, 0) else p for p, q in rel if (0, 0) in (p, q)]
                without = [(p, q) for p, q in rel if (0, 0) not in (p, q)]
                if len(with_i) == 1 and not without:
                    a[index[with_i[0]]] += c
                elif len(with_i) == 1:
                    (p, q), = without
                    B[index[with_i[0]], index[p] * K + index[q]] += c
                else:
                    C[index[with_i[0]], index[with_i[1]]] += c
        self.cols = np.flatnonzero(np.abs(B).sum(0))  # the neighbour pairs that occur
        self.a, self.B, self.C = a, B[:, self.cols], 0.5 * (C + C.T)
        self.table = neighbour_table(self.L, R)

    def field(self, flat: np.ndarray, i: int) -> tuple[np.ndarray, np.ndarray]:
        """(h (3,), M (3, 3)) of site i: E^s = const + v.h + v^T M v as a function of v = s_i."""
        n = flat[self.table[i]]  # (K, 3)
        g = (n @ n.T).ravel()[self.cols]
        return n.T @ (self.a + self.B @ g), n.T @ self.C @ n

    def delta(self, spins: np.ndarray, site: int, new: np.ndarray) -> float:
        """E^s(spins with s_site -> new) - E^s(spins); spins (L, L, 3), site flat index."""
        flat = spins.reshape(-1, 3)
        h, M = self.field(flat, site)
        old = flat[site]
        return float((new - old) @ h + new @ M @ new - old @ M @ old)

    def energy(self, spins: np.ndarray) -> float:
        return float(self.model.predict(np.asarray(spins, float)[None])[0])

    def sweep(self, spins, sites, noise, uniforms, step: float, T: float) -> tuple[float, int]:
        """len(sites) Metropolis steps s_i -> normalize(s_i + step*xi) on E^s at temperature T, in place."""
        flat = spins.reshape(-1, 3)
        table, cols, a, B, C = self.table, self.cols, self.a, self.B, self.C
        total, accepted = 0.0, 0
        for i, xi, u in zip(sites.tolist(), noise * step, uniforms.tolist()):
            old = flat[i]
            v = old + xi
            v /= math.sqrt(v @ v)
            n = flat[table[i]]
            g = (n @ n.T).ravel()[cols]
            hv = n @ (v - old)           # (K,) n_k.(v - old)
            wv, wo = n @ v, n @ old
            d = float(hv @ (a + B @ g) + wv @ C @ wv - wo @ C @ wo)
            if d <= 0.0 or u < math.exp(-d / T):
                flat[i] = v
                total += d
                accepted += 1
        return total, accepted


class GlobalEnergy:
    """A surrogate from any batch-1 energy function ``fn(spins (L, L, 3)) -> float``: one call per local step."""

    kind = "global"

    def __init__(self, fn, L: int):
        self.fn, self.L = fn, int(L)

    def energy(self, spins) -> float:
        return float(self.fn(spins))

    def delta(self, spins, site: int, new) -> float:
        trial = np.array(spins, float)
        trial.reshape(-1, 3)[site] = new
        return self.energy(trial) - self.energy(spins)

    def sweep(self, spins, sites, noise, uniforms, step: float, T: float) -> tuple[float, int]:
        flat = spins.reshape(-1, 3)
        e = self.energy(spins)
        total, accepted = 0.0, 0
        for i, xi, u in zip(sites.tolist(), noise * step, uniforms.tolist()):
            old = flat[i].copy()
            v = old + xi
            flat[i] = v / math.sqrt(v @ v)
            e_new = self.energy(spins)
            d = e_new - e
            if d <= 0.0 or u < math.exp(-d / T):
                total, e, accepted = total + d, e_new, accepted + 1
            else:
                flat[i] = old
        return total, accepted


def _torch_energy(model, L: int):
    import torch

    from ..nets import frozen

    f = frozen(model.eval(), (1, L, L, 3))

    def fn(spins):
        return float(f(torch.as_tensor(np.asarray(spins, np.float32)[None]))[0])

    return fn


def load_surrogate(name_or_path, L: int, *, system=None):
    """A surrogate (with its checkpoint metadata) from a pretrained name, a checkpoint path or a model.

    Args:
        name_or_path: a name from ``pretrained.list()``, a checkpoint stem/path, a fitted
            ``EffectiveModel`` or a torch energy model.
        L: lattice size the chain runs at.
        system: the sampled system; a checkpoint trained for another system (or other
            parameters) is refused.
    Returns:
        (surrogate, meta) -- ``LocalEffective`` for translation effective models, else ``GlobalEnergy``.
    """
    from .. import checkpoint, pretrained
    from ..nets.effective import EffectiveModel

    meta: dict = {}
    model = name_or_path
    if isinstance(name_or_path, (str, Path)):
        name = str(name_or_path)
        if name in pretrained.list():
            model, meta = pretrained.load(name, check_data=False)
        else:
            stem = Path(name)
            if not (stem.with_suffix(".json").is_file() or (stem / "model.json").is_file() or stem.is_file()):
                raise SurrogateError(f"no surrogate {name!r}: not a pretrained model ({', '.join(pretrained.list()[:6])}"
                                     f", ...) and no checkpoint at {stem}")
            try:
                model, meta = checkpoint.load(stem)
            except (OSError, checkpoint.CheckpointError) as err:
                raise SurrogateError(f"cannot load surrogate {name!r}: {err}") from None
        if system is not None:
            want = getattr(system, "name", None)
            if meta.get("system") not in (None, want):
                raise SurrogateError(f"surrogate {name!r} was trained for the {meta.get('system')} system, "
                                     f"not {want}; pick a {want} model")
            sp, mine = meta.get("system_params") or {}, system.params()
            bad = {k: (sp[k], v) for k, v in mine.items() if k in sp and not math.isclose(sp[k], v)}
            if bad:
                raise SurrogateError(f"surrogate {name!r} was trained at other parameters {bad} (model, chain)")
    if isinstance(model, EffectiveModel):
        if model.kind == "translation":
            return LocalEffective(model, L), meta
        if model.L != L:
            raise SurrogateError(f"the tiled effective model was fitted at L={model.L}; the chain runs at L={L}")
        return GlobalEnergy(lambda s: model.predict(np.asarray(s, float)[None])[0], L), meta
    if callable(model) and hasattr(model, "parameters"):
        fam = getattr(getattr(model, "config", None), "family", None)
        if fam not in (None, "lattice"):
            raise SurrogateError(f"surrogate model family {fam!r} is not a lattice model (any L); use a lattice one")
        return GlobalEnergy(_torch_energy(model, L), L), meta
    if callable(model):
        return GlobalEnergy(model, L), meta
    raise SurrogateError(f"cannot use {type(model).__name__} as a surrogate")
