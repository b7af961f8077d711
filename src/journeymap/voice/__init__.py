"""Voice of the customer: what customers said, turned into the emotion lane of the map.

Modules, from the bottom up:

- :mod:`~journeymap.voice.settings`: the ``[voice]`` settings with their defaults and
  score scales (ingest validates scores against the same scales).
- :mod:`~journeymap.voice.stats`: 95% intervals (Wilson, Student t, NPS, Fisher z).
- :mod:`~journeymap.voice.formulas`: NPS, CSAT, CES and the per-response emotion formula.
- :mod:`~journeymap.voice.sentiment`: offline VADER over distinct texts, cached by text
  hash in the ``sentiment_cache`` table, spread over all cores.
- :mod:`~journeymap.voice.attach`: refresh step 4, attaching feedback to touchpoints.
- :mod:`~journeymap.voice.spec_view`, :mod:`~journeymap.voice.groups`: the spec facts and
  grouping columns (stage, persona) the analyses share.
- :mod:`~journeymap.voice.scores`, :mod:`~journeymap.voice.emotions`,
  :mod:`~journeymap.voice.themes` (with :mod:`~journeymap.voice.text` and
  :mod:`~journeymap.voice.stopwords`), :mod:`~journeymap.voice.drivers`: the analyses,
  on plain Ibis tables.
- :mod:`~journeymap.voice.api`: the same analyses taking the engine's ``Analysis``.
"""
