"""``alertmanager``: a Prometheus Alertmanager webhook (version 4) from the 7x24 monitoring.

One ticket per incident: an alert's fingerprint (which the same alert on the same host keeps
for ever) and its ``startsAt``. A repeated firing notification of the incident opens nothing;
its ``resolved`` notification becomes a note on the ticket, once; the alert firing again later
(a new ``startsAt``) opens a new ticket that recurs the earlier one. With ``tickets = "group"``,
one ticket per Alertmanager group (``groupKey``) instead, each alert an occurrence on it. The
tier comes from the
``severity`` label through ``[channels.alertmanager] severity`` (e.g. ``critical = "A"``); a
severity it does not map takes ``default_tier`` there (else the contract's), and the ticket
records why.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from faultflow import IntakeRecord, common_record, hookimpl
from faultflow.errors import IntakeError
from faultflow.intake import MAX_TITLE, as_mapping


class Alertmanager:
    name = "alertmanager"
    description = "Prometheus Alertmanager webhook v4: one ticket per alert incident"

    def parse(
        self, raw: bytes | str | Mapping[str, Any], config: Mapping[str, Any]
    ) -> list[IntakeRecord]:
        listed = _api_list(raw)
        hook: Mapping[str, Any] = (
            as_mapping(raw) if listed is None else {"version": "4", "alerts": listed}
        )
        if "alerts" not in hook and "version" not in hook:
            # Not a webhook: a fault the monitoring team enters by the common fields (SPEC §6).
            return [common_record(hook, reporter="monitoring")]
        version = str(hook.get("version", ""))
        if version != "4":
            raise IntakeError(
                f"version: {version or 'missing'}; this channel reads the "
                "Alertmanager webhook version 4"
            )
        alerts = hook.get("alerts")
        if not isinstance(alerts, list) or not alerts:
            raise IntakeError("alerts: missing or empty")
        severities = config.get("severity", {})
        if not isinstance(severities, Mapping):
            raise IntakeError("[channels.alertmanager] severity must be a table of label = tier")
        labels = hook.get("commonLabels")
        common: Mapping[str, Any] = labels if isinstance(labels, Mapping) else {}
        default = config.get("default_tier")
        group, group_title = _group(hook, common)
        return [
            dataclasses.replace(
                self._alert(i, a, severities, default, common, hook),
                group=group,
                group_title=group_title,
            )
            for i, a in enumerate(alerts)
        ]

    @staticmethod
    def _alert(
        i: int,
        alert: Any,
        severities: Mapping[str, Any],
        default: Any,
        common: Mapping[str, Any],
        hook: Mapping[str, Any],
    ) -> IntakeRecord:
        where = f"alerts[{i}]"
        if not isinstance(alert, Mapping):
            raise IntakeError(f"{where}: must be an object")
        labels = alert.get("labels", {})
        annotations = alert.get("annotations", {})
        if not isinstance(labels, Mapping) or not isinstance(annotations, Mapping):
            raise IntakeError(f"{where}: labels and annotations must be objects")
        fingerprint = alert.get("fingerprint")
        if not isinstance(fingerprint, str) or not fingerprint.strip():
            raise IntakeError(f"{where}.fingerprint: missing")
        status = alert.get("status")
        if status not in ("firing", "resolved"):
            raise IntakeError(f"{where}.status: {status!r}, expected firing or resolved")
        name = str(labels.get("alertname") or common.get("alertname") or "alert")
        instance = labels.get("instance")
        summary = annotations.get("summary") or annotations.get("message")
        title = str(summary or (f"{name} on {instance}" if instance else name))[:MAX_TITLE]
        severity = labels.get("severity")
        tier = severities.get(severity) if isinstance(severity, str) else None
        why = {}
        if not isinstance(tier, str):
            tier = default if isinstance(default, str) else None
            said = f"severity {severity!r}" if severity is not None else "no severity label"
            why["tier_reason"] = f"{said} is not mapped in [channels.alertmanager] severity: " + (
                f"default_tier {tier}" if tier else "the contract's default tier"
            )
        starts = alert.get("startsAt")
        if not isinstance(starts, str) or not starts.strip():
            raise IntakeError(f"{where}.startsAt: missing (an RFC 3339 time)")
        try:
            began = datetime.fromisoformat(starts.strip().replace("Z", "+00:00"))
        except ValueError:
            raise IntakeError(f"{where}.startsAt: {starts!r} is not an RFC 3339 time") from None
        if began.tzinfo is None:
            raise IntakeError(f"{where}.startsAt: {starts!r} has no offset (RFC 3339 needs one)")
        resolved = status == "resolved"
        ends = alert.get("endsAt")
        return IntakeRecord(
            title=title,
            description=str(annotations.get("description") or ""),
            reporter=str(hook.get("receiver") or "alertmanager"),
            tier=tier,
            kind=labels.get("kind") if isinstance(labels.get("kind"), str) else None,
            external_id=fingerprint.strip(),
            occurred_at=None if resolved else starts,
            data={
                "labels": dict(labels),
                "generatorURL": alert.get("generatorURL"),
                "status": status,
                "startsAt": starts,
                **({"endsAt": ends} if resolved else {}),
                **why,
            },
            follow_up=resolved,
            # the same instant however it is spelt ("…30.123Z", "…30.123000+00:00")
            incident=began.astimezone(UTC).isoformat(),
            where=where,
        )


def _group(hook: Mapping[str, Any], common: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The group's key and a title for it: ``LinkDown (instance=sw-1, job=snmp)`` from its
    group labels (the alert name first), or from the common labels."""
    key = hook.get("groupKey")
    if not isinstance(key, str) or not key.strip():
        return None, None
    labels = hook.get("groupLabels")
    shown = labels if isinstance(labels, Mapping) and labels else common
    name = str(shown.get("alertname") or common.get("alertname") or "alerts")
    rest = ", ".join(f"{k}={v}" for k, v in sorted(shown.items()) if k != "alertname")
    return key.strip(), (f"{name} ({rest})" if rest else name)[:MAX_TITLE]


def _api_list(raw: bytes | str | Mapping[str, Any]) -> list[Any] | None:
    """The alerts of ``GET /api/v2/alerts`` (a JSON list, as `curl :9093/api/v2/alerts` prints
    it), in the webhook's shape: every alert the API lists is firing. ``None`` for anything
    else."""
    if not isinstance(raw, bytes | str):
        return None  # as_mapping says what is wrong with it
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    if not text.lstrip().startswith("["):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None  # as_mapping says what is wrong with it
    if not isinstance(value, list):
        return None
    return [{**a, "status": "firing"} if isinstance(a, Mapping) else a for a in value]


@hookimpl
def register_channels(register: Callable[[Any], None]) -> None:
    register(Alertmanager())
