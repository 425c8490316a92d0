"""``alertmanager``: a Prometheus Alertmanager webhook (version 4) from the 7x24 monitoring.

One ticket per alert fingerprint. The tier comes from the ``severity`` label through
``[channels.alertmanager] severity`` in the contract (e.g. ``critical = "A"``). A repeated
firing notification opens no new ticket; a ``resolved`` one becomes a note on the ticket.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from faultflow import IntakeRecord, common_record, hookimpl
from faultflow.errors import IntakeError
from faultflow.intake import MAX_TITLE, as_mapping


class Alertmanager:
    name = "alertmanager"
    description = "Prometheus Alertmanager webhook v4: one ticket per alert fingerprint"

    def parse(
        self, raw: bytes | str | Mapping[str, Any], config: Mapping[str, Any]
    ) -> list[IntakeRecord]:
        hook = as_mapping(raw)
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
        common = hook.get("commonLabels") if isinstance(hook.get("commonLabels"), Mapping) else {}
        return [self._alert(i, a, severities, common, hook) for i, a in enumerate(alerts)]

    @staticmethod
    def _alert(
        i: int,
        alert: Any,
        severities: Mapping[str, Any],
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
        starts = alert.get("startsAt")
        if starts is not None and not isinstance(starts, str):
            raise IntakeError(f"{where}.startsAt: must be an RFC 3339 time")
        resolved = status == "resolved"
        ends = alert.get("endsAt")
        return IntakeRecord(
            title=title,
            description=str(annotations.get("description") or ""),
            reporter=str(hook.get("receiver") or "alertmanager"),
            tier=tier if isinstance(tier, str) else None,
            kind=labels.get("kind") if isinstance(labels.get("kind"), str) else None,
            external_id=fingerprint.strip(),
            occurred_at=None if resolved else starts,
            data={
                "labels": dict(labels),
                "generatorURL": alert.get("generatorURL"),
                "status": status,
                **({"endsAt": ends} if resolved else {}),
            },
            follow_up=resolved,
        )


@hookimpl
def register_channels(register: Callable[[Any], None]) -> None:
    register(Alertmanager())
