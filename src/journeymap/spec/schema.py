"""JSON Schema of journey.yaml, for editors (YAML language servers) and the web app."""

from __future__ import annotations

from typing import Any

from journeymap.spec.models import JourneySpec

SCHEMA_ID = "https://journeymap.dev/schema/journey-v1.json"


def spec_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) that a journey.yaml document follows.

    It describes shapes only; cross-references (a touchpoint's stage exists, ids are
    unique) are checked by ``journeymap validate``.
    """
    schema = JourneySpec.model_json_schema(by_alias=True)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **schema,
    }
