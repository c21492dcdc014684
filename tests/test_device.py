"""Device choice and thread settings."""

import pytest
import torch

from efnn_core import device


def test_explicit_cpu_and_auto():
    assert device.pick_device("cpu") == torch.device("cpu")
    assert device.pick_device(" CPU ") == torch.device("cpu")
    auto = device.pick_device("auto")
    if torch.cuda.is_available():
        assert auto.type == "cuda"
    elif device._mps_available():
        assert auto.type == "mps"
    else:
        assert auto == torch.device("cpu")
    assert device.pick_device(None) == auto
    assert device.pick_device(torch.device("cpu")) == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA present")
def test_unavailable_cuda_is_refused_with_the_fix():
    with pytest.raises(ValueError, match="CUDA is not available here; use --device auto or cpu"):
        device.pick_device("cuda")


@pytest.mark.parametrize("bad", ["tpu", "gpu0", "cuda:x"])
def test_unknown_devices(bad):
    with pytest.raises(ValueError, match="device"):
        device.pick_device(bad)


def test_set_threads_and_usable_cores():
    before = torch.get_num_threads()
    try:
        assert device.set_threads(1) == 1 == torch.get_num_threads()
        n = device.usable_cores()
        assert 1 <= n <= (torch.multiprocessing.cpu_count() or n)
        assert 1 <= device.set_threads() <= n  # auto: depends on the current load
        with pytest.raises(ValueError, match=">= 1"):
            device.set_threads(0)
    finally:
        torch.set_num_threads(before)


def test_auto_threads_follow_the_load(monkeypatch):
    monkeypatch.setattr(device, "usable_cores", lambda: 2)
    for load, want in [(0.0, 2), (0.9, 2), (1.2, 1), (6.0, 1)]:
        monkeypatch.setattr(device.os, "getloadavg", lambda load=load: (load, load, load))
        assert device.auto_threads() == want, load


def test_dtypes():
    assert device.resolve_dtype("float64") is torch.float64
    assert device.resolve_dtype(torch.float32) is torch.float32
    with pytest.raises(ValueError, match="float16"):
        device.resolve_dtype("float16")
    with pytest.raises(ValueError, match="MPS does not support float64"):
        device.resolve_dtype("float64", torch.device("mps"))


def test_describe_cpu():
    assert device.describe(torch.device("cpu")).startswith("cpu (")


@pytest.mark.gpu
def test_cuda_is_picked_and_described():
    d = device.pick_device("auto")
    assert d.type == "cuda" and device.pick_device("cuda:0").index == 0
    assert "cuda:0" in device.describe(torch.device("cuda"))
