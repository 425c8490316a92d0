"""The words a text is searched by, pure (no database): Chinese segmented by jieba, model
names and other Latin runs kept whole, and the trade's synonyms.

- A Latin run — letters, digits and ``- _ . /`` inside — is one word, lower-cased
  (``S5720-28X``, ``AR2220``, ``10.20.1.1``), and its parts are words too (``s5720``,
  ``28x``), so a model is found by its whole name, its series or a prefix.
- Chinese is cut by jieba's search mode: ``交换机`` gives ``交换机`` and ``交换`` and ``换机``,
  so a two-character word like ``光纤`` or ``交换`` matches within longer ones.
- Synonyms (``光猫`` = ``ONU``; ``掉线`` = ``断网``) widen a *query*: each of its words is
  asked for with the words of the same meaning. The built-in groups are :data:`SYNONYMS`; a
  contract adds its own (``[kb] synonyms``). Their words are also taught to jieba, so that a
  trade word is cut whole.

The database indexes the words as they are (exact lexemes; docs/kb.md).
"""

from __future__ import annotations

import functools
import logging
import re
import threading
from collections.abc import Iterable, Sequence

LATIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9\-_./]*[A-Za-z0-9])?")
HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
PARTS = re.compile(r"[\-_./]")

SYNONYMS: tuple[tuple[str, ...], ...] = (
    ("光猫", "ONU", "光调制解调器"),
    ("掉线", "断网", "断线", "中断", "不通"),
    ("交换机", "switch"),
    ("路由器", "router"),
    ("防火墙", "firewall"),
    ("光纤", "光缆", "fiber", "fibre"),
    ("宕机", "死机", "down"),
    ("丢包", "packet loss"),
    ("慢", "缓慢", "卡顿", "延迟"),
    ("重启", "reboot", "restart"),
    ("固件", "firmware"),
    ("电源", "power"),
    ("光模块", "SFP"),
)
"""Words of one meaning in the trade: a query for one finds the others."""

_lock = threading.Lock()
_taught: set[str] = set()


@functools.cache
def _jieba() -> object:
    """jieba, loaded once (its dictionary takes about half a second), quietly."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


def teach(groups: Iterable[Sequence[str]]) -> None:
    """Make jieba cut the Chinese words of ``groups`` whole (once each)."""
    jieba = _jieba()
    with _lock:
        for group in groups:
            for word in group:
                if HAN.search(word) and word not in _taught:
                    jieba.add_word(word, freq=2000)  # type: ignore[attr-defined]
                    _taught.add(word)


def _han(text: str) -> list[str]:
    jieba = _jieba()
    words = []
    for word in jieba.cut_for_search(text):  # type: ignore[attr-defined]
        word = word.strip()
        if word and HAN.search(word):
            words.append(word)
    return words


def terms(text: str) -> list[str]:
    """The words ``text`` is found by, in order, repeats kept (they weigh in the ranking)."""
    teach(SYNONYMS)
    out: list[str] = []
    at = 0
    for m in LATIN.finditer(text):
        if m.start() > at:
            out += _han(text[at : m.start()])
        token = m.group().lower()
        out.append(token)
        parts = [p for p in PARTS.split(token) if p]
        if len(parts) > 1:
            out += parts
        at = m.end()
    if at < len(text):
        out += _han(text[at:])
    return out


def body(*texts: str | None) -> str:
    """The words of ``texts`` as the index keeps them: one space between."""
    return " ".join(w for t in texts if t for w in terms(t))


@functools.lru_cache(maxsize=16)
def _meanings(groups: tuple[tuple[str, ...], ...]) -> dict[str, frozenset[str]]:
    """Each word of the synonyms (built in, and ``groups``) with the words of its meaning."""
    every = [*SYNONYMS, *groups]
    teach(every)
    meaning: dict[str, set[str]] = {}
    for group in every:
        words = {w for g in group for w in ([g] if HAN.search(g) else terms(g))}
        for w in words:
            meaning.setdefault(w, set()).update(words)
    return {w: frozenset(same) for w, same in meaning.items()}


def widened(query: str, groups: Iterable[Sequence[str]] = ()) -> list[list[str]]:
    """The words of ``query``, each with the words of the same meaning (:data:`SYNONYMS` and
    ``groups``): one list per word of the query, the word first; repeats dropped."""
    meaning = _meanings(tuple(tuple(g) for g in groups))
    out: list[list[str]] = []
    seen: set[str] = set()
    for word in terms(query):
        if word in seen:
            continue
        seen.add(word)
        same = sorted(meaning.get(word, frozenset()) - {word})
        out.append([word, *same])
    return out
