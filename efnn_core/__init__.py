"""efnn_core: Effective Field Neural Networks and the many-body systems they learn.

Sub-packages, imports flowing one way: ``systems`` (Hamiltonians) -> ``ed``
(exact solvers) -> ``data`` (labelled datasets); ``nets`` (networks, no
physics imports); ``training`` joins data and nets; ``pretrained`` loads
shipped checkpoints; ``nnft`` is the field-theory-on-neurons module.
"""

__version__ = "0.1.0"
