"""Journeys as a persona-specific Markov process over touchpoints, simulated per chunk.

The loop runs over *steps*, never over customers or events: at each step every customer
still in a journey draws the next touchpoint (or the end) from their persona's transition
row in one vectorised operation. A 20k-customer chunk finishes in about forty numpy steps.

Beyond the plain chain, a few states are carried per customer because real journeys
depend on them: the channel in use (a cart seen in the app leads to the app's payment
step), whether they are logged in (web events then carry a CRM id or email), the current
order (later events refer to it), and whether they asked a question in chat (the planted
"chat converts better" effect).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from journeymap.demo import catalog as cat

MAX_STEPS = 40
_STAGE_OF_TP = np.array([cat.STAGES.index(t.stage) for t in cat.TOUCHPOINTS], dtype=np.int8)
_CH = {c: i for i, c in enumerate(cat.CHANNELS)}
_DEFAULT_CHANNEL = np.array([_CH[t.channel] for t in cat.TOUCHPOINTS], dtype=np.int8)
_MULTI_CHANNEL = np.array([len(t.allowed_channels) > 1 for t in cat.TOUCHPOINTS])
#: allowed[tp, channel]: the step may happen on that channel.
_ALLOWED = np.zeros((len(cat.TOUCHPOINTS), len(cat.CHANNELS)), dtype=bool)
for _i, _t in enumerate(cat.TOUCHPOINTS):
    for _c in _t.allowed_channels:
        _ALLOWED[_i, _CH[_c]] = True
_PACE = np.array([p.pace for p in cat.PERSONAS])
_REVISIT_S = np.array([p.revisit_hours * 3600.0 for p in cat.PERSONAS])
_REVISIT_TENDENCY = np.array([p.revisit_tendency for p in cat.PERSONAS])
_APP_SHARE = np.array([p.app_share for p in cat.PERSONAS])
_REMEMBERED = np.array([p.remembered for p in cat.PERSONAS])
_LOGIN_TPS = np.array([cat.TP[t] for t in ("login", "create_account", "verify_account")])
_PAYMENT_TPS = np.array([cat.TP[t] for t in ("web_payment", "app_payment", "store_checkout")])
_ORDER_TPS = np.array(
    [
        cat.TP[t]
        for t in (
            "web_payment",
            "app_payment",
            "store_checkout",
            "order_confirmed",
            "confirmation_email",
            "order_tracking",
            "returns",
            "support_call",
        )
    ]
)
_NO_REDIRECT = np.array([t in cat.FIXED_STEPS for t in cat.TOUCHPOINT_IDS])

#: Gaps whose (median seconds, sigma) are fixed by what happens, not by the persona.
_SPECIAL_GAPS: tuple[tuple[str | None, str, float, float], ...] = (
    # (from, to, median_s, sigma); from None = any
    (cat.SLOW_FROM, cat.SLOW_TOUCHPOINT, cat.SLOW_MEDIAN_HOURS * 3600, cat.SLOW_SIGMA),
    (cat.CALL_AFTER_TOUCHPOINT, "support_call", cat.CALL_AFTER_MEDIAN_HOURS * 3600, 0.8),
    ("confirmation_email", "order_tracking", 26 * 3600, 0.6),
    (None, "promo_email", 20 * 3600, 0.8),
    (None, "order_confirmed", 4, 0.5),
    (None, "confirmation_email", 40, 0.5),
)
_WITHIN_SESSION_S, _WITHIN_SIGMA = 50.0, 0.7
_NEW_VISIT_SIGMA = 1.0
_NEW_VISIT_P_SAME_STAGE, _NEW_VISIT_P_NEW_STAGE = 0.15, 0.55


@dataclass
class Journeys:
    """Touchpoint visits of one chunk, sorted by (customer, step)."""

    customer: np.ndarray  # int32, index into the chunk's customers
    tp: np.ndarray  # int16, index into catalog.TOUCHPOINTS
    ts_ms: np.ndarray  # int64, epoch milliseconds UTC
    channel: np.ndarray  # int8, index into catalog.CHANNELS
    logged_in: np.ndarray  # bool, the customer is logged in at this event
    order_seq: np.ndarray  # int16, the customer's current order number (-1 none)
    last: np.ndarray  # bool, the customer's last visit (the journey stopped here)

    def __len__(self) -> int:
        return len(self.tp)


def simulate(rng: np.random.Generator, persona: np.ndarray, start_ms: np.ndarray) -> Journeys:
    """Walk every customer of a chunk through the journey until they stop."""
    n = len(persona)
    cum = np.cumsum(cat.transition_matrices(), axis=2)
    cum[..., -1] = 1.0
    start_cum = np.cumsum(cat.start_probabilities(), axis=1)
    start_cum[:, -1] = 1.0
    forward = cat.forward_successor()

    cur = _draw(start_cum[persona], rng.random(n)).astype(np.int16)
    chan = _initial_channel(rng, cur, persona)
    t = start_ms.astype(np.int64).copy()
    logged = (rng.random(n) < _REMEMBERED[persona]) | np.isin(cur, _LOGIN_TPS)
    chatted = cur == cat.TP[cat.CHAT_TOUCHPOINT]
    order = np.full(n, -1, dtype=np.int16)
    alive = np.ones(n, dtype=bool)

    everyone = np.arange(n, dtype=np.int32)
    parts = [(everyone, cur.copy(), t.copy(), chan.copy(), logged.copy(), order.copy())]
    for _ in range(1, MAX_STEPS):
        idx = np.flatnonzero(alive).astype(np.int32)
        if idx.size == 0:
            break
        p, c = persona[idx], cur[idx]
        nxt = _draw(cum[p, c], rng.random(idx.size))
        nxt = _keep_device(rng, nxt, chan[idx])
        # Planted: after a chat, most drop-outs before the purchase become a step forward.
        redirect = (
            chatted[idx]
            & (nxt == cat.END)
            & (_STAGE_OF_TP[c] <= cat.STAGES.index("purchase"))
            & ~_NO_REDIRECT[c]
            & (rng.random(idx.size) >= cat.CHAT_EXIT_KEEP)
        )
        nxt[redirect] = forward[c[redirect]]

        stopped = nxt == cat.END
        alive[idx[stopped]] = False
        moving = ~stopped
        idx, p, c, nxt = idx[moving], p[moving], c[moving], nxt[moving].astype(np.int16)
        t[idx] += _gaps_ms(rng, p, c, nxt)
        chan[idx] = _next_channel(rng, nxt, chan[idx], p)
        cur[idx] = nxt
        logged[idx] |= np.isin(nxt, _LOGIN_TPS)
        chatted[idx] |= nxt == cat.TP[cat.CHAT_TOUCHPOINT]
        paying = np.isin(nxt, _PAYMENT_TPS)
        order[idx[paying]] += 1 + (order[idx[paying]] < 0)  # -1 -> 1, k -> k+1
        seq = np.where(np.isin(nxt, _ORDER_TPS), order[idx], -1).astype(np.int16)
        parts.append((idx, nxt, t[idx].copy(), chan[idx].copy(), logged[idx].copy(), seq))

    customer, tp, ts, ch, lg, oseq = (np.concatenate(col) for col in zip(*parts, strict=True))
    order_by = np.argsort(customer, kind="stable")  # parts are in step order already
    customer = customer[order_by]
    last = np.ones(len(customer), dtype=bool)
    last[:-1] = customer[1:] != customer[:-1]
    return Journeys(
        customer=customer,
        tp=tp[order_by].astype(np.int16),
        ts_ms=ts[order_by],
        channel=ch[order_by],
        logged_in=lg[order_by],
        order_seq=oseq[order_by].astype(np.int16),
        last=last,
    )


def _draw(cum_rows: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Inverse-CDF draw, one per row: the first column whose cumulative weight exceeds u."""
    return (u[:, None] >= cum_rows).sum(axis=1)


def _initial_channel(rng: np.random.Generator, tp: np.ndarray, persona: np.ndarray) -> np.ndarray:
    chan = _DEFAULT_CHANNEL[tp].copy()
    multi = _MULTI_CHANNEL[tp]
    in_app = rng.random(len(tp)) < _APP_SHARE[persona]
    chan[multi & in_app & _ALLOWED[tp, _CH["app"]]] = _CH["app"]
    return chan


def _keep_device(rng: np.random.Generator, nxt: np.ndarray, chan: np.ndarray) -> np.ndarray:
    """A cart in the app goes on to the app's payment step, a web cart to the web checkout."""
    nxt = nxt.copy()
    app_to_checkout = (nxt == cat.TP["checkout"]) & (chan == _CH["app"])
    nxt[app_to_checkout & (rng.random(len(nxt)) < 0.85)] = cat.TP["app_payment"]
    nxt[(nxt == cat.TP["app_payment"]) & (chan == _CH["web"])] = cat.TP["checkout"]
    return nxt


def _next_channel(
    rng: np.random.Generator, nxt: np.ndarray, prev: np.ndarray, persona: np.ndarray
) -> np.ndarray:
    """Fixed-channel steps take their channel; web/app steps stay on the current device."""
    chan = _DEFAULT_CHANNEL[nxt].copy()
    multi = _MULTI_CHANNEL[nxt]
    stay = multi & _ALLOWED[nxt, prev]
    chan[stay] = prev[stay]
    fresh = multi & ~stay
    in_app = rng.random(len(nxt)) < _APP_SHARE[persona]
    chan[fresh & in_app & _ALLOWED[nxt, _CH["app"]]] = _CH["app"]
    return chan


def _gaps_ms(
    rng: np.random.Generator, persona: np.ndarray, src: np.ndarray, dst: np.ndarray
) -> np.ndarray:
    """Time to the next step: lognormal, within a visit (the persona's pace) or after a
    break (the persona's time between visits; some come back within hours, some in weeks)."""
    k = len(dst)
    new_stage = _STAGE_OF_TP[src] != _STAGE_OF_TP[dst]
    p_new = np.where(new_stage, _NEW_VISIT_P_NEW_STAGE, _NEW_VISIT_P_SAME_STAGE)
    new_visit = rng.random(k) < np.minimum(p_new * _REVISIT_TENDENCY[persona], 0.95)
    median = np.where(new_visit, _REVISIT_S[persona], _WITHIN_SESSION_S * _PACE[persona])
    sigma = np.where(new_visit, _NEW_VISIT_SIGMA, _WITHIN_SIGMA)
    for frm, to, med_s, sig in _SPECIAL_GAPS:
        hit = dst == cat.TP[to]
        if frm is not None:
            hit &= src == cat.TP[frm]
        median = np.where(hit, med_s, median)
        sigma = np.where(hit, sig, sigma)
    seconds = median * np.exp(sigma * rng.standard_normal(k))
    return (seconds * 1000).astype(np.int64) + 1
