"""Channel icons drawn as small SVG paths on a 24x24 grid (no icon font, no download).

Each icon is line art in one colour so it prints well in black and white; unknown
channels get a plain ring with the channel's initial, so every channel has a mark.
"""

from __future__ import annotations

from journeymap.render.svg import esc, fmt

_STROKE = 'fill="none" stroke="{c}" stroke-width="2" stroke-linecap="round" stroke-linejoin="round"'
_ICONS = {
    "web": '<rect x="2" y="4" width="20" height="14" rx="2"/><path d="M8 22h8M12 18v4"/>',
    "app": '<rect x="6" y="2" width="12" height="20" rx="2"/><path d="M11 18h2"/>',
    "email": '<rect x="2" y="5" width="20" height="14" rx="2"/><path d="M2 7l10 7 10-7"/>',
    "social": (
        '<circle cx="7" cy="8" r="3"/><circle cx="17" cy="8" r="3"/>'
        '<path d="M2 20c0-3 2-6 5-6s5 3 5 6M12 20c0-3 2-6 5-6s5 3 5 6"/>'
    ),
    "paid_search": '<circle cx="10" cy="10" r="7"/><path d="M15 15l7 7"/>',
    "store": '<path d="M3 9l2-6h14l2 6M4 9v12h16V9M3 9h18M10 21v-6h4v6"/>',
    "phone": (
        '<path d="M5 3h4l2 5-3 2a12 12 0 0 0 6 6l2-3 5 2v4a2 2 0 0 1-2 2A18 18 0 0 1 3 5'
        'a2 2 0 0 1 2-2z"/>'
    ),
    "chat": '<path d="M3 5h18v11H9l-5 4v-4H3z"/><path d="M7 10h10"/>',
}
_ALIASES = {
    "search": "paid_search",
    "ads": "paid_search",
    "callcentre": "phone",
    "call_center": "phone",
    "mobile": "app",
    "website": "web",
}


def channel_icon(channel: str | None, x: float, y: float, size: float, colour: str) -> str:
    """The icon of ``channel`` with its top-left corner at (x, y), ``size`` px square."""
    key = _ALIASES.get((channel or "").lower(), (channel or "").lower())
    scale = size / 24
    body = _ICONS.get(key)
    if body is None:
        initial = esc((channel or "?")[:1].upper())
        body = (
            f'<circle cx="12" cy="12" r="10"/>'
            f'<text x="12" y="16.5" font-size="12" text-anchor="middle" fill="{colour}"'
            f' stroke="none">{initial}</text>'
        )
    return (
        f'<g transform="translate({fmt(x)} {fmt(y)}) scale({scale:.3f})" '
        f'{_STROKE.format(c=colour)} class="channel-icon" data-channel="{esc(channel or "")}">'
        f"<title>{esc(channel or 'unknown channel')}</title>{body}</g>"
    )


def known_channels() -> list[str]:
    """Channels with a drawn icon (others get a lettered ring)."""
    return sorted(_ICONS)
