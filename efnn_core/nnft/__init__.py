"""Field theory on neurons: finite-width cos-network ensembles of a cutoff scalar field (Sen & Vaidya,
arXiv:2508.03810, reconstructed in shared/specs/nn-field-theory.md).

* :mod:`ensembles`  -- sampling M networks of width N (box or continuum, d = 1, 2, alpha = -1 or 0), seeded;
* :mod:`estimators` -- Monte Carlo estimators returning ``Estimate(value, stderr)``;
* :mod:`theory`     -- the closed-form predictions they are tested against.

Example::

    >>> from efnn_core import nnft
    >>> cfg = nnft.NeuronFieldConfig(d=1, N=20, L=20.0, cutoff=5.0)
    >>> est = nnft.momentum_four_point(cfg, M=20_000, seed=0)
    >>> float(est.pair.z(nnft.theory.four_point_pair(cfg)))      # within a few standard errors  # doctest: +SKIP
"""

from . import theory
from ._box import BoxModes, box_modes
from .ensembles import (ARCHITECTURES, NeuronFieldConfig, Neurons, amplitude_scale, box_field_grid, box_spectrum,
                        sample_box_spectrum,
                        field_on_line, iter_batches, sample_fields, sample_neurons)
from .estimators import (Estimate, MomentumFourPoint, OLambda, PositionFourPoint, TwoPoint, generic_quartets,
                         jackknife, momentum_four_point, neuron_evaluation_rate, olambda_correction,
                         position_four_point, two_point)

__all__ = [
    "theory", "BoxModes", "box_modes", "ARCHITECTURES", "NeuronFieldConfig", "Neurons", "amplitude_scale",
    "box_field_grid", "box_spectrum", "sample_box_spectrum", "field_on_line", "iter_batches", "sample_fields", "sample_neurons",
    "Estimate", "MomentumFourPoint", "OLambda", "PositionFourPoint", "TwoPoint", "generic_quartets", "jackknife",
    "momentum_four_point", "neuron_evaluation_rate", "olambda_correction", "position_four_point", "two_point",
]
