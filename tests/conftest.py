"""Shared fixtures. Tests run from the repository root with `python -m pytest`."""

import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def pytest_collection_modifyitems(config, items):
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except ImportError:  # pragma: no cover
        has_cuda = False
    skip = pytest.mark.skip(reason="no CUDA device on this machine (gpu tests run only where one is present)")
    for item in items:
        if "gpu" in item.keywords and not has_cuda:
            item.add_marker(skip)
