"""``webhook`` notifier: an HTTP POST per notification.

Configuration (``[notifiers.NAME]`` with ``use = "webhook"``):

- ``url`` (required): where to POST;
- ``format``: ``json`` (the notification as it is) or ``wecom`` (a WeCom group-robot markdown
  message, for the units' chat group of the seed contract);
- ``timeout``: seconds, default 5; ``headers``: a table of extra headers.

Any answer other than 2xx — or, for ``wecom``, an ``errcode`` other than 0 — is a failure, and
the dispatcher retries it with backoff.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

from faultflow import hookimpl
from faultflow.errors import DeliveryRefused

TITLES = {
    "warning": "⚠️ 预警 warning",
    "breach": "🔴 超时 breach",
    "escalation": "⬆️ 升级 escalation",
    "transition": "ℹ️ 状态 update",
}


def wecom_markdown(n: Mapping[str, Any]) -> dict[str, Any]:
    """A WeCom group-robot message: ``{"msgtype": "markdown", "markdown": {"content": ...}}``."""
    kind = str(n.get("kind"))
    if kind == "digest":  # what waited while the notifier's coalesce window was open
        content = f"**汇总 digest** {n.get('title', '')}\n{n.get('note', '')}"
        return {"msgtype": "markdown", "markdown": {"content": cut(content, WECOM_LIMIT)}}
    colour = {"breach": "warning", "escalation": "warning", "warning": "comment"}.get(kind, "info")
    lines = [
        f'**{TITLES.get(kind, kind)}** 工单 <font color="{colour}">{n.get("ticket")}</font>',
        f"> {n.get('title', '')}",
        f"> 级别 tier: **{n.get('tier', '-')}**  负责人 owner: {n.get('owner', '-')}",
    ]
    if n.get("clock"):
        lines.append(f"> 承诺 promise: {n['clock']}  到期 due: {n.get('due_at', '-')}")
    if n.get("recipients"):
        lines.append(f"> 通知 to: {', '.join(n['recipients'])}")
    mentions = [
        f"<@{p['contacts']['wecom']}>"
        for p in n.get("people") or ()
        if isinstance(p, Mapping)
        and isinstance(p.get("contacts"), Mapping)
        and p["contacts"].get("wecom")
    ]
    if mentions:  # an escalation step's people, resolved from the duty rosters
        lines.append(f"> 呼叫 paging: {' '.join(mentions)}")
    if n.get("note"):
        lines.append(f"> {n['note']}")
    if kind == "transition":
        lines.append(f"> {n.get('from') or ''} → {n.get('to')} by {n.get('actor')}")
    return {"msgtype": "markdown", "markdown": {"content": cut("\n".join(lines), WECOM_LIMIT)}}


WECOM_LIMIT = 4096
"""The group robot's limit on a markdown message's content, in bytes of UTF-8."""


def cut(text: str, limit: int) -> str:
    """``text`` in at most ``limit`` bytes of UTF-8, cut on a character boundary (``…``)."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[: limit - 3].decode("utf-8", "ignore") + "…"


WECOM_FOR_GOOD = {
    93000: "invalid webhook URL or key",
    93004: "the robot is disabled",
    40008: "invalid message type",
}
"""Group-robot error codes that retrying cannot mend (others, such as 45009, the rate limit,
are retried with backoff)."""


class Webhook:
    name = "webhook"

    def notify(self, notification: Mapping[str, Any], config: Mapping[str, Any]) -> None:
        url = config.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ValueError('webhook notifier needs url = "http(s)://..." in its table')
        fmt = config.get("format", "json")
        if fmt not in ("json", "wecom"):
            raise ValueError(f"webhook format {fmt!r}: use json or wecom")
        body = wecom_markdown(notification) if fmt == "wecom" else dict(notification)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "faultflow-webhook",
        }
        headers.update({str(k): str(v) for k, v in dict(config.get("headers", {})).items()})
        request = urllib.request.Request(
            url,
            data=json.dumps(body, ensure_ascii=False).encode("utf-8"),
            headers=headers,
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=float(config.get("timeout", 5))) as r:
                answer = r.read(65536)
        except urllib.error.HTTPError as err:
            raise RuntimeError(f"HTTP {err.code} from {url}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as err:
            raise RuntimeError(f"cannot reach {url}: {getattr(err, 'reason', err)}") from None
        if fmt == "wecom":
            try:
                code = json.loads(answer or b"{}").get("errcode", 0)
            except (ValueError, AttributeError):
                raise RuntimeError(
                    f"WeCom answered something that is not JSON: {answer[:80]!r}"
                ) from None
            if code in WECOM_FOR_GOOD:
                raise DeliveryRefused(
                    f"WeCom: errcode {code} ({WECOM_FOR_GOOD[code]}): fix the notifier's "
                    "configuration; retrying will not help"
                )
            if code != 0:
                raise RuntimeError(f"WeCom refused the message: errcode {code}")


@hookimpl
def register_notifiers(register: Callable[[Any], None]) -> None:
    register(Webhook())
