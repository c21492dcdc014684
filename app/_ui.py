"""Shared Streamlit glue for the explorer pages: headers, URL state, caches, model registry.

Caching by kind (STYLE.md 10):
* ``st.cache_resource``: datasets and pretrained models, shared read-only by all sessions
  (arrays are marked read-only, models are only run under ``torch.no_grad``);
* ``st.cache_data``: exact-diagonalization results keyed by the sha1 of the spins' bytes;
* ``st.session_state``: everything that belongs to one user (lattice, trained models, runs).
"""

from __future__ import annotations

import hashlib
import importlib
import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import streamlit as st

from efnn_core import data as datasets
from efnn_core.systems import DoubleExchange, Ising2D, get

try:  # one BLAS thread: ED matrices here are small (2L^2 <= 1000 go to OpenBLAS), and on a busy
    # 2-core machine a multi-threaded zheevd of a 200x200 matrix takes 1 s instead of 3 ms
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")
except ImportError:  # pragma: no cover - optional dependency
    pass

SYSTEMS = {"double_exchange": "Double exchange (quantum, ED)", "ising": "2D Ising (classical)",
           "three_spin_binary": "3-spin, binary spins (15 sites)",
           "three_spin_continuous": "3-spin, continuous spins (15 sites)"}
CHAIN_SITES = 15  # the 3-spin model of the paper: 15 sites, all 455 triples
ED_MAX_L = 40         # largest lattice the lab diagonalizes (2L^2 = 3200, ~5-8 s)
ISING_MAX_L = 64
MIN_L = 4
SESSION_MODELS = "session_models"   # st.session_state key: name -> ModelEntry
GENERALIZATION_DEFAULT = ("de_efnn_c3_n1", "de_efnn_c3_n2", "de_efnn_c3_n3", "de_dnn_c3_n3", "de_resnet_c3_n3",
                          "de_densenet_c3_n3", "de_effective_translation")


# ----------------------------------------------------------------------------- page furniture
def header(title: str, what: str, *, icon: str = "") -> None:
    """Page title plus one or two sentences saying what the user is looking at."""
    st.title(f"{icon} {title}".strip())
    st.markdown(f"<div class='efnn-lead'>{what}</div>", unsafe_allow_html=True)


def style() -> None:
    st.markdown(
        """<style>
        .efnn-lead {font-size: 1.05rem; color: rgba(49,51,63,0.78); margin: -0.4rem 0 0.9rem 0;
                    border-left: 3px solid #d62728; padding-left: 0.7rem;}
        div[data-testid="stMetricValue"] {font-size: 1.55rem;}
        .efnn-eq {font-size: 1.0rem;}
        </style>""",
        unsafe_allow_html=True,
    )


_NEEDS = {"nets": "build", "training": "Trainer", "pretrained": "load", "checkpoint": "load_bytes"}


def optional(module: str):
    """Import ``efnn_core.<module>`` if it exists (and is complete) yet, else None: parts of the
    library land later, and the pages must work without them."""
    try:
        mod = importlib.import_module(f"efnn_core.{module}")
    except ImportError:
        return None
    return mod if hasattr(mod, _NEEDS.get(module, "__name__")) else None


# ----------------------------------------------------------------------------- URL state
@dataclass
class UrlState:
    system: str
    L: int
    preset: str
    seed: int
    messages: list[str] = field(default_factory=list)


def plain(text) -> str:
    """``text`` with every ASCII punctuation backslash-escaped, so Markdown shows it literally: no link,
    image, HTML or autolinked URL can come from an untrusted value (URL parameters, file names)."""
    return "".join("\\" + c if c in PUNCTUATION else c for c in str(text)[:80])


PUNCTUATION = set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")


def read_url(*, default_system="double_exchange", default_L=10, default_preset="random", presets=(),
             systems=tuple(SYSTEMS), max_L: dict | None = None) -> UrlState:
    """system, L, preset and seed from ``st.query_params``, validated; bad values fall back to the
    defaults with a message (shown by the caller) instead of an exception."""
    qp = st.query_params
    msgs = []
    system = qp.get("system", default_system)
    if system not in systems:
        msgs.append(f"URL parameter system={plain(system)} is not one of {', '.join(systems)}; using {default_system}.")
        system = default_system
    limit = (max_L or {}).get(system, ED_MAX_L)
    L = default_L
    if "L" in qp:
        try:
            L = int(qp["L"])
            if not MIN_L <= L <= limit:
                msgs.append(f"URL parameter L={L} is outside {MIN_L}…{limit} for this system "
                            f"(exact diagonalization above L={limit} takes minutes); using L={min(max(L, MIN_L), limit)}.")
                L = min(max(L, MIN_L), limit)
        except ValueError:
            msgs.append(f"URL parameter L={plain(qp['L'])} is not an integer; using L={default_L}.")
    preset = qp.get("preset", default_preset)
    if presets and preset not in presets:
        msgs.append(f"URL parameter preset={plain(preset)} is unknown (choose {', '.join(presets)}); using {default_preset}.")
        preset = default_preset
    seed = 0
    if "seed" in qp:
        try:
            seed = int(qp["seed"])
            if not 0 <= seed < 2 ** 31:
                raise ValueError
        except ValueError:
            msgs.append(f"URL parameter seed={plain(qp['seed'])} must be an integer in 0…2³¹−1; using 0.")
            seed = 0
    return UrlState(system, L, preset, seed, msgs)


def write_url(**values) -> None:
    """Mirror the current choices into the URL (only the keys given; unchanged ones are left)."""
    qp = st.query_params
    for k, v in values.items():
        if qp.get(k) != str(v):
            qp[k] = str(v)


# ----------------------------------------------------------------------------- cached data
@st.cache_resource(show_spinner="Loading dataset…")
def dataset(name: str) -> tuple[np.ndarray, np.ndarray]:
    """(spins, energies) of a shipped dataset, shared read-only across sessions."""
    spins, energies = datasets.load(name)
    spins.setflags(write=False)
    energies.setflags(write=False)
    return spins, energies


def dataset_names() -> list[str]:
    return datasets.list()


def test_set_for(L: int) -> str | None:
    name = f"de_L{L}_test"
    return name if name in datasets.list() else None


def _ed_formula(L: int) -> float:
    return 0.12 * (L / 20.0) ** 5.2  # measured on the project's 2-core machine, ~L^5.2


def ed_seconds_estimate(L: int) -> float:
    """Expected wall time of one double-exchange ED (2L^2 x 2L^2 Hermitian, float64): the L^5.2 law
    measured on 2 cores, rescaled by how slow this session's last uncached solve at L >= 16 really was."""
    factor = 1.0
    try:
        factor = float(st.session_state.get("_ed_speed", 1.0))
    except Exception:  # noqa: BLE001 - outside a Streamlit session
        pass
    return _ed_formula(L) * factor


def spins_key(spins: np.ndarray) -> str:
    a = np.ascontiguousarray(spins, dtype=np.float64)
    return hashlib.sha1(str(a.shape).encode() + a.tobytes()).hexdigest()


@st.cache_resource(show_spinner=False)
def system_object(name: str, params: tuple = ()):
    """The physical system ``name`` (immutable; the 3-spin couplings are drawn once per server)."""
    return get(name, **dict(params))


@st.cache_data(max_entries=4096, show_spinner=False)
def _exact(system_name: str, params: tuple, key: str, _spins: np.ndarray) -> tuple[float, float]:
    """(energy, wall seconds of the solve). Hashed on the spins' sha1 ``key`` only."""
    system = system_object(system_name, params)
    if system_name == "double_exchange" and 2 * _spins.shape[-2] ** 2 > 1000:
        torch_one_thread()  # this thread's torch/MKL solver (used above 1000x1000): 5.5 s at L = 40 on one
        # thread of the busy 2-core machine against 17 s on two (measured)
    t0 = time.perf_counter()
    e = float(system.energy(_spins))
    return e, time.perf_counter() - t0


@dataclass
class Exact:
    energy: float
    seconds: float      # wall time of the exact solve when it was computed
    cached: bool


def exact_energy(system, spins: np.ndarray) -> Exact:
    """The exact energy of one configuration, cached across sessions by the spins' hash.

    Double exchange solves expected to take more than ~1 s run on a worker thread
    while this (script) thread draws a progress bar; no st.* call leaves this thread.
    """
    spins = np.array(spins, dtype=np.float64, copy=True)
    key = spins_key(spins)
    params = tuple(sorted(system.params().items()))
    name = system.name
    if name.startswith("three_spin"):
        params = ()  # the defaults: the authors' couplings (seed 17, 15 sites)
    est = ed_seconds_estimate(spins.shape[0]) if name == "double_exchange" else 0.0
    t0 = time.perf_counter()
    if est < 0.8:
        e, secs = _exact(name, params, key, spins)
    else:
        with ThreadPoolExecutor(max_workers=1) as pool:
            fut = pool.submit(_exact, name, params, key, spins)
            bar = None
            while True:
                try:
                    e, secs = fut.result(timeout=0.1)
                    break
                except TimeoutError:
                    pass
                elapsed = time.perf_counter() - t0
                n = 2 * spins.shape[0] ** 2
                msg = (f"Exact diagonalization of a {n}×{n} Hamiltonian: {elapsed:.1f} s of ≈{est:.1f} s")
                if bar is None:
                    bar = st.progress(0.0, text=msg)
                bar.progress(min(0.97, elapsed / est), text=msg)
            if bar is not None:
                bar.empty()
    wall = time.perf_counter() - t0
    cached = wall < 0.5 * secs
    if name == "double_exchange" and not cached and spins.shape[0] >= 16:
        try:  # calibrate the estimate to this machine's current speed
            st.session_state["_ed_speed"] = float(np.clip(secs / _ed_formula(spins.shape[0]), 0.3, 20.0))
        except Exception:  # noqa: BLE001
            pass
    return Exact(e, secs, cached=cached)


# ----------------------------------------------------------------------------- models
@dataclass
class ModelEntry:
    name: str
    source: str          # "pretrained", "session" or "uploaded"
    model: Any           # torch.nn.Module (never mutated after registration)
    meta: dict
    uid: str = ""        # stable cache key (pretrained name or a weights digest)

    @property
    def system(self) -> str:
        return system_of(self.meta)

    @property
    def arch(self) -> str:
        if not is_torch(self.model):
            return "effective"
        cfg = getattr(self.model, "config", None)
        arch = getattr(cfg, "arch", None) or ((self.meta.get("model") or {}).get("config") or {}).get("arch")
        return str(arch or self.meta.get("arch") or "?")

    @property
    def n_params(self) -> int:
        m = self.model
        try:
            if hasattr(m, "num_parameters"):
                return int(m.num_parameters())
            return int(sum(p.numel() for p in m.parameters()))
        except (TypeError, ValueError, AttributeError):
            return int((self.meta.get("model") or {}).get("num_parameters") or 0)

    def describe(self) -> str:
        """Short architecture label: "EFNN C=3 n=2", "effective (translation)", ..."""
        if not is_torch(self.model):
            kind = getattr(self.model, "kind", None) or ((self.meta.get("model") or {}).get("params") or {}).get("kind")
            return f"effective model ({kind})" if kind else "effective model"
        cfg = getattr(self.model, "config", None)
        if cfg is None:
            return self.arch
        parts = [self.arch.upper() if self.arch in ("efnn", "dnn") else self.arch]
        for k, lab in (("channels", "C"), ("width", "w"), ("layers", "n")):
            v = getattr(cfg, k, None)
            if v is not None:
                parts.append(f"{lab}={v}")
        return " ".join(parts)


def torch_one_thread():
    """torch with one intra-op thread. Batch-1 inference of these small nets is ~0.5 ms on one thread but
    50-170 ms with two OpenMP threads on a busy 2-core machine (measured); training runs started here use
    one thread too (``_runs``), so the pages stay responsive and sessions share the cores fairly."""
    import torch

    if torch.get_num_threads() != 1:
        torch.set_num_threads(1)
    return torch


def is_torch(model) -> bool:
    import torch

    return isinstance(model, torch.nn.Module)


def predict(model, spins: np.ndarray) -> np.ndarray:
    """Energies (B,) float64 of spins (B, ...) for a torch net or an ``EffectiveModel`` (numpy ``predict``)."""
    if is_torch(model):
        from app._runs import predict as torch_predict

        torch_one_thread()
        return torch_predict(model, spins)
    return np.asarray(model.predict(np.asarray(spins, dtype=np.float64)), dtype=np.float64).reshape(-1)


def system_of(meta: dict) -> str:
    s = meta.get("system", "")
    if isinstance(s, dict):
        s = s.get("name", "")
    return str(s)


def pretrained_names() -> list[str]:
    mod = optional("pretrained")
    if mod is None:
        return []
    try:
        return list(mod.list())
    except Exception:  # noqa: BLE001 - a broken pretrained dir must not break the pages
        return []


@st.cache_resource(show_spinner="Loading pretrained model…")
def pretrained(name: str) -> ModelEntry:
    """A shipped model, loaded once per server and shared read-only (eval mode)."""
    mod = optional("pretrained")
    model, meta = mod.load(name)
    if is_torch(model):
        model.eval()
        for p in model.parameters():
            p.requires_grad_(False)
    return ModelEntry(name, "pretrained", model, dict(meta), uid=f"pretrained:{name}")


def session_models() -> dict[str, ModelEntry]:
    return st.session_state.setdefault(SESSION_MODELS, {})


def register_session_model(entry: ModelEntry) -> None:
    if is_torch(entry.model):
        entry.model.eval()
    session_models()[entry.name] = entry


def models_for(system: str) -> tuple[list[ModelEntry], list[str]]:
    """Every model usable for ``system``: this session's first (what the user just trained),
    then the pretrained ones. Also returns load problems as messages (a corrupt shipped file
    must not break the page)."""
    out, problems = [m for m in session_models().values() if m.system == system], []
    for name in pretrained_names():
        try:
            entry = pretrained(name)
        except Exception as err:  # noqa: BLE001
            problems.append(f"pretrained model {name!r} could not be loaded: {err}")
            continue
        if entry.system == system:
            out.append(entry)
    return out, problems


def weights_digest(model) -> str:
    h = hashlib.sha1()
    if not is_torch(model):
        for k, v in sorted(model.to_dict().items()):
            h.update(k.encode())
            h.update(np.ascontiguousarray(v).tobytes() if isinstance(v, np.ndarray) else repr(v).encode())
        return h.hexdigest()[:16]
    for k, v in model.state_dict().items():
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def model_energy(entry: ModelEntry, spins: np.ndarray, *, repeats: int = 3) -> tuple[float, float]:
    """(energy, best-of-``repeats`` wall seconds) of one configuration, batch size 1, on the CPU."""
    best, e = math.inf, math.nan
    if not is_torch(entry.model):
        for _ in range(repeats):
            t0 = time.perf_counter()
            e = float(predict(entry.model, np.asarray(spins)[None])[0])
            best = min(best, time.perf_counter() - t0)
        return e, best
    torch = torch_one_thread()
    dtype = next(entry.model.parameters()).dtype if any(True for _ in entry.model.parameters()) else torch.float32
    x = torch.as_tensor(np.asarray(spins)[None]).to(dtype)
    with torch.no_grad():
        for _ in range(repeats):
            t0 = time.perf_counter()
            e = float(entry.model(x)[0])
            best = min(best, time.perf_counter() - t0)
    return e, best


def model_intermediates(entry: ModelEntry, spins: np.ndarray) -> dict | None:
    """``model.intermediates`` for one configuration as numpy arrays without the batch axis."""
    torch = torch_one_thread()

    net = getattr(entry.model, "net", entry.model)   # a training.Standardized wraps the net
    fn = getattr(net, "intermediates", None)
    if fn is None:
        return None
    with torch.no_grad():
        out = fn(torch.as_tensor(np.asarray(spins, dtype=np.float32)[None]))

    def np1(v):
        if isinstance(v, (list, tuple)):
            return [np1(t) for t in v]
        return v.detach().cpu().numpy()[0]

    res = {k: np1(v) for k, v in out.items()}
    if "site_energy" in res and net is not entry.model:  # back to energy units: scale * e_i + offset
        res["site_energy"] = entry.model.scale * res["site_energy"] + entry.model.offset_per_site
    return res


def ising_efnn(spins: np.ndarray, J: float = 1.0) -> dict:
    """Paper Fig. 1 for one Ising configuration (L, L): the field phi, the quasi-particles
    s*phi, their sum, the bond-by-bond energy, and the hand-built EFNN's output."""
    system = Ising2D(J=J)
    out = {"phi": system.effective_field(spins), "quasi": system.quasi_particles(spins),
           "exact": system.energy(spins)}
    nets = optional("nets")
    out["efnn"], out["source"] = None, None
    if nets is not None and hasattr(nets, "IsingEFNN"):
        torch = torch_one_thread()

        try:
            net = nets.IsingEFNN(J)
            x = torch.as_tensor(np.asarray(spins, dtype=np.float64)[None])
            with torch.no_grad():
                out["efnn"] = float(net(x)[0])
                inter = net.intermediates(x)
            out["phi"] = inter["F"][0][0].detach().cpu().numpy().reshape(spins.shape)
            out["quasi"] = inter["S"][0][0].detach().cpu().numpy().reshape(spins.shape)
            out["source"] = "efnn_core.nets.IsingEFNN"
        except Exception as err:  # noqa: BLE001 - fall back to the system's own decomposition
            out["efnn"], out["source"] = None, f"Ising2D (IsingEFNN failed: {err})"
    if out["efnn"] is None:
        out["efnn"] = float(np.asarray(out["quasi"]).sum())
        out["source"] = out["source"] or "Ising2D.effective_field / quasi_particles (IsingEFNN not available)"
    out["sum_quasi"] = float(np.asarray(out["quasi"]).sum())
    return out


def fmt_seconds(s: float) -> str:
    if s is None or not math.isfinite(s):
        return "–"
    if s < 1e-3:
        return f"{s * 1e6:.0f} µs"
    if s < 1:
        return f"{s * 1e3:.1f} ms"
    return f"{s:.2f} s"


# ----------------------------------------------------------------------------- clickable lattices
def selected_sites(state) -> list[int]:
    """Indices of the selected site markers (trace 0, one point per site) in a plotly selection state."""
    try:
        points = state.selection.points
    except AttributeError:
        try:
            points = state["selection"]["points"]
        except (KeyError, TypeError):
            return []
    out = []
    for p in points or []:
        idx = p.get("point_index", p.get("point_number"))
        if p.get("curve_number", 0) != 0 or idx is None:
            continue
        out.append(int(idx))
    return sorted(set(out))


def grid_sites(indices, L: int) -> list[tuple[int, int]]:
    """(row, col) of row-major site indices on an L x L lattice."""
    return [divmod(int(i), L) for i in indices if 0 <= int(i) < L * L]


def clickable_lattice(fig, name: str, on_sites, *, help_text: str | None = None) -> None:
    """Show a lattice figure whose site clicks / box / lasso selections call ``on_sites(indices)``
    with the indices of the selected points of trace 0 (row-major sites).

    The chart's key changes after every applied edit, so the same site can be
    clicked again (Streamlit only reports a selection when it changes).
    """
    counter = f"_{name}_edits"
    st.session_state.setdefault(counter, 0)
    key = f"{name}_{st.session_state[counter]}"

    def apply():
        sites = selected_sites(st.session_state.get(key))
        if sites:
            on_sites(sites)
            st.session_state[counter] += 1

    st.plotly_chart(fig, key=key, on_select=apply, selection_mode=("points", "box", "lasso"),
                    config={"displaylogo": False, "modeBarButtonsToRemove": ["toImage", "autoScale2d"],
                            "scrollZoom": False})
    if help_text:
        st.caption(help_text)


# ----------------------------------------------------------------------------- lab computations
def make_system(name: str):
    return system_object(name)


def energies_table(system_name: str, spins: np.ndarray) -> tuple[Exact, list[dict], list[str], list[str]]:
    """The exact energy and, for every model of this system, its energy, time, error and speed-up.

    Returns (exact, rows, problems, notes): problems are models that failed to load;
    notes are models that do not apply to this lattice (e.g. a tiled model fitted at L = 10)."""
    system = make_system(system_name)
    exact = exact_energy(system, spins)
    rows, notes = [], []
    entries, problems = models_for(system_name)
    if system_name == "ising":
        res = ising_efnn(spins)
        rows.append({"model": "hand-built EFNN (Fig. 1)", "kind": "EFNN, 1 layer", "source": "exact construction",
                     "parameters": 9, "energy": res["efnn"], "error": res["efnn"] - exact.energy, "time": math.nan,
                     "speed-up": math.nan})
    for e in entries:
        try:
            energy, secs = model_energy(e, spins)
        except Exception as err:  # noqa: BLE001 - a model that cannot run this lattice is reported, not fatal
            notes.append(f"{e.name} does not apply here: {err}")
            continue
        rows.append({"model": e.name, "kind": e.describe(), "source": e.source, "parameters": e.n_params,
                     "energy": energy, "error": energy - exact.energy, "time": secs,
                     "speed-up": exact.seconds / secs if secs > 0 else math.nan})
    return exact, rows, problems, notes


def symmetry_check(system_name: str, spins: np.ndarray, R: np.ndarray | None) -> list[dict]:
    """Energies of S and of the globally transformed configuration (R S for O(3), -S for Ising)."""
    from app import _presets

    system = make_system(system_name)
    moved = -spins if system_name == "ising" else _presets.rotate(spins, R)
    rows = [{"model": "exact (ED)" if system_name == "double_exchange" else "exact",
             "E(S)": exact_energy(system, spins).energy, "E(RS)": exact_energy(system, moved).energy}]
    for e in models_for(system_name)[0]:
        try:
            rows.append({"model": e.name, "E(S)": model_energy(e, spins, repeats=1)[0],
                         "E(RS)": model_energy(e, moved, repeats=1)[0]})
        except Exception:  # noqa: BLE001
            continue
    for r in rows:
        r["|difference|"] = abs(r["E(RS)"] - r["E(S)"])
    return rows


# ----------------------------------------------------------------------------- generalization
@st.cache_data(max_entries=512, show_spinner=False)
def _evaluate(uid: str, dataset_name: str, n: int, _model) -> dict:
    from efnn_core.metrics import scores, sites_of

    spins, energies = dataset(dataset_name)
    T = datasets.manifest(dataset_name).get("params", {}).get("T")
    x = np.array(spins[:n])  # a private writable copy of the shared read-only set
    t0 = time.perf_counter()
    pred = predict(_model, x)
    seconds = time.perf_counter() - t0
    out = scores(pred, energies[:n], sites=sites_of(x.shape), temperature=T)
    out.update(seconds=seconds, seconds_per_config=seconds / max(1, len(pred)))
    return out


def generalization_rows(entries: list[ModelEntry], Ls: list[int], n: int) -> tuple[list[dict], list[str]]:
    """Metrics of every model on the first ``n`` configurations of each de_L{L}_test set."""
    rows, failed = [], {}
    total = len(entries) * len(Ls)
    bar = st.progress(0.0, text="Evaluating models on the test sets…") if total > 2 else None
    k = 0
    for e in entries:
        for L in Ls:
            name = test_set_for(L)
            k += 1
            if name is None:
                continue
            try:
                m = _evaluate(e.uid or f"{e.source}:{e.name}", name, n, e.model)
            except Exception as err:  # noqa: BLE001
                failed.setdefault(e.name, ([], str(err)))[0].append(L)
                continue
            rows.append({"model": e.name, "source": e.source, "L": L, "n": m["n"], "RMSE": m["rmse"],
                         "relative error": m["rel_error"], "RMSE / site": m["rmse_per_site"],
                         "RMSE / L": m["rmse"] / L, "R²": m["r2"], "ms / config": 1e3 * m["seconds_per_config"]})
            if bar is not None:
                bar.progress(k / total, text=f"Evaluating {e.name} at L = {L}…")
    if bar is not None:
        bar.empty()
    problems = [f"{name} at L = {', '.join(map(str, sizes))} ({err})" for name, (sizes, err) in failed.items()]
    return rows, problems


def pretrained_table() -> list[dict]:
    """Every shipped model with the test metrics stored in its checkpoint (no weights loaded)."""
    mod = optional("pretrained")
    rows = []
    for name in pretrained_names():
        try:
            meta = mod.metadata(name)
        except Exception as err:  # noqa: BLE001
            rows.append({"model": name, "system": "?", "kind": f"unreadable: {err}"})
            continue
        m = meta.get("metrics") or {}
        model = meta.get("model") or {}
        cfg = model.get("config") or model.get("params") or {}
        kind = (f"{cfg.get('arch', '?').upper()} " + " ".join(f"{k}={cfg[k]}" for k in ("channels", "width", "layers")
                                                               if k in cfg)) if "arch" in cfg else \
            f"effective ({cfg.get('kind', '?')})"
        rows.append({"model": name, "system": system_of(meta), "kind": kind.strip(),
                     "parameters": model.get("num_parameters"), "test RMSE": m.get("rmse"),
                     "relative error": m.get("rel_error"), "R²": m.get("r2"), "test configs": m.get("n")})
    return rows


def label_stats(Ls: list[int]) -> list[dict]:
    """Mean and spread of the exact energies of each shipped test set (from the manifests)."""
    out = []
    for L in Ls:
        name = test_set_for(L)
        if name is None:
            continue
        lab = datasets.manifest(name).get("labels", {})
        out.append({"L": L, "sites N": L * L, "configurations": datasets.manifest(name).get("count"),
                    "mean E": lab.get("mean"), "std E": lab.get("std"), "mean E / N": lab.get("mean_per_site"),
                    "std E / L": (lab.get("std") or math.nan) / L})
    return out
