"""The compiled direct periodic convolution (``efnn_core.nets._native``): equal to ATen's circular
convolution for every shape the networks use (and awkward ones), used by small-batch CPU inference,
traceable by ``frozen``, and optional: disabled or unbuildable, everything falls back to ATen."""

import warnings

import pytest
import torch
import torch.nn.functional as F

from efnn_core import _cbuild
from efnn_core.nets import ARCHS, build, frozen
from efnn_core.nets import _native, _ops
from efnn_core.nets._reference import reference

needs_kernel = pytest.mark.skipif(not _native.available(), reason="no C compiler here: the ATen fallback is tested")


def circular(x, k):
    """Periodic padding by indexing: correct for any kernel size, also k > L."""
    L, h = x.shape[-1], k // 2
    idx = torch.arange(-h, L + h) % L
    return x[..., idx, :][..., idx]


@needs_kernel
@pytest.mark.parametrize("L", [3, 4, 10, 17, 40, 70])
@pytest.mark.parametrize("k", [1, 3, 5, 7])
def test_conv_equals_aten(L, k):
    g = torch.Generator().manual_seed(L * 10 + k)
    for b, ci, co, groups, bias in [(1, 3, 3, 1, True), (2, 3, 3, 4, True), (3, 2, 5, 3, False), (1, 9, 9, 1, True),
                                    (4, 6, 3, 1, True), (1, 3, 1, 1, True)]:
        x = torch.randn(b, ci * groups, L, L, generator=g)
        w = torch.randn(co * groups, ci, k, k, generator=g)
        bb = torch.randn(co * groups, generator=g) if bias else None
        ref = F.conv2d(circular(x, k), w, bb, groups=groups)
        torch.testing.assert_close(_native.conv(x, w, bb, groups), ref, rtol=1e-5, atol=1e-5 * ref.abs().max())


@needs_kernel
@pytest.mark.parametrize("L", [3, 5, 10, 40, 70])
@pytest.mark.parametrize("k", [1, 5, 7])
def test_symmetrize_equals_the_products_of_convolutions(L, k):
    g = torch.Generator().manual_seed(L + k)
    spins = F.normalize(torch.randn(2, L, L, 3, generator=g), dim=-1)
    w = torch.randn(2 * 5, 1, k, k, generator=g)  # K = 5 (odd: the last pass holds one kernel pair)
    maps = F.conv2d(circular(spins.permute(3, 0, 1, 2).reshape(6, 1, L, L), k), w).view(3, 2, 2, 5, L, L)
    ref = (maps[:, :, 0] * maps[:, :, 1]).sum(0)
    torch.testing.assert_close(_native.symmetrize(spins, w), ref, rtol=1e-5, atol=1e-5 * ref.abs().max())


@needs_kernel
@pytest.mark.parametrize("arch", ARCHS)
def test_small_batch_inference_uses_the_kernel_and_matches_the_reference(arch):
    m = build(arch, "lattice", channels=3, layers=3, seed=2).eval()
    for b, L in [(1, 40), (3, 7), (4, 12)]:
        x = F.normalize(torch.randn(b, L, L, 3, generator=torch.Generator().manual_seed(b)), dim=-1)
        with torch.no_grad():
            assert _ops.native(x) and not _ops.native(torch.cat([x] * 5))  # 1..4 configurations only
            e, e_ref = m(x), reference(m)(x)
        torch.testing.assert_close(e, e_ref, rtol=1e-5, atol=1e-5 * e_ref.abs().max())


@needs_kernel
def test_frozen_traces_the_kernel():
    m = build("efnn", "lattice", channels=3, layers=2, seed=3).eval()
    f = frozen(m, (1, 16, 16, 3))
    assert "efnn::periodic" in str(f.graph.graph)
    x = F.normalize(torch.randn(1, 16, 16, 3), dim=-1)
    with torch.no_grad():
        torch.testing.assert_close(f(x), reference(m)(x), rtol=1e-5, atol=1e-4)


def test_disabled_or_unbuildable_kernel_falls_back_to_aten(monkeypatch, tmp_path):
    m = build("dnn", "lattice", channels=2, layers=2, seed=4).eval()
    x = F.normalize(torch.randn(1, 9, 9, 3), dim=-1)
    with torch.no_grad():
        expected = reference(m)(x)
    monkeypatch.setattr(_native, "_tried", False)
    monkeypatch.setattr(_native, "_lib", None)
    monkeypatch.setenv("EFNN_NATIVE", "0")
    assert _native.library() is None and not _ops.native(x)
    with torch.no_grad():
        torch.testing.assert_close(m(x), expected, rtol=1e-5, atol=1e-5)
    monkeypatch.setattr(_native, "_tried", False)
    monkeypatch.setenv("EFNN_NATIVE", "1")
    monkeypatch.setenv("CC", str(tmp_path / "no-such-compiler"))
    monkeypatch.setenv("EFNN_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.warns(RuntimeWarning, match="compiled periodic convolution unavailable .*no-such-compiler"):
        assert _native.library() is None
    assert not list((tmp_path / "cache").iterdir())  # no half-built library left behind
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # said once, not on every call
        assert _native.library() is None
        with torch.no_grad():
            torch.testing.assert_close(m(x), expected, rtol=1e-5, atol=1e-5)
    with pytest.raises(RuntimeError, match="not available"):
        _native.conv(x.permute(0, 3, 1, 2), torch.ones(3, 3, 5, 5), None, 1)


def test_a_folder_others_can_write_to_is_never_used(monkeypatch, tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    monkeypatch.setenv("EFNN_CACHE_DIR", str(shared))
    monkeypatch.setattr(_cbuild.tempfile, "gettempdir", lambda: str(tmp_path / "tmp"))
    folder = _cbuild.folder()
    assert folder != shared and folder.parent == tmp_path / "tmp" and folder.stat().st_mode & 0o777 == 0o700
