"""Which language a web request gets: ``?lang=`` (remembered in a cookie), else the cookie,
else the browser's ``Accept-Language``, else Chinese. The words themselves are the catalogues of
``faultflow.words``."""

from __future__ import annotations

from collections.abc import Mapping

from ..words import DEFAULT, LANGUAGES, Words

__all__ = ["COOKIE", "Words", "language"]

COOKIE = "ff_lang"


def language(query: Mapping[str, str], cookies: Mapping[str, str], accept: str) -> str:
    """The language of a request (one of :data:`LANGUAGES`)."""
    for chosen in (query.get("lang"), cookies.get(COOKIE)):
        if chosen in LANGUAGES:
            return str(chosen)
    best, best_q = DEFAULT, -1.0
    for i, part in enumerate(accept.split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and q - i * 1e-6 > best_q:
            best, best_q = primary, q - i * 1e-6
    return best
