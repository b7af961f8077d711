"""The demo retailer's world: personas, touchpoints, raw event names and transition weights.

One table of facts that the behaviour simulator, the feedback generator, the ground truth
and the shipped ``journey.yaml`` all agree on. The YAML is hand-written for readers (it is
the first file a new user opens); ``tests/demo`` checks that both stay in step.

Why weights and not probabilities: the per-persona matrices are built by multiplying the
base successor weights with a persona's channel and touchpoint affinities and exit
tendency, then normalising; the planted truths are applied last as exact probabilities so that the
ground truth can state them precisely.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

STAGES: tuple[str, ...] = ("awareness", "consideration", "decision", "purchase", "post_purchase")

CHANNELS: tuple[str, ...] = (
    "web",
    "app",
    "email",
    "social",
    "paid_search",
    "store",
    "phone",
    "chat",
)

#: The source system (and the ``data/events/<system>/`` folder) that logs each channel.
SYSTEM_OF_CHANNEL: dict[str, str] = {
    "web": "web",
    "app": "app",
    "email": "email",
    "social": "social",
    "paid_search": "ads",
    "store": "store",
    "phone": "callcentre",
    "chat": "chat",
}
SYSTEMS: tuple[str, ...] = ("web", "app", "email", "social", "ads", "store", "callcentre", "chat")


@dataclass(frozen=True)
class Persona:
    """A behavioural type: who the customer is and how they move.

    The four demo personas differ the way real retail segments do, each on several axes at
    once, with overlap: channel mix (app-first vs store vs e-mail vs web), path (price
    comparison, reviews and chat, wishlists), pace (hours vs weeks between visits) and
    basket value. Any one axis alone leaves them mixed; together they tell them apart.
    """

    id: str
    share: float
    #: Multiplier on a successor's weight by the successor's channel.
    channel_affinity: dict[str, float]
    #: Multiplier on a successor's weight by the successor touchpoint (the persona's path).
    touchpoint_affinity: dict[str, float]
    #: Multiplier on the weight of dropping out at every step.
    exit_tendency: float
    #: Multiplier on the time between steps within one visit (1 = the reference pace).
    pace: float
    #: Median hours between two visits (lognormal, see behaviour.py).
    revisit_hours: float
    #: Multiplier on the probability that the next step is a new visit (comes back later).
    revisit_tendency: float
    #: Weights of the first touchpoint.
    start: dict[str, float]
    #: Probability that a web/app-agnostic step (cart, login, ...) happens in the app.
    app_share: float
    #: Share already logged in when the journey starts (the app keeps its users signed in).
    remembered: float
    #: (median, sigma) of the lognormal order value in GBP.
    order_value: tuple[float, float]
    #: Probability of the device property of web events: desktop, mobile, tablet.
    web_devices: tuple[float, float, float]
    #: Shift of the latent satisfaction behind survey scores.
    mood: float


PERSONAS: tuple[Persona, ...] = (
    # E-mail and promotion driven, compares prices across listings, small baskets.
    Persona(
        id="bargain_hunter",
        share=0.35,
        channel_affinity={"email": 3.0, "social": 1.3, "app": 0.5, "store": 0.4, "chat": 0.4},
        touchpoint_affinity={
            "category_page": 3.0,
            "product_page": 1.3,
            "promo_email": 2.0,
            "reviews": 0.5,
            "wishlist": 0.7,
        },
        exit_tendency=1.3,
        pace=0.7,
        revisit_hours=20.0,
        revisit_tendency=1.0,
        start={"promo_email": 6, "social_ad": 2, "search_ad": 1.5, "home_page": 0.5},
        app_share=0.2,
        remembered=0.15,
        order_value=(28.0, 0.4),
        web_devices=(0.45, 0.45, 0.10),
        mood=-0.05,
    ),
    # App-first, found on social media, saves to the wishlist, decides within hours.
    Persona(
        id="mobile_native",
        share=0.25,
        channel_affinity={"app": 4.0, "social": 2.0, "web": 0.35, "store": 0.2, "email": 0.4},
        touchpoint_affinity={"wishlist": 2.0, "reviews": 0.5, "category_page": 0.6},
        exit_tendency=1.0,
        pace=0.6,
        revisit_hours=3.0,
        revisit_tendency=0.8,
        start={"app_product": 6, "social_ad": 4, "search_ad": 0.5},
        app_share=0.92,
        remembered=0.7,
        order_value=(45.0, 0.4),
        web_devices=(0.15, 0.80, 0.05),
        mood=0.0,
    ),
    # Research-heavy considered buyer: reviews, size guide, chat; weeks between visits.
    Persona(
        id="considered_researcher",
        share=0.20,
        channel_affinity={"web": 1.5, "chat": 2.5, "app": 0.4, "social": 0.4, "email": 0.7},
        touchpoint_affinity={"reviews": 1.5, "category_page": 0.8},
        exit_tendency=0.7,
        pace=1.6,
        revisit_hours=48.0,
        revisit_tendency=1.5,
        start={"search_ad": 5, "product_page": 2, "home_page": 1.5, "store_visit": 0.5},
        app_share=0.08,
        remembered=0.15,
        order_value=(150.0, 0.4),
        web_devices=(0.80, 0.10, 0.10),
        mood=0.05,
    ),
    # Traditional loyal shopper: walks into the store, rings the call centre, reads the
    # member e-mails; uses the website and the app now and then.
    Persona(
        id="loyal_regular",
        share=0.20,
        channel_affinity={
            "store": 5.0,
            "phone": 1.5,
            "email": 1.0,
            "app": 0.5,
            "social": 0.2,
            "web": 0.6,
        },
        touchpoint_affinity={"login": 1.5, "reviews": 0.5, "category_page": 0.7},
        exit_tendency=0.5,
        pace=1.0,
        revisit_hours=30.0,
        revisit_tendency=1.0,
        start={"store_visit": 8, "promo_email": 1, "login": 1, "app_product": 0.3},
        app_share=0.25,
        remembered=0.6,
        order_value=(80.0, 0.4),
        web_devices=(0.55, 0.35, 0.10),
        mood=0.1,
    ),
)
PERSONA_IDS: tuple[str, ...] = tuple(p.id for p in PERSONAS)


@dataclass(frozen=True)
class Touchpoint:
    """A designed touchpoint and the raw events the source systems log for it."""

    id: str
    stage: str
    channel: str
    #: Raw event names and their relative frequency (old and new trackers, variants).
    events: tuple[tuple[str, float], ...]
    #: Channels the step may happen on; the first is the default. Steps such as the cart
    #: happen on whichever of web/app the customer is using at the time.
    channels: tuple[str, ...] = ()
    #: ``page`` property of web events (None: no page property).
    page: str | None = None

    @property
    def allowed_channels(self) -> tuple[str, ...]:
        return self.channels or (self.channel,)


TOUCHPOINTS: tuple[Touchpoint, ...] = (
    Touchpoint("social_ad", "awareness", "social", (("ad_click", 1),)),
    Touchpoint("search_ad", "awareness", "paid_search", (("ad_click", 1),)),
    Touchpoint("store_visit", "awareness", "store", (("store_visit", 1),)),
    Touchpoint("home_page", "consideration", "web", (("page_view", 1),), page="home"),
    Touchpoint("category_page", "consideration", "web", (("page_view", 1),), page="category"),
    Touchpoint(
        "product_page",
        "consideration",
        "web",
        (("product_viewed", 0.8), ("view_item", 0.2)),
        page="product",
    ),
    Touchpoint(
        "size_guide", "consideration", "web", (("size_guide_opened", 1),), page="size_guide"
    ),
    Touchpoint("reviews", "consideration", "web", (("reviews_read", 1),), page="reviews"),
    Touchpoint(
        "app_product",
        "consideration",
        "app",
        (("app_product_view", 0.7), ("app_catalog_view", 0.3)),
    ),
    Touchpoint(
        "promo_email", "consideration", "email", (("email_open", 0.6), ("email_click", 0.4))
    ),
    Touchpoint("chat_question", "consideration", "chat", (("chat_started", 1),)),
    Touchpoint("wishlist", "decision", "app", (("wishlist_add", 1),)),
    Touchpoint(
        "cart",
        "decision",
        "web",
        (("add_to_cart", 0.7), ("cart_viewed", 0.3)),
        channels=("web", "app"),
        page="cart",
    ),
    Touchpoint("create_account", "decision", "web", (("account_created", 1),), page="register"),
    Touchpoint("verify_account", "decision", "email", (("email_verified", 1),)),
    Touchpoint("login", "decision", "web", (("login", 1),), channels=("web", "app"), page="login"),
    Touchpoint("checkout", "purchase", "web", (("checkout_started", 1),), page="checkout"),
    Touchpoint("web_payment", "purchase", "web", (("payment_submitted", 1),), page="payment"),
    Touchpoint("app_payment", "purchase", "app", (("payment_submitted", 1),)),
    Touchpoint("store_checkout", "purchase", "store", (("pos_transaction", 1),)),
    Touchpoint(
        "order_confirmed",
        "purchase",
        "web",
        (("order_completed", 1),),
        channels=("web", "app", "store"),
        page="order_confirmation",
    ),
    Touchpoint("confirmation_email", "post_purchase", "email", (("email_sent", 1),)),
    Touchpoint(
        "order_tracking",
        "post_purchase",
        "web",
        (("order_tracking_viewed", 1),),
        channels=("web", "app"),
        page="order_tracking",
    ),
    Touchpoint(
        "support_call", "post_purchase", "phone", (("call_received", 0.8), ("ivr_completed", 0.2))
    ),
    Touchpoint("returns", "post_purchase", "web", (("return_requested", 1),), page="returns"),
    Touchpoint("product_review", "post_purchase", "web", (("review_submitted", 1),), page="review"),
)
TOUCHPOINT_IDS: tuple[str, ...] = tuple(t.id for t in TOUCHPOINTS)
TP: dict[str, int] = {t: i for i, t in enumerate(TOUCHPOINT_IDS)}
END: int = len(TOUCHPOINTS)  # the "dropped out / journey over" state
GOAL: str = "order_confirmed"

#: Raw events that deliberately match no touchpoint (kept and counted as unmapped).
UNMAPPED_EVENTS: tuple[str, ...] = (
    "heartbeat",
    "consent_banner_shown",
    "app_open",
    "email_sent",  # with template=newsletter; only template=order_confirmation is mapped
    "page_view",  # with page=store_locator; only home/category/search_results are mapped
)

#: Base successor weights. "END" = the journey stops here (drop-out, or simply done).
SUCCESSORS: dict[str, dict[str, float]] = {
    "social_ad": {
        "home_page": 2,
        "product_page": 4,
        "app_product": 3,
        "category_page": 2,
        "END": 3,
    },
    "search_ad": {"product_page": 5, "category_page": 3, "home_page": 1, "END": 2},
    "store_visit": {"store_checkout": 4, "app_product": 1, "product_page": 1, "END": 3},
    "home_page": {"category_page": 5, "product_page": 2, "login": 1, "END": 2},
    "category_page": {"product_page": 6, "category_page": 1, "END": 2},
    "product_page": {
        "size_guide": 2,
        "reviews": 2,
        "cart": 4,
        "product_page": 2,
        "chat_question": 1.0,
        "wishlist": 0.4,
        "app_product": 0.5,
        "store_visit": 0.3,
        "END": 3,
    },
    "size_guide": {"product_page": 7, "cart": 1, "END": 1},
    "reviews": {"product_page": 2, "cart": 3, "chat_question": 0.5, "END": 1.5},
    "app_product": {
        "app_product": 2,
        "wishlist": 2,
        "cart": 2.5,
        "product_page": 0.8,
        "chat_question": 0.3,
        "END": 2.5,
    },
    "promo_email": {
        "product_page": 3,
        "app_product": 1.5,
        "home_page": 1,
        "store_visit": 0.5,
        "END": 2,
    },
    "chat_question": {"product_page": 2, "cart": 3, "END": 0.5},
    "wishlist": {"cart": 3, "app_product": 0.5, "promo_email": 1, "END": 2},
    "cart": {
        "checkout": 5,
        "app_payment": 1.5,
        "create_account": 1.5,
        "login": 1.5,
        "product_page": 1,
        "END": 2.5,
    },
    "create_account": {"verify_account": 8, "checkout": 1, "END": 1},
    "verify_account": {"login": 3, "checkout": 3, "cart": 2, "END": 1},
    "login": {"cart": 2, "checkout": 3, "product_page": 1, "END": 1},
    "checkout": {"web_payment": 5, "cart": 1, "END": 2.5},
    "web_payment": {"order_confirmed": 9, "checkout": 0.5, "END": 0.7},
    "app_payment": {"order_confirmed": 9, "web_payment": 0.3, "END": 0.7},
    "store_checkout": {"order_confirmed": 1},
    "order_confirmed": {"confirmation_email": 1},
    "confirmation_email": {
        "order_tracking": 5,
        "product_review": 0.5,
        "returns": 0.5,
        "promo_email": 0.5,
        "END": 3,
    },
    "order_tracking": {
        "order_tracking": 1,
        "support_call": 0.2,
        "returns": 0.8,
        "product_review": 1,
        "END": 4,
    },
    "support_call": {"returns": 1, "order_tracking": 1, "END": 5},
    "returns": {"support_call": 0.15, "product_review": 0.2, "END": 4},
    "product_review": {"promo_email": 1, "END": 5},
}

#: Steps whose drop-out weight a persona's exit tendency does not change (bookkeeping
#: steps that follow automatically).
FIXED_STEPS: frozenset[str] = frozenset({"store_checkout", "order_confirmed"})

# --- planted ground truth (parameters; ground_truth.json states them) --------------------
DROPOFF_PERSONA = "mobile_native"
DROPOFF_TOUCHPOINT = "app_payment"
DROPOFF_EXIT_PROBABILITY = 0.55

SLOW_TOUCHPOINT = "verify_account"
SLOW_FROM = "create_account"
SLOW_MEDIAN_HOURS = 96.0
SLOW_SIGMA = 0.5

LOOP_A, LOOP_B = "product_page", "size_guide"
LOOP_BACK_PROBABILITY = 0.8  # size_guide -> product_page
LOOP_OUT_PROBABILITY = 0.3  # product_page -> size_guide

COMPLAINT_TOUCHPOINT = "checkout"
COMPLAINT_PHRASE = "delivery cost"
COMPLAINT_SHARE = 0.75  # of the negative comments about checkout
COMPLAINT_SATISFACTION = 0.25  # latent satisfaction at checkout (others 0.6-0.85)

CHAT_TOUCHPOINT = "chat_question"
CHAT_EXIT_KEEP = 0.2  # after a chat, only this share of pre-purchase drop-outs still happen

CALL_AFTER_TOUCHPOINT = "order_tracking"
CALL_AFTER_PROBABILITY = 0.35
CALL_AFTER_MEDIAN_HOURS = 2.0


def transition_matrices() -> np.ndarray:
    """Per-persona transition probabilities, shape (personas, touchpoints, touchpoints + 1).

    Column ``END`` is the probability of the journey stopping after the touchpoint.
    """
    n_tp = len(TOUCHPOINTS)
    out = np.zeros((len(PERSONAS), n_tp, n_tp + 1))
    for p, persona in enumerate(PERSONAS):
        for src, succ in SUCCESSORS.items():
            row = np.zeros(n_tp + 1)
            for dst, w in succ.items():
                if dst == "END":
                    factor = 1.0 if src in FIXED_STEPS else persona.exit_tendency
                    row[END] = w * factor
                else:
                    # A step that happens on whichever device is in use (cart, login, the
                    # order confirmation) has no channel of its own to prefer or avoid.
                    t = TOUCHPOINTS[TP[dst]]
                    channel_factor = (
                        persona.channel_affinity.get(t.channel, 1.0) if not t.channels else 1.0
                    )
                    row[TP[dst]] = w * channel_factor * persona.touchpoint_affinity.get(dst, 1.0)
            out[p, TP[src]] = row / row.sum()
    _plant(out, TP[LOOP_A], TP[LOOP_B], LOOP_OUT_PROBABILITY, personas=None)
    _plant(out, TP[LOOP_B], TP[LOOP_A], LOOP_BACK_PROBABILITY, personas=None)
    _plant(
        out,
        TP[CALL_AFTER_TOUCHPOINT],
        TP["support_call"],
        CALL_AFTER_PROBABILITY,
        personas=None,
    )
    _plant(
        out,
        TP[DROPOFF_TOUCHPOINT],
        END,
        DROPOFF_EXIT_PROBABILITY,
        personas=[PERSONA_IDS.index(DROPOFF_PERSONA)],
    )
    return out


def _plant(m: np.ndarray, src: int, dst: int, prob: float, personas: list[int] | None) -> None:
    """Set P(src -> dst) exactly, scaling the row's other entries to keep the sum at 1."""
    for p in personas if personas is not None else range(m.shape[0]):
        row = m[p, src]
        rest = row.sum() - row[dst]
        row *= (1.0 - prob) / rest
        row[dst] = prob


def start_probabilities() -> np.ndarray:
    """Per-persona probabilities of the first touchpoint, shape (personas, touchpoints)."""
    out = np.zeros((len(PERSONAS), len(TOUCHPOINTS)))
    for p, persona in enumerate(PERSONAS):
        for tp, w in persona.start.items():
            out[p, TP[tp]] = w
        out[p] /= out[p].sum()
    return out


def forward_successor() -> np.ndarray:
    """The most likely non-END successor of each touchpoint (where a kept customer goes)."""
    fwd = np.empty(len(TOUCHPOINTS), dtype=np.int16)
    for src, succ in SUCCESSORS.items():
        options = {k: v for k, v in succ.items() if k != "END" and k != src}
        fwd[TP[src]] = TP[max(options, key=options.__getitem__)]
    return fwd
