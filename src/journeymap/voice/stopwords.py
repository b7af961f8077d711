"""A small English stop-word list, kept in the package so nothing is downloaded.

Function words that carry no theme on their own. Negations ("not", "no", "never") and
intensifiers ("too", "very") are deliberately *kept*: "not delivered" and "too expensive"
are exactly the phrases a complaint is made of.
"""

from __future__ import annotations

STOP_WORDS: frozenset[str] = frozenset(
    """
    a about above after again against all am an and any are aren't as at be because been
    before being below between both but by can could couldn't did didn't do does doesn't
    doing don't down during each few for from further had hadn't has hasn't have haven't
    having he he'd he'll he's her here here's hers herself him himself his how how's i i'd
    i'll i'm i've if in into is isn't it it's its itself just let's me more most my myself
    of off on once only or other ought our ours ourselves out over own same shan't she
    she'd she'll she's should shouldn't so some such than that that's the their theirs them
    themselves then there there's these they they'd they'll they're they've this those
    through to under until up us was wasn't we we'd we'll we're we've were weren't what
    what's when when's where where's which while who who's whom why why's will with won't
    would wouldn't you you'd you'll you're you've your yours yourself yourselves also get
    got really would've im ive dont didnt cant wont isnt wasnt one us
    """.split()
)

#: Words kept inside phrases ("not delivered", "too slow") but never a theme on their own.
NOT_ALONE: frozenset[str] = frozenset({"not", "no", "never", "too", "very", "nothing", "ok"})
