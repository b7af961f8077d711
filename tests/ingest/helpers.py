"""Helpers for ingest tests: a workspace with a tiny spec, and whole-warehouse snapshots."""

from __future__ import annotations

from pathlib import Path

from journeymap.workspace import Workspace

TINY_SPEC = """\
version: 1
name: Test journey
personas:
  - id: big_spender
    name: Big spender
    rule:
      tier: gold
stages:
  - id: discover
    name: Discover
  - id: buy
    name: Buy
touchpoints:
  - id: home
    name: Home page
    stage: discover
    match:
      event: view
  - id: checkout
    name: Checkout
    stage: buy
    match:
      event: {regex: "^(buy|pay)$"}
goal:
  touchpoint: checkout
"""


def make_workspace(root: Path, timezone: str = "UTC") -> Workspace:
    """A workspace whose naive timestamps are read in ``timezone``."""
    ws = Workspace.create(root, spec=TINY_SPEC)
    if timezone != "UTC":
        ws.close()
        toml = root / "journeymap.toml"
        toml.write_text(toml.read_text().replace('timezone = "UTC"', f'timezone = "{timezone}"'))
        ws = Workspace(root)
    return ws


def snapshot(workspace: Workspace) -> dict:
    """Every canonical table as sorted records plus data_version: to compare states."""
    from journeymap.workspace.schemas import CANONICAL

    out: dict = {"data_version": workspace.data_version}
    for name in CANONICAL:
        df = workspace.to_pandas(name)
        out[name] = sorted(map(repr, df.astype(str).to_dict("records")))
        out[name + ".columns"] = list(df.columns)
    return out
