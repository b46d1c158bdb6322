"""Language codes: which ``language:`` values a config may name.

A language is an ISO 639-1 code (``en``, ``de``, ``zh``; also the old ``iw``,
``in``, ``ji``) or one of a few ISO 639-3 codes of languages that have no
two-letter code (``yue``, ``fil``, ...), optionally followed, as in BCP 47,
by a script (``zh-Hans``), a region (``en-US``, ``pt-BR``, ``es-419``) and
variants (``de-1996``); ``-`` or ``_`` separate the parts and case does not
matter. :func:`check_language` says what is wrong with any other value and
suggests the closest codes.
"""

from __future__ import annotations

import difflib
import re

ISO_639_1 = frozenset(
    """aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu cv cy
    da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu hy
    hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb lg li
    ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv ny oc oj om or os pa
    pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr ss st su sv sw ta te tg th
    ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo za zh zu iw in ji""".split()
)
"""The two-letter codes of ISO 639-1 (and the withdrawn ``iw``, ``in``, ``ji`` that some tools still write)."""

THREE_LETTER = frozenset(
    "ace ast ban bug ceb ckb fil gsw hak haw hmn kab min nan nds sco scn wuu yue zza".split()
)
"""ISO 639-3 codes accepted for languages without a two-letter code."""

NAMES = {
    "ar": "Arabic", "bg": "Bulgarian", "bn": "Bengali", "ca": "Catalan", "cs": "Czech", "da": "Danish",
    "de": "German", "el": "Greek", "en": "English", "es": "Spanish", "et": "Estonian", "fa": "Persian",
    "fi": "Finnish", "fr": "French", "he": "Hebrew", "hi": "Hindi", "hr": "Croatian", "hu": "Hungarian",
    "id": "Indonesian", "it": "Italian", "ja": "Japanese", "ko": "Korean", "lt": "Lithuanian",
    "lv": "Latvian", "ms": "Malay", "nb": "Norwegian Bokmal", "nl": "Dutch", "no": "Norwegian",
    "pl": "Polish", "pt": "Portuguese", "ro": "Romanian", "ru": "Russian", "sk": "Slovak",
    "sl": "Slovenian", "sr": "Serbian", "sv": "Swedish", "sw": "Swahili", "ta": "Tamil", "th": "Thai",
    "tr": "Turkish", "uk": "Ukrainian", "ur": "Urdu", "vi": "Vietnamese", "zh": "Chinese",
    "yue": "Cantonese", "fil": "Filipino",
}
"""English names of common languages, for suggestions (``english`` → ``en``)."""

# Three-letter codes and native names people write for languages that have a two-letter code.
_LONG_FORMS = {
    "eng": "en", "deu": "de", "ger": "de", "fra": "fr", "fre": "fr", "spa": "es", "zho": "zh", "chi": "zh",
    "cmn": "zh", "jpn": "ja", "rus": "ru", "por": "pt", "ita": "it", "kor": "ko", "ara": "ar", "hin": "hi",
    "nld": "nl", "dut": "nl", "tur": "tr", "pol": "pl", "swe": "sv", "vie": "vi", "tha": "th",
    "deutsch": "de", "español": "es", "espanol": "es", "français": "fr", "francais": "fr", "italiano": "it",
    "nederlands": "nl", "português": "pt", "portugues": "pt", "中文": "zh", "日本語": "ja",
}

_TAG = re.compile(
    r"(?P<language>[A-Za-z]{2,3})"
    r"(?:[-_](?P<script>[A-Za-z]{4}))?"
    r"(?:[-_](?P<region>[A-Za-z]{2}|[0-9]{3}))?"
    r"(?:[-_](?:[A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*"
)


def is_valid_language(code: str) -> bool:
    """True for a known language code, with or without script, region and variants."""
    match = _TAG.fullmatch(code)
    if match is None:
        return False
    language = match.group("language").lower()
    return language in ISO_639_1 or language in THREE_LETTER


def closest_languages(code: str, n: int = 3) -> list[str]:
    """Up to ``n`` known codes closest to ``code`` (by code, and by English name)."""
    word = re.split(r"[-_\s]", code.strip(), maxsplit=1)[0].lower()
    found: list[str] = []
    if word in _LONG_FORMS:
        found.append(_LONG_FORMS[word])
    by_name = {name.lower(): key for key, name in NAMES.items()}
    found += [by_name[name] for name in difflib.get_close_matches(word, list(by_name), n=n, cutoff=0.75)]
    if found:
        return list(dict.fromkeys(found))[:n]
    found += difflib.get_close_matches(word, sorted(ISO_639_1 | THREE_LETTER), n=n, cutoff=0.5)
    return list(dict.fromkeys(found))[:n]


def language_problem(code: str) -> tuple[str, str] | None:
    """None for a valid code, else ``(what is wrong, hint)``."""
    if is_valid_language(code):
        return None
    close = closest_languages(code)
    guess = (
        "did you mean " + " or ".join(f"'{c}'" + (f" ({NAMES[c]})" if c in NAMES else "") for c in close) + "? "
        if close
        else ""
    )
    return (
        f"unknown language code {code!r}",
        guess + ("Write" if guess else "write") + " an ISO 639-1 code such as 'en', 'de' or 'zh', optionally with a script "
        "or region as in 'zh-Hans', 'en-US', 'pt-BR'",
    )


__all__ = ["ISO_639_1", "NAMES", "THREE_LETTER", "closest_languages", "is_valid_language", "language_problem"]
