"""The score and emotion formulas, written once as Ibis expressions and pure functions.

Definitions (all documented here and nowhere else):

- **NPS** (0..10 answers): promoters answer 9-10, detractors 0-6, passives 7-8.
  ``NPS = 100 · (promoters - detractors) / n`` in points (-100..100); interval in
  :func:`journeymap.voice.stats.nps_interval`.
- **CSAT** (1..5): ``mean`` mode = mean score with a Student-t interval; ``top2box`` mode =
  share answering in the top two points of the scale (4 or 5 of 5) with a Wilson interval.
- **CES** (CES 2.0, 1..7, higher = easier): mean score with a Student-t interval.
- **Emotion** per response on the -2..+2 scale of journey maps::

      s = 2 · (score - lowest) / (highest - lowest) - 1     (score of its kind, in -1..1)
      c = VADER compound of the text                         (-1..1, only when text exists)
      emotion = 2 · mean(available of s, c)                  (NULL when neither exists)

  so a 10/10 NPS with "love it" (c ≈ 0.64) gives 2 · (1 + 0.64) / 2 = 1.64, and a ticket
  with no score and text "refund never arrived" gives 2 · c.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from journeymap.voice.settings import VoiceSettings

PROMOTER_MIN = 9
DETRACTOR_MAX = 6
SCORED_KINDS = ("nps", "csat", "ces")


def normalised_score_expr(feedback: ir.Table, vs: VoiceSettings) -> ir.FloatingColumn:
    """The response's score mapped linearly onto -1..1 by its kind's scale (clipped).

    NULL for kinds without a scale (tickets) and for missing scores.
    """
    kind, score = feedback.kind, feedback.score.cast("float64")
    branches = [
        (kind == k, 2.0 * (score - low) / (high - low) - 1.0)
        for k, (low, high) in vs.scales.items()
    ]
    if not branches:
        return ibis.null("float64")
    raw = ibis.cases(*branches, else_=ibis.null("float64"))
    return raw.clip(lower=-1.0, upper=1.0)


def emotion_expr(feedback: ir.Table, vs: VoiceSettings) -> ir.FloatingColumn:
    """Emotion of each response on -2..+2 (formula in the module docstring).

    Expects the canonical ``kind``, ``score`` and ``sentiment`` columns; ``sentiment`` is
    NULL for responses without text (as :mod:`journeymap.voice.attach` writes it).
    """
    s = normalised_score_expr(feedback, vs)
    c = feedback.sentiment.cast("float64")
    both = s.notnull() & c.notnull()
    return ibis.cases(
        (both, s + c),  # 2 · mean of two = their sum
        (s.notnull(), 2.0 * s),
        (c.notnull(), 2.0 * c),
        else_=ibis.null("float64"),
    )


def top2box_min(vs: VoiceSettings) -> float:
    """Lowest CSAT answer counted as top-2-box: the second-highest point of the scale."""
    return vs.scales["csat"][1] - 1.0
