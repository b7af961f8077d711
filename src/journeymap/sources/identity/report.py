"""What a stitch did: the StitchReport the CLI prints and the web app can show."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Hub:
    """An identifier value kept out of merging because it links too many customers."""

    identifier_type: str
    identifier_value: str
    degree: int


@dataclass
class Component:
    """One stitched customer: its id, how many identifiers it has, the first few of them."""

    customer_id: str
    size: int
    identifiers: list[str]


@dataclass
class StitchReport:
    """Result of :func:`journeymap.sources.identity.stitch`.

    ``customers_before``/``after`` count distinct non-NULL ``customer_id`` values over
    events, feedback and customers. ``merges_by_type[t]`` counts the values of type ``t``
    that tied together rows of two or more different pre-stitch customers (a row's
    pre-stitch customer is its strongest identifier). ``hubs`` lists the flagged values,
    highest degree first (at most ``hubs_shown``); ``hubs_total`` counts them all.
    """

    customers_before: int = 0
    customers_after: int = 0
    identifiers: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    rows_without_identifier: dict[str, int] = field(default_factory=dict)
    merges_by_type: dict[str, int] = field(default_factory=dict)
    largest: list[Component] = field(default_factory=list)
    hubs: list[Hub] = field(default_factory=list)
    hubs_total: int = 0
    hub_cap: int = 20
    default_phone_region: str = "GB"
    phones_unparseable: int = 0
    iterations: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)

    def lines(self) -> list[str]:
        """Human summary for the CLI."""
        cap = "off" if self.hub_cap == 0 else str(self.hub_cap)
        out = [
            f"customers: {self.customers_before} before, {self.customers_after} after stitching",
            f"identifiers: {self.identifiers} distinct values, "
            f"{self.iterations} label-propagation iterations",
            "rows: " + ", ".join(f"{t}={n}" for t, n in self.rows.items()),
        ]
        missing = {t: n for t, n in self.rows_without_identifier.items() if n}
        if missing:
            out.append(
                "rows with no usable identifier (customer_id kept): "
                + ", ".join(f"{t}={n}" for t, n in missing.items())
            )
        merges = {t: n for t, n in self.merges_by_type.items() if n}
        out.append(
            "merges by identifier type: "
            + (", ".join(f"{t}={n}" for t, n in merges.items()) if merges else "none")
        )
        if self.phones_unparseable:
            out.append(
                f"phones not parseable with region {self.default_phone_region} "
                f"(kept as trimmed text): {self.phones_unparseable}"
            )
        out.append(f"hubs flagged (degree > {cap}, not used for merging): {self.hubs_total}")
        out += [f"  {h.identifier_type}={h.identifier_value} degree {h.degree}" for h in self.hubs]
        if self.largest:
            out.append("largest customers:")
            for c in self.largest:
                more = "" if len(c.identifiers) >= c.size else ", ..."
                out.append(
                    f"  {c.customer_id}: {c.size} identifiers ({', '.join(c.identifiers)}{more})"
                )
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())
