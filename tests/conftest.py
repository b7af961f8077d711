"""Shared test configuration.

Sets RETENTIONEERING_NO_TRACK before anything imports retentioneering: the oracle
library sends telemetry otherwise, and tests must never touch the network.
"""

from __future__ import annotations

import os

os.environ.setdefault("RETENTIONEERING_NO_TRACK", "1")
