"""pydantic models of journey.yaml (the designed journey map).

The models check types and shapes only; cross-references (a touchpoint's stage, the
goal, duplicate ids, regexes) are checked by :mod:`journeymap.spec.checks` so that
every problem in a file can be reported at once, each with its line.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    field_validator,
    model_serializer,
    model_validator,
)

from journeymap.spec.conditions import OPERATORS, Scalar

Id = Annotated[
    str,
    Field(
        pattern=r"^[a-z][a-z0-9_]*$",
        description="lowercase snake_case, unique per kind",
        json_schema_extra={"examples": ["product_page"]},
    ),
]
ListOrOne = str | list[str]

KpiMetric = Literal[
    "reach",
    "conversion",
    "dropoff",
    "exit_rate",
    "median_time_s",
    "csat",
    "nps",
    "ces",
    "emotion",
]
Severity = Literal["low", "medium", "high", "critical"]
Status = Literal["idea", "planned", "in_progress", "done", "dropped"]


class _Model(BaseModel):
    """Strict about unknown keys: a misspelt key is reported, never ignored."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Condition(_Model):
    """Operators applied to one value; written as a scalar (= ``eq``) or a mapping.

    ``segment: price_sensitive`` and ``segment: {eq: price_sensitive}`` are the same
    condition; the scalar form is kept when the model is written back.
    """

    eq: Scalar | None = None
    ne: Scalar | None = None
    in_: list[Scalar] | None = Field(default=None, alias="in")
    not_in: list[Scalar] | None = None
    gt: float | None = None
    gte: float | None = None
    lt: float | None = None
    lte: float | None = None
    regex: str | None = None
    exists: bool | None = None

    _scalar_form: bool = PrivateAttr(default=False)

    @model_validator(mode="wrap")
    @classmethod
    def _scalar_means_eq(cls, data: Any, handler: Any) -> Condition:
        if isinstance(data, Condition):
            return data
        if isinstance(data, list):
            raise ValueError("a list is ambiguous here; write {in: [...]} to test membership")
        if data is None:
            raise ValueError("a condition needs a value; write {exists: false} to test absence")
        scalar = not isinstance(data, dict)
        model = handler({"eq": data} if scalar else data)
        model._scalar_form = scalar
        return model

    @model_validator(mode="after")
    def _at_least_one(self) -> Condition:
        if not self.operators():
            raise ValueError(f"give at least one operator: {', '.join(OPERATORS)}")
        return self

    def operators(self) -> dict[str, Any]:
        """The operators that are set, keyed by their YAML name (``in``, not ``in_``)."""
        found = {}
        for name in OPERATORS:
            value = getattr(self, "in_" if name == "in" else name)
            if value is not None:
                found[name] = value
        return found

    @model_serializer(mode="plain")
    def _serialize(self) -> Any:
        ops = self.operators()
        if self._scalar_form and list(ops) == ["eq"]:
            return ops["eq"]
        return ops

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: Any, handler: Any) -> dict[str, Any]:
        object_schema = handler(core_schema)
        return {
            "anyOf": [
                {"type": ["string", "number", "boolean"], "description": "equals"},
                object_schema,
            ]
        }


Conditions = dict[str, Condition]


class EventRegex(_Model):
    """``{regex: "^ad_"}``: event names the pattern finds (unanchored search)."""

    regex: str


class MatchRule(_Model):
    """How raw events map to a touchpoint; every given part must hold."""

    event: str | list[str] | EventRegex | None = Field(
        default=None,
        description="exact name, a list of names, or {regex: pattern}",
        union_mode="left_to_right",
    )
    channel: ListOrOne | None = Field(default=None, description="the event's channel(s)")
    where: Conditions | None = Field(default=None, description="conditions on event properties")

    @field_validator("event", mode="before")
    @classmethod
    def _event_shape(cls, value: Any) -> Any:
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            return value
        if isinstance(value, dict) and set(value) == {"regex"} and isinstance(value["regex"], str):
            return value
        raise ValueError("expected an event name, a non-empty list of names, or {regex: pattern}")

    @field_validator("channel", mode="before")
    @classmethod
    def _channel_shape(cls, value: Any) -> Any:
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            return value
        raise ValueError("expected a channel name or a non-empty list of channel names")

    @model_validator(mode="after")
    def _not_empty(self) -> MatchRule:
        if self.event is None and self.channel is None and not self.where:
            raise ValueError("a match rule needs at least one of: event, channel, where")
        return self

    def event_names(self) -> list[str]:
        """Exact event names (empty for a regex or no event part)."""
        if isinstance(self.event, str):
            return [self.event]
        if isinstance(self.event, list):
            return list(self.event)
        return []

    def channels(self) -> list[str]:
        """Channels the event must come from (empty = any channel)."""
        if self.channel is None:
            return []
        return [self.channel] if isinstance(self.channel, str) else list(self.channel)


class KPI(_Model):
    """A target for one metric at a touchpoint."""

    metric: KpiMetric
    target: float
    direction: Literal["above", "below"] = "above"


class Persona(_Model):
    """A customer archetype, optionally assigned from customer attributes by ``rule``."""

    id: Id
    name: str
    description: str | None = None
    goals: list[str] = Field(default_factory=list)
    frustrations: list[str] = Field(default_factory=list)
    rule: Conditions | None = Field(
        default=None, description="attribute -> condition; all must hold"
    )


class Stage(_Model):
    """One step of the journey; stages are listed in journey order."""

    id: Id
    name: str
    goal: str | None = Field(default=None, description="the customer's goal in this stage")
    owner: str | None = Field(default=None, description="owning department")
    description: str | None = None


class Touchpoint(_Model):
    """A moment of contact; file order is match priority."""

    id: Id
    name: str
    stage: str
    channel: str | None = None
    owner: str | None = None
    expectation: str | None = None
    description: str | None = None
    match: MatchRule | None = None
    kpis: list[KPI] = Field(default_factory=list)


class Goal(_Model):
    """The conversion goal: reaching this touchpoint counts as converting."""

    touchpoint: str | None = None


class PainPoint(_Model):
    """A known problem at a touchpoint or a stage."""

    id: Id | None = None
    title: str
    touchpoint: str | None = None
    stage: str | None = None
    description: str | None = None
    severity: Severity = "medium"


class Opportunity(_Model):
    """An improvement idea, with impact and effort on a 1..5 scale."""

    id: Id | None = None
    title: str
    touchpoint: str | None = None
    stage: str | None = None
    description: str | None = None
    impact: int = Field(default=3, ge=1, le=5)
    effort: int = Field(default=3, ge=1, le=5)
    owner: str | None = None
    status: Status = "idea"


class JourneySpec(_Model):
    """The whole designed map, as in journey.yaml."""

    version: Literal[1] = 1
    name: str
    description: str | None = None
    personas: list[Persona] = Field(default_factory=list)
    stages: list[Stage] = Field(default_factory=list)
    touchpoints: list[Touchpoint] = Field(default_factory=list)
    goal: Goal | None = None
    pain_points: list[PainPoint] = Field(default_factory=list)
    opportunities: list[Opportunity] = Field(default_factory=list)

    def stage(self, stage_id: str) -> Stage:
        """The stage with this id (KeyError naming the known ids otherwise)."""
        return _find(self.stages, stage_id, "stage")

    def touchpoint(self, touchpoint_id: str) -> Touchpoint:
        """The touchpoint with this id (KeyError naming the known ids otherwise)."""
        return _find(self.touchpoints, touchpoint_id, "touchpoint")

    def persona(self, persona_id: str) -> Persona:
        """The persona with this id (KeyError naming the known ids otherwise)."""
        return _find(self.personas, persona_id, "persona")

    @property
    def stage_order(self) -> list[str]:
        """Stage ids in journey order."""
        return [s.id for s in self.stages]

    def touchpoints_in(self, stage_id: str) -> list[Touchpoint]:
        """Touchpoints of one stage, in file order."""
        self.stage(stage_id)
        return [t for t in self.touchpoints if t.stage == stage_id]

    def stage_of(self, touchpoint_id: str) -> str:
        """The stage id of a touchpoint."""
        return self.touchpoint(touchpoint_id).stage

    def to_data(self) -> dict[str, Any]:
        """Plain data as written to YAML.

        A field is written when it was given (read from the file, passed in, assigned)
        or differs from its default (say a list appended to), so saving never fills a
        hand-written file with defaults and never loses an edit.
        """
        return {"version": self.version, **_plain_data(self)}


def _find(items: list[Any], item_id: str, kind: str) -> Any:
    for item in items:
        if item.id == item_id:
            return item
    known = ", ".join(repr(i.id) for i in items) or "none"
    raise KeyError(f"{kind} {item_id!r} is not defined (known: {known})")


def _plain_data(model: BaseModel) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        if value is None:
            continue
        given = name in model.model_fields_set
        if not given and value == field.get_default(call_default_factory=True):
            continue
        out[field.alias or name] = _plain(value)
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, Condition):
        return value.model_dump(mode="json")
    if isinstance(value, BaseModel):
        return _plain_data(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value
