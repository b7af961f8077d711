"""Tokens and n-grams of a comment: the one tokenizer themes use.

Words are runs of Unicode letters (apostrophes inside a word kept: "didn't"), lowercased;
digits, punctuation and emoji separate words and are otherwise ignored, so any language
with spaces between words tokenizes sensibly and none crashes. An n-gram (1-3 words) is
kept unless it starts or ends with a stop word: "waited on hold" stays, "on hold" and
"the" do not; negations and intensifiers ("not", "too") count only inside a phrase.
"""

from __future__ import annotations

import re

from journeymap.voice.stopwords import NOT_ALONE, STOP_WORDS

_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")
MAX_N = 3


def tokens(text: str | None) -> list[str]:
    """Lowercased words of ``text`` (empty for None or text without letters)."""
    if not text:
        return []
    return [w.replace("’", "'") for w in _WORD.findall(text.lower())]


def ngrams(text: str | None, max_n: int = MAX_N) -> set[str]:
    """Distinct 1..max_n-word phrases of ``text`` not starting or ending with a stop word;
    single letters are not words."""
    words = tokens(text)
    out: set[str] = set()
    for i, first in enumerate(words):
        if first in STOP_WORDS or len(first) < 2:
            continue
        for n in range(1, max_n + 1):
            if i + n > len(words):
                break
            last = words[i + n - 1]
            if last in STOP_WORDS or len(last) < 2 or (n == 1 and first in NOT_ALONE):
                continue
            out.add(" ".join(words[i : i + n]))
    return out
