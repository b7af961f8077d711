"""Fixtures of the engine tests; the log generators and oracles live in engine/logs.py."""

from engine.logs import log, ws  # noqa: F401  (re-exported as fixtures)
