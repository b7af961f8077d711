"""Realistic demo data with planted ground truth: an online retailer's journeys.

``generate(out_dir)`` writes a whole workspace (journey.yaml, journeymap.toml, events per
source system, customer records, survey feedback) plus ``ground_truth.json`` and
``truth/`` describing what was planted, then ingests it through the workspace API.
"""

from __future__ import annotations

from journeymap.demo.generator import DemoError, DemoResult, generate

__all__ = ["DemoError", "DemoResult", "generate"]
