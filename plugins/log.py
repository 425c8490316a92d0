"""``log`` notifier: one structured line (JSON) per notification on the ``faultflow.notify``
logger — what `faultflow run` prints, and what a log shipper can pick up."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from faultflow import hookimpl

logger = logging.getLogger("faultflow.notify")
LEVELS = {"warning": logging.WARNING, "breach": logging.ERROR, "escalation": logging.ERROR}


class LogNotifier:
    name = "log"

    def notify(self, notification: Mapping[str, Any], config: Mapping[str, Any]) -> None:
        level = LEVELS.get(str(notification.get("kind")), logging.INFO)
        logger.log(level, json.dumps(notification, ensure_ascii=False, sort_keys=True))


@hookimpl
def register_notifiers(register: Callable[[Any], None]) -> None:
    register(LogNotifier())
