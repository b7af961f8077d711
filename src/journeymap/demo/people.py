"""Customers of one chunk: true identity, identifiers as each system spells them, attributes.

Identifiers are unique by construction (derived from the global customer number), so the
only links between customers are the planted hubs. Their *spelling* is messy, the way
real systems write them: e-mails in mixed case with stray spaces, phone numbers in
national, international and spaced formats. A stitcher that normalises them finds one
person; one that does not finds several.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from journeymap.demo import catalog as cat

_ADJECTIVES = (
    "quiet brave lucky sunny misty amber swift calm bright rapid silver golden crisp noble "
    "gentle bold clever merry tidy witty cosy jolly keen proud vivid mellow breezy frosty"
).split()
_NOUNS = (
    "otter falcon maple river comet badger heron willow pebble fox lark cedar harbor "
    "meadow robin thistle ember orchid walrus puffin acorn beacon canyon dune fern"
).split()
_DOMAINS = ("example.com", "example.org", "example.net", "mail.example")
REGIONS = ("london", "south_east", "south_west", "midlands", "north", "scotland", "wales")
STORES_PER_REGION = 2
HOUR_PROFILE = np.array(
    [1, 0.6, 0.4, 0.3, 0.3, 0.5, 1, 2, 3, 3.5, 3.5, 4, 4.5, 4, 3.5, 3.5, 4, 4.5, 5.5, 6.5, 7, 6,
     4, 2]
)  # fmt: skip
HOUR_PROFILE = HOUR_PROFILE / HOUR_PROFILE.sum()
MAX_COOKIES = 3


@dataclass
class People:
    """One chunk of customers, in the order of their global number."""

    global_index: np.ndarray  # int64
    customer_id: np.ndarray  # true id, "cust-0000001"
    persona: np.ndarray  # int8 index into catalog.PERSONAS
    has_record: np.ndarray  # bool: present in customers.parquet
    crm_id: np.ndarray  # object, None for customers without a CRM record
    email: np.ndarray  # canonical lower-case e-mail
    phone: np.ndarray  # canonical E.164
    email_variants: np.ndarray  # (n, 4) spellings, the first is canonical
    phone_variants: np.ndarray  # (n, 4) spellings, the first is E.164
    cookies: np.ndarray  # (n, MAX_COOKIES) anonymous ids
    n_cookies: np.ndarray  # int8, how many cookies the customer uses
    device_id: np.ndarray  # the phone's app install id
    app_os: np.ndarray  # int8, 0 ios, 1 android
    region: np.ndarray  # int8 index into REGIONS
    start_ms: np.ndarray  # int64 first event, epoch ms UTC

    def __len__(self) -> int:
        return len(self.persona)


def make_people(rng: np.random.Generator, first: int, n: int, start_ms: int, days: int) -> People:
    """Draw ``n`` customers numbered ``first`` .. ``first + n - 1``."""
    g = np.arange(first, first + n, dtype=np.int64)
    shares = np.array([p.share for p in cat.PERSONAS])
    persona = rng.choice(len(shares), size=n, p=shares).astype(np.int8)
    loyal = persona == cat.PERSONA_IDS.index("loyal_regular")
    has_record = loyal | (rng.random(n) < 0.88)
    adj = rng.integers(0, len(_ADJECTIVES), n)
    noun = rng.integers(0, len(_NOUNS), n)
    dom = rng.integers(0, len(_DOMAINS), n)
    local = [f"{_ADJECTIVES[a]}.{_NOUNS[b]}{i}" for a, b, i in zip(adj, noun, g, strict=True)]
    email = np.array(
        [f"{lp}@{_DOMAINS[d]}" for lp, d in zip(local, dom, strict=True)], dtype=object
    )
    email_variants = np.empty((n, 4), dtype=object)
    email_variants[:, 0] = email
    email_variants[:, 1] = [f" {e} " for e in email]
    email_variants[:, 2] = [e.title() for e in email]
    email_variants[:, 3] = [e.upper() for e in email]
    # A bijection of the global number onto 9 digits keeps phones unique and scattered.
    subscriber = (g * 7919 + 123457) % 1_000_000_000
    digits = [f"{s:09d}" for s in subscriber]  # after the "7" of a UK mobile
    phone = np.array([f"+447{d}" for d in digits], dtype=object)
    phone_variants = np.empty((n, 4), dtype=object)
    phone_variants[:, 0] = phone
    phone_variants[:, 1] = [f"07{d[:3]} {d[3:]}" for d in digits]
    phone_variants[:, 2] = [f"+44 7{d[:3]} {d[3:]}" for d in digits]
    phone_variants[:, 3] = [f"0044 7{d[:3]}-{d[3:6]}-{d[6:]}" for d in digits]
    raw = rng.integers(0, 2**63 - 1, size=(n, MAX_COOKIES + 1), dtype=np.int64)
    cookies = np.array([f"{v:016x}" for v in raw[:, :MAX_COOKIES].ravel()], dtype=object)
    device = np.array([f"{v:016X}" for v in raw[:, MAX_COOKIES]], dtype=object)
    days_off = rng.integers(0, days, n)
    hour = rng.choice(24, size=n, p=HOUR_PROFILE)
    within = rng.integers(0, 3_600_000, n)
    return People(
        global_index=g,
        customer_id=np.array([f"cust-{i + 1:07d}" for i in g], dtype=object),
        persona=persona,
        has_record=has_record,
        crm_id=np.where(has_record, [f"C{1_000_001 + i}" for i in g], None).astype(object),
        email=email,
        phone=phone,
        email_variants=email_variants,
        phone_variants=phone_variants,
        cookies=cookies.reshape(n, MAX_COOKIES),
        n_cookies=rng.choice([1, 2, 3], size=n, p=[0.6, 0.3, 0.1]).astype(np.int8),
        device_id=np.array([f"{d[:8]}-{d[8:12]}-{d[12:]}" for d in device], dtype=object),
        app_os=(rng.random(n) < 0.45).astype(np.int8),
        region=rng.choice(len(REGIONS), size=n, p=[0.22, 0.2, 0.12, 0.16, 0.18, 0.07, 0.05]).astype(
            np.int8
        ),
        start_ms=start_ms + days_off * 86_400_000 + hour * 3_600_000 + within,
    )


def store_id(region: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The store a customer walks into: one of the stores of their region."""
    return region.astype(np.int16) * STORES_PER_REGION + rng.integers(
        0, STORES_PER_REGION, len(region)
    )


def attributes(rng: np.random.Generator, people: People, promo_emailed: np.ndarray) -> dict:
    """CRM attributes drawn so that the journey.yaml persona rules recover the true persona.

    The rules are tried in file order (loyal_regular, mobile_native, bargain_hunter,
    considered_researcher); each persona's attributes satisfy its own rule and fail the
    earlier ones. ``promo_emailed`` customers received campaigns, so they are opted in.
    """
    n = len(people)
    pid = {p: i for i, p in enumerate(cat.PERSONA_IDS)}
    per = people.persona
    loyal, mobile = per == pid["loyal_regular"], per == pid["mobile_native"]
    bargain = per == pid["bargain_hunter"]

    tier = np.array(["none", "bronze", "silver"], dtype=object)[
        rng.choice(3, size=n, p=[0.5, 0.3, 0.2])
    ]
    tier[loyal] = np.array(["gold", "platinum"], dtype=object)[
        rng.choice(2, size=int(loyal.sum()), p=[0.75, 0.25])
    ]
    young, old = ["18-24", "25-34"], ["35-44", "45-54", "55-64", "65+"]
    bands = np.array(young + old, dtype=object)
    age = bands[rng.choice(len(bands), size=n, p=[0.12, 0.24, 0.22, 0.18, 0.14, 0.10])]
    age[mobile] = np.array(young, dtype=object)[
        rng.choice(2, size=int(mobile.sum()), p=[0.45, 0.55])
    ]
    signup = np.array(["web", "store", "app", "social"], dtype=object)[
        rng.choice(4, size=n, p=[0.5, 0.2, 0.15, 0.15])
    ]
    signup[mobile] = "app"
    # Non-mobile app sign-ups are older customers, so the mobile rule does not claim them.
    clash = (signup == "app") & ~mobile & ~loyal & np.isin(age, young)
    age[clash] = np.array(old, dtype=object)[rng.integers(0, len(old), int(clash.sum()))]
    segment = np.array(["mainstream", "premium"], dtype=object)[
        rng.choice(2, size=n, p=[0.65, 0.35])
    ]
    segment[bargain] = "price_sensitive"
    segment[mobile | loyal] = np.array(["price_sensitive", "mainstream", "premium"], dtype=object)[
        rng.choice(3, size=int((mobile | loyal).sum()), p=[0.4, 0.45, 0.15])
    ]
    opt_in = promo_emailed | (rng.random(n) < 0.35)
    return {
        "segment": segment,
        "age_band": age,
        "region": np.array(REGIONS, dtype=object)[people.region],
        "signup_channel": signup,
        "loyalty_tier": tier,
        "marketing_opt_in": opt_in,
    }
