"""The journey map as a file: models, round-trip YAML, validation and matching.

``load_spec`` reads and validates journey.yaml; ``SpecDocument`` edits it keeping
comments; ``validate_file`` lists every problem with file:line. Matching of events
to touchpoints and customers to personas lives in :mod:`journeymap.spec.matching`
(imported on demand: it needs Ibis).
"""

from __future__ import annotations

from journeymap.spec.document import SpecDocument
from journeymap.spec.issues import SpecError, SpecIssue
from journeymap.spec.models import (
    KPI,
    Condition,
    EventRegex,
    Goal,
    JourneySpec,
    MatchRule,
    Opportunity,
    PainPoint,
    Persona,
    Stage,
    Touchpoint,
)
from journeymap.spec.schema import spec_json_schema
from journeymap.spec.starter import starter_spec_text
from journeymap.spec.validate import (
    check_spec,
    load_spec,
    save_spec,
    validate_file,
    validate_text,
)

__all__ = [
    "KPI",
    "Condition",
    "EventRegex",
    "Goal",
    "JourneySpec",
    "MatchRule",
    "Opportunity",
    "PainPoint",
    "Persona",
    "SpecDocument",
    "SpecError",
    "SpecIssue",
    "Stage",
    "Touchpoint",
    "check_spec",
    "load_spec",
    "save_spec",
    "spec_json_schema",
    "starter_spec_text",
    "validate_file",
    "validate_text",
]
