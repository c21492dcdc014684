"""Property-based tests (hypothesis) of every parser of untrusted input and of the library validators:
whatever the input, the only outcomes are a valid result or a ValueError (never TypeError, KeyError,
RecursionError, OverflowError, ...), and accepted results satisfy the validator's contract."""

import io
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from efnn_core import checkpoint, data, safejson
from efnn_core.nets import EffectiveModel
from efnn_core.systems import DoubleExchange, _checks

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=6), kids, max_size=4),
    max_leaves=20)
anything = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.complex_numbers(), st.text(max_size=5),
                     st.lists(st.integers(), max_size=3), st.just(float("inf")), st.just(10**400))


@FAST
@given(st.text(max_size=300) | st.binary(max_size=300))
def test_safejson_only_parses_or_refuses(text):
    try:
        safejson.loads(text)
    except safejson.JSONError as err:
        assert "\n" not in str(err).strip() or "JSON" in str(err)


@FAST
@given(json_values)
def test_safejson_round_trips_bounded_json(value):
    text = json.dumps(value)
    try:
        got = safejson.loads(text)
    except safejson.JSONError as err:  # only for the bounds: depth, big integers
        assert "depth" in str(err) or "digits" in str(err)
        return
    assert got == json.loads(text)


@FAST
@given(st.integers(1, 400), st.sampled_from("[{"))
def test_safejson_depth_is_exact(n, bracket):
    close = "]" if bracket == "[" else "}"
    text = (bracket + ('"k":' if bracket == "{" else "")) * n
    text = text[: -4] if bracket == "{" else text
    assert safejson.depth(("[" * n) + ("]" * n)) == n
    if n > safejson.MAX_DEPTH:
        with pytest.raises(safejson.JSONError, match="depth"):
            safejson.loads("[" * n + "]" * n)
    del text, close


@FAST
@given(anything, anything)
def test_lattice_size_and_count_accept_only_sane_integers(L, n):
    for fn, v in ((_checks.lattice_size, L), (_checks.count, n)):
        try:
            out = fn(v)
        except ValueError:
            continue
        assert isinstance(out, int) and out >= 1 and out == v


@FAST
@given(anything)
def test_generator_accepts_only_seeds(rng):
    try:
        g = _checks.generator(rng)
    except ValueError:
        return
    assert isinstance(g, np.random.Generator)


@FAST
@given(st.dictionaries(st.sampled_from(["t", "J", "mu", "T"]), anything, max_size=4))
def test_double_exchange_parameters(params):
    try:
        de = DoubleExchange(**params)
    except ValueError:
        return
    e = de.energy(de.sample(3, 1, 0)[0])
    assert math.isfinite(e)


@FAST
@given(st.lists(st.floats(width=64) | st.complex_numbers(max_magnitude=2), min_size=27, max_size=27))
def test_lattice_spins_validator(values):
    arr = np.array(values).reshape(3, 3, 3)
    try:
        s = _checks.lattice_spins(arr)
    except ValueError:
        return
    assert s.dtype == np.float64 and np.allclose(np.linalg.norm(s, axis=-1), 1, atol=_checks.UNIT_TOL)


@FAST
@given(st.dictionaries(st.sampled_from(["kind", "tile", "ridge", "max_range", "window", "max_features", "L", "coef"]),
                       anything | st.sampled_from(["tiled", "translation"]), max_size=8))
def test_effective_from_dict_only_builds_bounded_models(d):
    try:
        m = EffectiveModel.from_dict(d)
    except ValueError:
        return
    assert m.window <= 4 and m.max_range <= 8 and m.max_features <= 12000
    if m.L is not None:
        assert m.num_parameters(m.L) <= m.max_features or m.kind == "translation"


@FAST
@given(json_values)
def test_checkpoint_metadata_parser(value):
    try:
        checkpoint.load_bytes(b"\0" * 16, json.dumps(value).encode())
    except checkpoint.CheckpointError:
        pass


@FAST
@given(st.binary(max_size=200))
def test_safetensors_header_parser(blob):
    try:
        checkpoint._parse_header(blob)
    except checkpoint.CheckpointError:
        pass


@FAST
@given(st.integers(0, 2000), json_values)
def test_safetensors_header_json(n, value):
    h = json.dumps({"w": value} if not isinstance(value, dict) else value).encode()
    blob = len(h).to_bytes(8, "little") + h + b"\0" * (n % 64)
    try:
        checkpoint._parse_header(blob)
    except checkpoint.CheckpointError:
        pass


@FAST
@given(json_values)
def test_manifest_validator(value):
    try:
        data.check_manifest(value, "x")
    except data.DatasetError:
        return
    assert isinstance(value, dict)


@FAST
@given(st.binary(max_size=400), st.sampled_from(["a.npy", "a.json", "a.csv", "a.txt", "a"]),
       st.sampled_from(["double_exchange", "ising", "three_spin_binary"]))
def test_spin_file_parser_bytes(blob, name, system):
    from app import catalog, uploads as _uploads  # noqa: F401
    from efnn_core.systems import get as get_system

    try:
        _uploads.parse_spins(name, blob, system=get_system(system), view=catalog.system(system).view)
    except ValueError:
        pass


@FAST
@given(st.lists(st.floats(width=64), min_size=48, max_size=48))
def test_spin_file_parser_npy(values):
    from app import catalog, uploads as _uploads  # noqa: F401
    from efnn_core.systems import get as get_system

    buf = io.BytesIO()
    np.save(buf, np.array(values).reshape(4, 4, 3))
    try:
        s = _uploads.parse_spins("a.npy", buf.getvalue(), system=get_system("double_exchange"), view="vector")
    except _uploads.NonUnitSpins as err:
        n = np.linalg.norm(err.normalised, axis=-1)
        assert np.allclose(n, 1)  # "Normalise and load" never stores a zero vector
        return
    except ValueError:
        return
    assert np.allclose(np.linalg.norm(s, axis=-1), 1)


@FAST
@given(json_values)
def test_spin_file_parser_json(value):
    from app import catalog, uploads as _uploads  # noqa: F401
    from efnn_core.systems import get as get_system

    try:
        _uploads.parse_spins("a.json", json.dumps(value).encode(), system=get_system("double_exchange"), view="vector")
    except ValueError:
        pass


@FAST
@given(st.lists(st.lists(st.text(max_size=12), min_size=2, max_size=2), min_size=1, max_size=4),
       st.lists(st.text(max_size=8), min_size=2, max_size=2, unique=True))
def test_markdown_table_shows_any_text_literally(rows, header):
    """app.state.table escapes every cell (Markdown, HTML, pipes, backslashes, line breaks) and read_table
    gets the same text back: what a name says is what the table shows."""
    import pandas as pd

    from app import state

    class Page:
        def markdown(self, text):
            self.text = text

    page = Page()
    state.table(pd.DataFrame(rows, columns=header), page, index=False)
    assert len(page.text.splitlines()) == 2 + len(rows)  # one line per row: no cell broke the table
    assert "<" not in page.text.replace("\\<", "")  # no raw HTML
    back = state.read_table(page.text)
    flat = lambda t: " ".join(t.split())  # noqa: E731
    assert list(back.columns) == [flat(h) for h in header]
    assert back.values.tolist() == [[flat(c) for c in r] for r in rows]
