"""``faultflow serve``: the HTTP API, with the scheduler and notification delivery beside it."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

import click

from .base import Settings, log_like_run, max_sleep_option


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", type=click.IntRange(1, 65535), default=8000, show_default=True, help="TCP port."
)
@click.option(
    "--no-scheduler",
    is_flag=True,
    help="Serve the API only (run `faultflow run` elsewhere to fire alarms and deliver).",
)
@max_sleep_option
@click.pass_obj
def serve(settings: Settings, host: str, port: int, no_scheduler: bool, max_sleep: float) -> None:
    """Serve the HTTP API (docs/http.md) until Ctrl-C or SIGTERM.

    Unless --no-scheduler, the same process fires warnings and breaches and delivers
    notifications, as `faultflow run` does: one systemd unit is the whole service. Requests
    need a token (`faultflow token create`). Several `serve` processes may share a database.
    """
    log_like_run()
    engine = settings.engine(interactive=False)
    engine.ready()  # a missing or old schema is said now, not at the first request
    import uvicorn
    from faultflow.http import create_app

    app = create_app(engine)
    config = uvicorn.Config(
        app, host=host, port=port, log_level="info", lifespan="off",
        timeout_graceful_shutdown=5,  # open board streams (SSE) do not hold up a stop
    )  # fmt: skip
    server = _server(config)
    scheduler: threading.Thread | None = None
    timers: Any = None
    if not no_scheduler:
        timers = settings.open_engine()
        scheduler = threading.Thread(
            target=timers.run,
            kwargs={"max_sleep": max_sleep, "handle_signals": False},
            name="faultflow-scheduler",
        )
        scheduler.start()
    from faultflow.run.mailbox import configured, watch

    box = None if no_scheduler else configured(engine.contract)
    reader: threading.Thread | None = None
    reading = threading.Event()
    if box is not None:  # the mailbox of [channels.email.imap], read beside the API
        mail_engine = settings.open_engine()
        reader = threading.Thread(
            target=watch,
            args=(lambda raw: mail_engine.intake_all("email", raw, "mailbox"), box,
                  reading.is_set),
            kwargs={"idle_s": 10.0},
            name="faultflow-mailbox",
            daemon=True,  # an IMAP IDLE in progress must not hold the process at exit
        )  # fmt: skip
        reader.start()
    mailbox = f"; mailbox {box.user}@{box.host}" if box is not None else ""
    click.echo(
        f"faultflow serve: {engine.store.safe_url} on http://{host}:{port} "
        f"(scheduler {'off' if no_scheduler else 'on'}{mailbox}; Ctrl-C to stop)",
        err=True,
    )
    try:
        server.run()  # uvicorn handles SIGINT and SIGTERM: it finishes requests, then returns
    finally:
        reading.set()
        if scheduler is not None:
            timers.stop()
            scheduler.join()
    click.echo("faultflow serve: stopped", err=True)


def _server(config: Any) -> Any:
    """uvicorn's server, but a SIGINT or SIGTERM ends ``run()`` and nothing more: uvicorn would
    raise the signal again afterwards, killing the process before the scheduler has stopped."""
    import uvicorn

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            handled = (signal.SIGINT, signal.SIGTERM)
            previous = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

    return Server(config)
