"""Imports the modules that register CLI commands beyond ``data`` (train, evaluate, ...)."""

from . import train_cli  # noqa: F401,E402 - train, evaluate
from . import pretrain  # noqa: F401
from . import reproduce  # noqa: F401
