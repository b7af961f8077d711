"""Raw event rows as each source system would log them, from one chunk's journeys.

Every touchpoint visit becomes one raw event with the name, channel, properties and the
identifiers that system knows (a cookie on the web, an install id in the app, an e-mail in
e-mail, a phone number at the call centre, an order or loyalty id in store). Around them
sits the noise real logs carry and that matches no touchpoint: heartbeats, consent
banners, app opens, newsletter sends, store-locator page views.

Properties are JSON text. Rendering JSON per event would dominate the run time, so each
event gets small integer codes, the distinct code combinations (a few hundred) are
rendered once and the strings are gathered back with one ``take``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from journeymap.demo import catalog as cat
from journeymap.demo.behaviour import Journeys
from journeymap.demo.people import REGIONS, STORES_PER_REGION, People, store_id

OFFICE_PHONE = "+442079460000"  # a shared office switchboard (UK drama range)
OFFICE_PHONE_SPELLINGS = ("+442079460000", "020 7946 0000", "+44 20 7946 0000")
KIOSK_DEVICE = "00000000-0000-KIOSK-STORE0001"  # the in-store tablet customers borrow
PLACEHOLDER_EMAIL = "noemail@example.com"  # what tills type when a customer gives none
PLACEHOLDER_SPELLINGS = ("noemail@example.com", "NOEMAIL@EXAMPLE.COM", "noemail@example.com ")
HUB_MEMBERS_PER_CHUNK = {"phone": 30, "device_id": 30, "email": 25}
#: Identifier columns of the raw event and feedback files (canonical names).
ID_COLUMNS = ("anonymous_id", "device_id", "email", "phone", "crm_id", "order_id")

_CH = {c: i for i, c in enumerate(cat.CHANNELS)}
_SYS = {s: i for i, s in enumerate(cat.SYSTEMS)}
_SYSTEM_OF_CHANNEL = np.array([_SYS[cat.SYSTEM_OF_CHANNEL[c]] for c in cat.CHANNELS], np.int8)
EVENT_NAMES: tuple[str, ...] = tuple(
    dict.fromkeys(
        [name for t in cat.TOUCHPOINTS for name, _ in t.events] + list(cat.UNMAPPED_EVENTS)
    )
)
_EV = {e: i for i, e in enumerate(EVENT_NAMES)}
_PAGES = (
    "",
    "home",
    "category",
    "search_results",
    "product",
    "size_guide",
    "reviews",
    "cart",
    "register",
    "login",
    "checkout",
    "payment",
    "order_confirmation",
    "order_tracking",
    "returns",
    "review",
)
_PAGE_OF_TP = np.array([_PAGES.index(t.page or "") for t in cat.TOUCHPOINTS], dtype=np.int16)
_DEVICES = ("desktop", "mobile", "tablet")
_UTM = ("", "facebook", "instagram", "tiktok", "google", "bing", "newsletter")
_CAMPAIGNS = ("spring_sale", "new_arrivals", "weekend_deals", "back_in_stock")
_KEYWORDS = ("brand", "generic", "shoes", "dresses")
_CHAT_TOPICS = ("sizing", "delivery", "stock", "materials")
_CALL_QUEUES = ("general", "where_is_my_order", "returns", "payments")
_OS = ("ios", "android")
_APP_VERSIONS = ("5.1.0", "5.2.0", "5.2.1")
_ORDER_ID_TPS = (
    "order_confirmed",
    "store_checkout",
    "confirmation_email",
    "order_tracking",
    "returns",
)
_EMAIL_SPELLING_P = np.cumsum([0.7, 0.12, 0.1, 0.08])
_PHONE_SPELLING_P = np.cumsum([0.4, 0.35, 0.15, 0.1])


@dataclass
class EventChunk:
    """One chunk's events, sorted by time, with the truth beside them."""

    columns: dict[str, np.ndarray]  # the raw columns written to data/events/<system>/
    system: np.ndarray  # int8 index into catalog.SYSTEMS
    customer: np.ndarray  # int32 index into the chunk's People
    true_touchpoint: np.ndarray  # object: touchpoint id, None for noise events
    visit_row: np.ndarray  # int64: final row of each journey visit
    hub_members: dict[str, np.ndarray]  # identifier type -> bool per customer


def build_events(
    rng: np.random.Generator, chunk: int, people: People, journeys: Journeys
) -> EventChunk:
    """Turn one chunk's journeys into raw, time-sorted event rows."""
    v = len(journeys)
    cust, tp, ch = journeys.customer, journeys.tp, journeys.channel
    system = _SYSTEM_OF_CHANNEL[ch]
    persona = people.persona[cust]
    event = _event_names(rng, tp)
    page = _PAGE_OF_TP[tp].copy()
    page[(tp == cat.TP["category_page"]) & (rng.random(v) < 0.2)] = _PAGES.index("search_results")

    ids = _identifiers(rng, people, journeys, system)
    revenue = np.full(v, np.nan)
    orders = tp == cat.TP[cat.GOAL]
    med = np.array([p.order_value[0] for p in cat.PERSONAS])[persona[orders]]
    sig = np.array([p.order_value[1] for p in cat.PERSONAS])[persona[orders]]
    revenue[orders] = np.round(med * np.exp(sig * rng.standard_normal(int(orders.sum()))), 2)
    properties = _properties(rng, people, journeys, system, page)
    hubs = _plant_hubs(rng, people, cust, tp, system, ids)

    main = {
        "ts": journeys.ts_ms,
        "event": event,
        "system": system,
        "channel": ch,
        "customer": cust,
        "tp": tp.astype(np.int16),
        "revenue": revenue,
        "properties": properties,
        **ids,
    }
    noise = _noise(rng, main)
    rows = {k: np.concatenate([main[k], noise[k]]) for k in main}
    order = np.lexsort((np.arange(len(rows["ts"])), rows["customer"], rows["ts"]))
    rows = {k: col[order] for k, col in rows.items()}
    visit_row = np.empty(v, dtype=np.int64)
    where = np.flatnonzero(order < v)
    visit_row[order[where]] = where
    n = len(order)
    tp_names = np.array([*cat.TOUCHPOINT_IDS, None], dtype=object)
    columns = {
        "event_id": np.array([f"ev{chunk:05d}{i:07d}" for i in range(n)], dtype=object),
        "ts": rows["ts"],
        "event": np.array(EVENT_NAMES, dtype=object)[rows["event"]],
        "channel": np.array(cat.CHANNELS, dtype=object)[rows["channel"]],
        "anonymous_id": rows["anonymous_id"],
        "device_id": rows["device_id"],
        "email": rows["email"],
        "phone": rows["phone"],
        "crm_id": rows["crm_id"],
        "order_id": rows["order_id"],
        "revenue": rows["revenue"],
        "properties": rows["properties"],
    }
    return EventChunk(
        columns=columns,
        system=rows["system"],
        customer=rows["customer"],
        true_touchpoint=tp_names[np.where(rows["tp"] < 0, len(cat.TOUCHPOINTS), rows["tp"])],
        visit_row=visit_row,
        hub_members=hubs,
    )


def _event_names(rng: np.random.Generator, tp: np.ndarray) -> np.ndarray:
    """The raw name of each visit: some touchpoints are logged under more than one name."""
    out = np.empty(len(tp), dtype=np.int16)
    u = rng.random(len(tp))
    for i, t in enumerate(cat.TOUCHPOINTS):
        hit = tp == i
        codes = np.array([_EV[name] for name, _ in t.events], dtype=np.int16)
        cum = np.cumsum([w for _, w in t.events], dtype=float)
        out[hit] = codes[np.minimum(np.searchsorted(cum / cum[-1], u[hit]), len(codes) - 1)]
    return out


def _spelling(rng: np.random.Generator, variants: np.ndarray, cust: np.ndarray, cum) -> np.ndarray:
    pick = np.minimum(np.searchsorted(cum, rng.random(len(cust))), variants.shape[1] - 1)
    return variants[cust, pick]


def _identifiers(
    rng: np.random.Generator, people: People, j: Journeys, system: np.ndarray
) -> dict[str, np.ndarray]:
    """Which identifiers each system writes on each event, spelled as that system does."""
    v = len(j)
    cust, tp = j.customer, j.tp
    is_sys = {s: system == _SYS[s] for s in cat.SYSTEMS}
    record = people.has_record[cust]
    u = rng.random((v, 4))
    ids = {k: np.full(v, None, dtype=object) for k in ID_COLUMNS}

    cookie_pick = (rng.random(v) * people.n_cookies[cust]).astype(np.int64)
    cookie = people.cookies[cust, cookie_pick]
    email = _spelling(rng, people.email_variants, cust, _EMAIL_SPELLING_P)
    phone = _spelling(rng, people.phone_variants, cust, _PHONE_SPELLING_P)
    crm = people.crm_id[cust]
    form_email = np.isin(tp, [cat.TP["web_payment"], cat.TP["order_confirmed"]])
    # The landing page of a campaign e-mail click knows the subscriber (the link carries
    # their id, as e-mail platforms' tracked links do), so it records their e-mail.
    from_email = np.zeros(v, dtype=bool)
    from_email[1:] = (cust[1:] == cust[:-1]) & (tp[:-1] == cat.TP["promo_email"])

    web = is_sys["web"]
    ids["anonymous_id"][web | is_sys["social"] | is_sys["ads"]] = cookie[
        web | is_sys["social"] | is_sys["ads"]
    ]
    web_crm = web & j.logged_in & record & (u[:, 0] < 0.6)
    ids["crm_id"][web_crm] = crm[web_crm]
    web_email = web & ((j.logged_in & ~web_crm) | form_email | from_email)
    ids["email"][web_email] = email[web_email]

    app = is_sys["app"]
    ids["device_id"][app] = people.device_id[cust[app]]
    app_crm = app & j.logged_in & record & (u[:, 1] < 0.7)
    ids["crm_id"][app_crm] = crm[app_crm]

    ids["email"][is_sys["email"]] = email[is_sys["email"]]
    ids["phone"][is_sys["callcentre"]] = phone[is_sys["callcentre"]]

    store = is_sys["store"]
    loyalty = store & record & (u[:, 2] < 0.75)
    ids["crm_id"][loyalty] = crm[loyalty]
    wifi = store & ~loyalty & (tp == cat.TP["store_visit"])  # store wi-fi sign-in
    ids["device_id"][wifi] = people.device_id[cust[wifi]]

    chat = is_sys["chat"]
    chat_email = chat & (u[:, 3] < 0.6)
    ids["email"][chat_email] = email[chat_email]
    ids["anonymous_id"][chat & ~chat_email] = cookie[chat & ~chat_email]

    with_order = np.isin(tp, [cat.TP[t] for t in _ORDER_ID_TPS]) | (
        (tp == cat.TP["support_call"]) & (rng.random(v) < 0.5)
    )
    with_order &= j.order_seq > 0
    g = people.global_index[cust[with_order]]
    ids["order_id"][with_order] = [
        f"O{gi:08d}{s:02d}" for gi, s in zip(g, j.order_seq[with_order], strict=True)
    ]
    return ids


def _properties(
    rng: np.random.Generator,
    people: People,
    j: Journeys,
    system: np.ndarray,
    page: np.ndarray,
) -> np.ndarray:
    """JSON text per event, rendered once per distinct combination of property codes."""
    v = len(j)
    cust, tp = j.customer, j.tp
    # Each customer has a usual device; one web event in ten comes from another one.
    dev_cum = np.cumsum([p.web_devices for p in cat.PERSONAS], axis=1)[people.persona]
    usual = np.minimum((rng.random(len(people))[:, None] >= dev_cum).sum(1), 2)
    device = usual[cust]
    other = rng.random(v) < 0.1
    device[other] = (device[other] + rng.integers(1, 3, int(other.sum()))) % 3
    # Ad and e-mail platforms, carried to the landing event as utm_source.
    platform = np.zeros(v, dtype=np.int64)
    social = tp == cat.TP["social_ad"]
    platform[social] = rng.choice([1, 2, 3], size=int(social.sum()), p=[0.5, 0.35, 0.15])
    search = tp == cat.TP["search_ad"]
    platform[search] = rng.choice([4, 5], size=int(search.sum()), p=[0.85, 0.15])
    platform[tp == cat.TP["promo_email"]] = 6
    utm = np.zeros(v, dtype=np.int64)
    same_customer = np.zeros(v, dtype=bool)
    same_customer[1:] = cust[1:] == cust[:-1]
    landing = same_customer & np.isin(system, [_SYS["web"], _SYS["app"]])
    utm[1:][landing[1:]] = platform[:-1][landing[1:]]
    own_platform = social | search
    utm[own_platform] = platform[own_platform]
    extra = np.zeros(v, dtype=np.int64)
    extra2 = np.zeros(v, dtype=np.int64)
    app = system == _SYS["app"]
    extra[app] = people.app_os[cust[app]]
    extra2[app] = rng.choice(3, size=int(app.sum()), p=[0.2, 0.3, 0.5])
    em = system == _SYS["email"]
    extra[em] = rng.integers(0, len(_CAMPAIGNS), int(em.sum()))
    ads = system == _SYS["ads"]
    extra[ads] = rng.integers(0, len(_KEYWORDS), int(ads.sum()))
    st = system == _SYS["store"]
    extra[st] = store_id(people.region[cust[st]], rng)
    chat = system == _SYS["chat"]
    extra[chat] = rng.integers(0, len(_CHAT_TOPICS), int(chat.sum()))
    extra2[chat] = rng.random(int(chat.sum())) < 0.4  # 1 = human agent
    call = system == _SYS["callcentre"]
    prev_tp = np.full(v, -1, dtype=np.int64)
    prev_tp[1:] = np.where(same_customer[1:], tp[:-1], -1)
    queue = np.zeros(v, dtype=np.int64)
    queue[prev_tp == cat.TP["order_tracking"]] = 1
    queue[prev_tp == cat.TP["returns"]] = 2
    extra[call] = queue[call]

    key = system.astype(np.int64)
    for code, radix in (
        (tp, len(cat.TOUCHPOINTS) + 1),
        (page, len(_PAGES)),
        (device, len(_DEVICES)),
        (utm, len(_UTM)),
        (extra, 16),
        (extra2, 4),
    ):
        key = key * radix + code
    uniq, inverse = np.unique(key, return_inverse=True)
    rendered = np.array([_render(int(k)) for k in uniq], dtype=object)
    out = rendered[inverse]
    if call.any():
        seconds = np.round(180 * np.exp(0.7 * rng.standard_normal(int(call.sum())))).astype(int)
        out[call] = [
            f'{s[:-1]}, "duration_s": {d}}}' for s, d in zip(out[call], seconds, strict=True)
        ]
    return out


def _render(key: int) -> str:
    """Decode one property-code combination and render its JSON object."""
    key, extra2 = divmod(key, 4)
    key, extra = divmod(key, 16)
    key, utm = divmod(key, len(_UTM))
    key, device = divmod(key, len(_DEVICES))
    key, page = divmod(key, len(_PAGES))
    key, tp = divmod(key, len(cat.TOUCHPOINTS) + 1)
    system = key
    sysname, tp_id = cat.SYSTEMS[system], cat.TOUCHPOINT_IDS[tp]
    props: dict[str, object] = {}
    if sysname == "web":
        props = {"page": _PAGES[page], "device": _DEVICES[device]}
    elif sysname == "app":
        props = {"screen": tp_id, "os": _OS[extra], "app_version": _APP_VERSIONS[extra2]}
    elif sysname == "email":
        template = {
            "verify_account": "verification",
            "confirmation_email": "order_confirmation",
        }.get(tp_id, "promo")
        props = {"template": template}
        if template == "promo":
            props["campaign"] = _CAMPAIGNS[extra]
    elif sysname == "social":
        props = {"platform": _UTM[utm], "campaign": "spring_sale"}
    elif sysname == "ads":
        props = {"utm_source": _UTM[utm], "keyword_group": _KEYWORDS[extra]}
    elif sysname == "store":
        region = REGIONS[extra // STORES_PER_REGION]
        props = {"store_id": f"ST{extra + 1:02d}", "store_region": region}
    elif sysname == "callcentre":
        props = {"queue": _CALL_QUEUES[extra]}
    elif sysname == "chat":
        props = {"topic": _CHAT_TOPICS[extra], "agent": "human" if extra2 else "bot"}
    if utm and sysname in ("web", "app"):
        props["utm_source"] = _UTM[utm]
    return json.dumps(props)


#: (event, parent system, probability per parent row, offset ms (low, high), kept ids, JSON)
_NOISE_KINDS: tuple[tuple[str, str, float, tuple[int, int], tuple[str, ...], str], ...] = (
    ("heartbeat", "web", 0.25, (10_000, 40_000), ("anonymous_id",), '{"interval_s": 30}'),
    ("consent_banner_shown", "web", 0.05, (-900, -300), ("anonymous_id",), '{"banner": "v3"}'),
    ("page_view", "web", 0.02, (15_000, 60_000), ("anonymous_id",), '{"page": "store_locator"}'),
    ("app_open", "app", 0.30, (-5_000, -1_000), ("device_id",), "{}"),
)


def _noise(rng: np.random.Generator, main: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Events no touchpoint matches, each attached to a parent visit of the same customer."""
    system = main["system"]
    parts: list[tuple[np.ndarray, np.ndarray, int, tuple[str, ...], str]] = []
    for name, parent_system, prob, (lo, hi), kept, props in _NOISE_KINDS:
        parent = np.flatnonzero((system == _SYS[parent_system]) & (rng.random(len(system)) < prob))
        parts.append((parent, rng.integers(lo, hi, len(parent)), _EV[name], kept, props))
    # Every campaign open or click follows the newsletter send, 1-20 hours earlier.
    parent = np.flatnonzero(main["tp"] == cat.TP["promo_email"])
    offset = -rng.integers(3_600_000, 72_000_000, len(parent))
    parts.append((parent, offset, _EV["email_sent"], ("email",), '{"template": "newsletter"}'))

    out: dict[str, list[np.ndarray]] = {k: [] for k in main}
    for parent, offset, code, kept, props in parts:
        k = len(parent)
        out["ts"].append(main["ts"][parent] + offset)
        out["event"].append(np.full(k, code, dtype=main["event"].dtype))
        out["tp"].append(np.full(k, -1, dtype=np.int16))
        out["revenue"].append(np.full(k, np.nan))
        out["properties"].append(np.full(k, props, dtype=object))
        for col in ("system", "channel", "customer"):
            out[col].append(main[col][parent])
        for col in ID_COLUMNS:
            out[col].append(main[col][parent] if col in kept else np.full(k, None, dtype=object))
    return {k: np.concatenate(v) for k, v in out.items()}


def _plant_hubs(
    rng: np.random.Generator,
    people: People,
    cust: np.ndarray,
    tp: np.ndarray,
    system: np.ndarray,
    ids: dict[str, np.ndarray],
) -> dict[str, np.ndarray]:
    """Shared identifiers that link many customers: a stitcher must not merge them."""
    n = len(people)

    def choose(rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        candidates = np.unique(cust[rows])
        chosen = rng.choice(candidates, size=min(k, len(candidates)), replace=False)
        flag = np.zeros(n, dtype=bool)
        flag[chosen] = True
        return flag, rows & flag[cust]

    # Members are CRM customers, and the shared value is recorded next to their account id
    # (the agent looks the caller up; the kiosk user logs in), as in real systems: that
    # co-occurrence is what would chain dozens of people into one if the stitcher
    # trusted the shared value.
    known = people.has_record[cust]
    office, hit = choose((system == _SYS["callcentre"]) & known, HUB_MEMBERS_PER_CHUNK["phone"])
    ids["phone"][hit] = np.array(OFFICE_PHONE_SPELLINGS, dtype=object)[
        rng.integers(0, len(OFFICE_PHONE_SPELLINGS), int(hit.sum()))
    ]
    ids["crm_id"][hit] = people.crm_id[cust[hit]]
    kiosk, hit = choose((system == _SYS["app"]) & known, HUB_MEMBERS_PER_CHUNK["device_id"])
    rows = np.flatnonzero(hit)
    _, first = np.unique(cust[rows], return_index=True)  # each member's first app event
    ids["device_id"][rows[first]] = KIOSK_DEVICE
    ids["crm_id"][rows[first]] = people.crm_id[cust[rows[first]]]
    till, hit = choose(tp == cat.TP["store_checkout"], HUB_MEMBERS_PER_CHUNK["email"])
    ids["email"][hit] = np.array(PLACEHOLDER_SPELLINGS, dtype=object)[
        rng.integers(0, len(PLACEHOLDER_SPELLINGS), int(hit.sum()))
    ]
    return {"phone": office, "device_id": kiosk, "email": till}
