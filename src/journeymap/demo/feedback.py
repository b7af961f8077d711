"""Survey answers (NPS, CSAT, CES) with comments that follow what the customer went through.

A survey is sent after some touchpoints; a share of customers answer. The score comes
from a latent satisfaction in 0..1: the touchpoint's usual level, the persona's mood, what
happened (dropping out right after a failed app payment, calling after order tracking)
and noise. The comment is drawn from templates for that touchpoint and score band, so a
checkout complaint talks about the delivery cost and a happy chat user praises the agent.

Scales: NPS 0-10; CSAT 1-5 (5 = very satisfied); CES 1-7 (7 = very easy, the CES 2.0
agreement scale). Comments are negative for NPS 0-6, CSAT 1-2, CES 1-3 and positive for
NPS 9-10, CSAT 4-5, CES 6-7.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from journeymap.demo import catalog as cat
from journeymap.demo.behaviour import Journeys
from journeymap.demo.events import ID_COLUMNS, EventChunk
from journeymap.demo.people import People


@dataclass(frozen=True)
class Survey:
    """The survey sent after one touchpoint."""

    touchpoint: str
    kind: str  # nps | csat | ces
    name: str
    response_rate: float
    delay_median_s: float
    delay_sigma: float
    satisfaction: float  # the touchpoint's usual latent satisfaction
    by_email: bool  # answered from an e-mailed link (else on the spot: same ids as the event)


SURVEYS: tuple[Survey, ...] = (
    Survey(
        "checkout", "csat", "checkout_intercept", 0.15, 90, 0.5, cat.COMPLAINT_SATISFACTION, False
    ),
    Survey("order_confirmed", "nps", "post_purchase_nps", 0.15, 48 * 3600, 0.3, 0.75, True),
    Survey("support_call", "csat", "post_call_sms", 0.30, 1800, 0.6, 0.62, False),
    Survey("chat_question", "csat", "post_chat", 0.30, 60, 0.5, 0.88, False),
    Survey("verify_account", "ces", "signup_effort", 0.12, 3600, 0.5, 0.40, True),
    Survey("returns", "ces", "returns_effort", 0.20, 86_400, 0.4, 0.62, True),
    Survey("app_payment", "csat", "in_app_payment", 0.25, 60, 0.5, 0.72, False),
    Survey("order_tracking", "csat", "tracking_intercept", 0.08, 300, 0.5, 0.55, False),
    Survey("store_checkout", "csat", "store_receipt", 0.10, 7200, 0.6, 0.85, True),
    Survey("product_page", "csat", "product_intercept", 0.01, 30, 0.5, 0.72, False),
    Survey("size_guide", "ces", "size_guide_effort", 0.05, 30, 0.5, 0.45, False),
)

_NEG, _NEU, _POS = 0, 1, 2
#: Negative comments at checkout that carry the planted complaint phrase.
COMPLAINT_TEMPLATES: tuple[str, ...] = (
    "The delivery cost only showed up at the very last step",
    "Delivery cost was a nasty surprise at checkout",
    "Why is the delivery cost hidden until checkout?",
    "I nearly gave up when I saw the delivery cost",
    "Show the delivery cost earlier, it felt sneaky",
    "Great prices but the delivery cost at checkout ruined it",
    "delivery cost added at the end, not happy",
    "The delivery cost was more than the item itself",
)
_TEMPLATES: dict[str, dict[int, tuple[str, ...]]] = {
    "checkout": {
        _NEG: (
            "My promo code would not apply",
            "The checkout form kept clearing my address",
            "Too many steps to pay",
        ),
        _POS: ("Checkout was quick and simple", "Easy to pay, no fuss"),
    },
    "app_payment": {
        _NEG: (
            "Payment kept failing in the app",
            "The app froze on the payment screen",
            "Card was declined in the app but works everywhere else",
            "Apple Pay button did nothing",
            "Payment page in the app just spins forever",
        ),
        _POS: ("Paying in the app was super fast", "Love paying with one tap in the app"),
    },
    "verify_account": {
        _NEG: (
            "The verification email took days to arrive",
            "Waited ages for the account confirmation email",
            "Still waiting to verify my account",
            "Had to request the verification link three times",
        ),
        _POS: ("Signing up was straightforward",),
    },
    "order_tracking": {
        _NEG: (
            "Tracking page hasn't updated in days",
            "No idea where my parcel is, the tracking is useless",
            "Had to call to find out where my order was",
            "Tracking says delivered but nothing arrived",
        ),
        _POS: ("Tracking was clear and accurate", "Loved the live parcel tracking"),
    },
    "support_call": {
        _NEG: (
            "Waited 40 minutes on hold",
            "Called because the tracking showed nothing, agent could not help",
            "Had to explain my order number three times",
            "Nobody could tell me where my order is",
        ),
        _POS: ("The agent sorted everything out quickly", "Very friendly person on the phone"),
    },
    "chat_question": {
        _NEG: ("The chat bot did not understand my question",),
        _POS: (
            "The chat agent helped me pick the right size",
            "Quick answer in chat, bought it straight away",
            "Chat was really helpful",
            "Got a clear answer about the fabric in seconds",
        ),
    },
    "returns": {
        _NEG: ("Returning was a hassle", "Refund took two weeks"),
        _POS: ("Returns were painless", "Free returns made it easy"),
    },
    "size_guide": {
        _NEG: (
            "Couldn't work out which size to pick",
            "The size guide contradicts the product page",
            "Sizes in the guide make no sense",
        ),
        _POS: ("The size guide was spot on",),
    },
    "store_checkout": {
        _NEG: ("Long queue at the till",),
        _POS: ("Staff in store were lovely", "Quick in and out of the store"),
    },
    "order_confirmed": {
        _NEG: ("Would not order again", "Not worth the hassle"),
        _POS: ("Would recommend to friends", "Great quality, will order again"),
    },
}
_GENERIC: dict[int, tuple[str, ...]] = {
    _NEG: ("Not great", "Disappointed", "Could be a lot better"),
    _NEU: ("It was ok", "Fine, nothing special", "Average experience", "Does the job"),
    _POS: ("Great service", "Really happy", "Quick and easy", "Excellent"),
}
_NON_ENGLISH: dict[int, tuple[str, ...]] = {
    _NEG: ("Muy mala experiencia", "Pas content du tout", "Sehr enttäuschend"),
    _NEU: ("Está bien", "Ça va", "Ganz okay"),
    _POS: ("¡Excelente servicio!", "Très bien, merci", "Alles super"),
}
_SUFFIXES = {
    _NEG: ("", "", ".", "!", ". Please fix this.", " 😡"),
    _NEU: ("", ".", " I guess."),
    _POS: ("", "", ".", "!", " Thanks!", " 😊", " 👍"),
}
_TEXT_NONE, _TEXT_EMPTY, _TEXT_FOREIGN = 0.12, 0.05, 0.03


@dataclass
class FeedbackChunk:
    columns: dict[str, np.ndarray]  # the raw columns written to data/feedback.parquet
    customer: np.ndarray  # int32 index into the chunk's People
    true_touchpoint: np.ndarray  # object
    event_row: np.ndarray  # int64 row of the event the survey followed


def build_feedback(
    rng: np.random.Generator, chunk: int, people: People, j: Journeys, events: EventChunk
) -> FeedbackChunk:
    """Pick the visits that get a survey answer and write score, comment and identifiers."""
    survey_of_tp = np.full(len(cat.TOUCHPOINTS), -1, dtype=np.int16)
    for i, s in enumerate(SURVEYS):
        survey_of_tp[cat.TP[s.touchpoint]] = i
    sid_all = survey_of_tp[j.tp]
    rate = np.array([s.response_rate for s in SURVEYS] + [0.0])[sid_all]
    visit = np.flatnonzero((sid_all >= 0) & (rng.random(len(j)) < rate))
    sid = sid_all[visit]
    n = len(visit)
    cust = j.customer[visit]
    persona = people.persona[cust]

    base = np.array([s.satisfaction for s in SURVEYS])[sid]
    mood = np.array([p.mood for p in cat.PERSONAS])[persona]
    # What happened changes how they feel about it.
    failed_payment = (j.tp[visit] == cat.TP["app_payment"]) & j.last[visit]
    base = np.where(failed_payment, 0.15, base)
    has_prev = visit > 0
    prev = np.where(has_prev, visit - 1, 0)
    after_tracking = (
        has_prev
        & (j.customer[prev] == cust)
        & (j.tp[prev] == cat.TP[cat.CALL_AFTER_TOUCHPOINT])
        & (j.tp[visit] == cat.TP["support_call"])
    )
    base = np.where(after_tracking, 0.35, base)
    latent = np.clip(base + mood + 0.18 * rng.standard_normal(n), 0, 1)
    kinds = np.array([s.kind for s in SURVEYS], dtype=object)[sid]
    top = np.select([kinds == "nps", kinds == "csat"], [10, 4], 6)
    low = np.where(kinds == "nps", 0, 1)
    score = low + np.round(latent * top)
    band = _band(kinds, score)

    text = _comments(rng, j.tp[visit], band)
    delay = np.array([s.delay_median_s for s in SURVEYS])[sid] * np.exp(
        np.array([s.delay_sigma for s in SURVEYS])[sid] * rng.standard_normal(n)
    )
    event_row = events.visit_row[visit]
    ts = events.columns["ts"][event_row] + (delay * 1000).astype(np.int64)
    tp_ids = np.array(cat.TOUCHPOINT_IDS, dtype=object)[j.tp[visit]]
    given = np.where(rng.random(n) < 0.6, tp_ids, None)

    ids = {k: events.columns[k][event_row].copy() for k in ID_COLUMNS}
    by_email = np.array([s.by_email for s in SURVEYS])[sid]
    for k in ID_COLUMNS:
        ids[k][by_email] = None
    ids["email"][by_email] = people.email_variants[
        cust[by_email], rng.integers(0, 4, by_email.sum())
    ]
    ids["order_id"][by_email] = events.columns["order_id"][event_row[by_email]]

    columns = {
        "feedback_id": np.array([f"fb{chunk:05d}{i:06d}" for i in range(n)], dtype=object),
        "ts": ts,
        "kind": kinds,
        "score": score.astype(np.float64),
        "text": text,
        "touchpoint": given,
        "survey": np.array([s.name for s in SURVEYS], dtype=object)[sid],
        **ids,
    }
    order = np.lexsort((np.arange(n), ts))
    return FeedbackChunk(
        columns={k: v[order] for k, v in columns.items()},
        customer=cust[order],
        true_touchpoint=tp_ids[order],
        event_row=event_row[order],
    )


def _band(kinds: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Negative / neutral / positive band of a score on its own scale."""
    neg = np.select([kinds == "nps", kinds == "csat"], [6, 2], 3)
    pos = np.select([kinds == "nps", kinds == "csat"], [9, 4], 6)
    return np.where(score <= neg, _NEG, np.where(score >= pos, _POS, _NEU))


def _comments(rng: np.random.Generator, tp: np.ndarray, band: np.ndarray) -> np.ndarray:
    """Comment per answer: touchpoint template if one fits the band, else a generic one."""
    n = len(tp)
    out = np.empty(n, dtype=object)
    u = rng.random((n, 4))
    for b in (_NEG, _NEU, _POS):
        generic = np.array(_GENERIC[b], dtype=object)
        in_band = band == b
        out[in_band] = generic[(u[in_band, 0] * len(generic)).astype(int)]
        for tp_id, bands in _TEMPLATES.items():
            if b not in bands:
                continue
            pool = np.array(bands[b], dtype=object)
            hit = in_band & (tp == cat.TP[tp_id]) & (u[:, 1] < 0.85)
            out[hit] = pool[(u[hit, 0] * len(pool)).astype(int)]
        if b == _NEG:
            pool = np.array(COMPLAINT_TEMPLATES, dtype=object)
            hit = in_band & (tp == cat.TP[cat.COMPLAINT_TOUCHPOINT])
            hit &= u[:, 2] < cat.COMPLAINT_SHARE
            out[hit] = pool[(u[hit, 0] * len(pool)).astype(int)]
        suffixes = np.array(_SUFFIXES[b], dtype=object)
        out[in_band] = out[in_band] + suffixes[(u[in_band, 3] * len(suffixes)).astype(int)]
        foreign = in_band & (u[:, 2] >= 1 - _TEXT_FOREIGN)
        pool = np.array(_NON_ENGLISH[b], dtype=object)
        out[foreign] = pool[(u[foreign, 0] * len(pool)).astype(int)]
    lower = rng.random(n) < 0.1
    out[lower] = [t.lower() for t in out[lower]]
    blank = rng.random(n)
    out[blank < _TEXT_NONE + _TEXT_EMPTY] = ""
    out[blank < _TEXT_NONE] = None
    return out
