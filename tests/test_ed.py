"""The batched, multi-process ED equals the one-configuration reference."""

import numpy as np
import pytest

from efnn_core.solvers import ed
from efnn_core.systems import DoubleExchange

DE = DoubleExchange()


def test_pool_equals_serial_and_single_precision_error_is_small(rng):
    spins = DE.sample(6, 20, rng)
    serial = np.array([DE.energy(s) for s in spins])
    np.testing.assert_allclose(ed.energies(DE, spins, workers=2, chunk=3), serial, atol=1e-10)
    single = ed.energies(DE, spins, workers=1, precision="single")
    assert np.abs(single - serial).max() < 1e-3 * DE.T


def test_callback_reports_progress_and_can_stop(rng):
    spins = DE.sample(4, 12, rng)
    seen = []
    ed.energies(DE, spins, workers=1, chunk=4, callback=lambda d, t: seen.append((d, t)))
    assert seen == [(4, 12), (8, 12), (12, 12)]
    with pytest.raises(InterruptedError, match="after 4 of 12"):
        ed.energies(DE, spins, workers=1, chunk=4, callback=lambda d, t: False)


def test_iter_energies_streams_chunks_in_order(rng):
    spins = DE.sample(4, 10, rng)
    starts = [s for s, _ in ed.iter_energies(DE, spins, workers=2, chunk=3)]
    assert starts == [0, 3, 6, 9]


def test_rejects_a_single_configuration():
    with pytest.raises(ValueError, match=r"batch \(B, L, L, 3\)"):
        ed.energies(DE, DE.sample(4, 1, 0)[0])
