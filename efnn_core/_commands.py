"""Imports the modules that register CLI commands beyond ``data`` (train, evaluate, ...)."""
