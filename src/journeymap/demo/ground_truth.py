"""ground_truth.json: what was planted in the demo data, stated so that tests can check it.

Each planted finding names its type, stage, touchpoint, persona (None = every persona),
channel, the raw event names involved and the planted magnitude (the parameter of the
generator, not a measurement), plus the comparison that makes it visible.
"""

from __future__ import annotations

from typing import Any

from journeymap.demo import catalog as cat
from journeymap.demo.events import (
    KIOSK_DEVICE,
    OFFICE_PHONE,
    OFFICE_PHONE_SPELLINGS,
    PLACEHOLDER_EMAIL,
    PLACEHOLDER_SPELLINGS,
)
from journeymap.demo.feedback import COMPLAINT_TEMPLATES


def _tp(tp_id: str) -> dict[str, Any]:
    t = cat.TOUCHPOINTS[cat.TP[tp_id]]
    return {"touchpoint": t.id, "stage": t.stage, "channel": t.channel}


def planted_findings() -> list[dict[str, Any]]:
    """The six planted findings with their parameters."""
    m = cat.transition_matrices()
    p_drop = cat.PERSONA_IDS.index(cat.DROPOFF_PERSONA)
    others_exit = {
        pid: round(float(m[i, cat.TP[cat.DROPOFF_TOUCHPOINT], cat.END]), 4)
        for i, pid in enumerate(cat.PERSONA_IDS)
        if i != p_drop
    }
    return [
        {
            "id": "mobile_payment_dropoff",
            "type": "dropoff",
            **_tp(cat.DROPOFF_TOUCHPOINT),
            "persona": cat.DROPOFF_PERSONA,
            "events": ["payment_submitted"],
            "magnitude": {
                "exit_probability": cat.DROPOFF_EXIT_PROBABILITY,
                "other_personas_exit_probability": others_exit,
            },
            "description": "Mobile natives abandon the app's payment step far more than others.",
            "visible_as": "share of the persona's app payment_submitted events with no later "
            "order_completed, against the other personas",
        },
        {
            "id": "slow_account_verification",
            "type": "slow_step",
            **_tp(cat.SLOW_TOUCHPOINT),
            "persona": None,
            "from_touchpoint": cat.SLOW_FROM,
            "events": ["account_created", "email_verified"],
            "magnitude": {"median_hours": cat.SLOW_MEDIAN_HOURS, "lognormal_sigma": cat.SLOW_SIGMA},
            "description": "The verification e-mail takes days: the gap from account creation "
            "to verification is far longer than any other step.",
            "visible_as": "median time from account_created to the next email_verified",
        },
        {
            "id": "size_guide_loop",
            "type": "loop",
            **_tp(cat.LOOP_B),
            "persona": None,
            "loop": [cat.LOOP_A, cat.LOOP_B],
            "events": ["product_viewed", "view_item", "size_guide_opened"],
            "magnitude": {
                "p_size_guide_to_product_page": cat.LOOP_BACK_PROBABILITY,
                "p_product_page_to_size_guide": cat.LOOP_OUT_PROBABILITY,
            },
            "description": "Customers bounce between the product page and the size guide: "
            "they cannot work out their size.",
            "visible_as": "customers with size_guide -> product page -> size_guide repeats",
        },
        {
            "id": "delivery_cost_complaints",
            "type": "complaint",
            **_tp(cat.COMPLAINT_TOUCHPOINT),
            "persona": None,
            "events": ["checkout_started"],
            "phrase": cat.COMPLAINT_PHRASE,
            "magnitude": {
                "share_of_negative_comments": cat.COMPLAINT_SHARE,
                "latent_satisfaction": cat.COMPLAINT_SATISFACTION,
            },
            "comment_templates": list(COMPLAINT_TEMPLATES),
            "description": "Checkout surveys score low and most complaints say the delivery "
            "cost is shown too late.",
            "visible_as": "share of negative checkout comments containing the phrase",
        },
        {
            "id": "chat_converts_better",
            "type": "channel_switch",
            **_tp(cat.CHAT_TOUCHPOINT),
            "persona": None,
            "events": ["chat_started"],
            "magnitude": {"pre_purchase_dropout_kept_after_chat": cat.CHAT_EXIT_KEEP},
            "description": "Customers who switch to chat while considering convert far more: "
            "after a chat most would-be drop-outs move on instead.",
            "visible_as": "conversion (order_completed) of customers with chat_started against "
            "the others",
        },
        {
            "id": "calls_after_tracking",
            "type": "support_calls_after",
            **_tp(cat.CALL_AFTER_TOUCHPOINT),
            "persona": None,
            "call_touchpoint": "support_call",
            "events": ["order_tracking_viewed", "call_received", "ivr_completed"],
            "magnitude": {
                "p_call_next": cat.CALL_AFTER_PROBABILITY,
                "median_hours_to_call": cat.CALL_AFTER_MEDIAN_HOURS,
            },
            "description": "Order tracking does not answer 'where is my order': a third of "
            "tracking views are followed by a call within hours.",
            "visible_as": "share of order_tracking_viewed events followed by a call-centre event "
            "of the same customer within 24 hours",
        },
    ]


def hubs(members: dict[str, int]) -> list[dict[str, Any]]:
    """Shared identifiers that link many customers (a stitcher must not merge them)."""
    return [
        {
            "identifier_type": "phone",
            "value": OFFICE_PHONE,
            "spellings": list(OFFICE_PHONE_SPELLINGS),
            "system": "callcentre",
            "customers": members["phone"],
            "description": "an office switchboard many customers call from",
        },
        {
            "identifier_type": "device_id",
            "value": KIOSK_DEVICE,
            "spellings": [KIOSK_DEVICE],
            "system": "app",
            "customers": members["device_id"],
            "description": "an in-store tablet customers borrow to use the app",
        },
        {
            "identifier_type": "email",
            "value": PLACEHOLDER_EMAIL,
            "spellings": list(PLACEHOLDER_SPELLINGS),
            "system": "store",
            "customers": members["email"],
            "description": "the placeholder tills type when a customer gives no e-mail",
        },
    ]
