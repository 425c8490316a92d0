"""``faultflow serve``: the HTTP API, with the run loop (timers, escalation, delivery, the
mailbox) beside it."""

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
@click.option(
    "--forwarded-allow-ips",
    metavar="ADDRESSES",
    default="",
    help="Trust X-Forwarded-For/-Proto from these proxy addresses (comma-separated, or '*'), "
    "so that the portal's per-address limit sees the real client. Off by default: no header "
    "is trusted, from localhost neither.",
)
@click.option(
    "--base-url",
    metavar="URL",
    envvar="FAULTFLOW_BASE_URL",
    help="Where people reach this service (https://faults.example.gov.cn): the tracking links "
    "given to reporters start with it [FAULTFLOW_BASE_URL]. Without it they are paths, never "
    "built from a request's Host header.",
)
@click.option(
    "--intake-queue",
    type=click.IntRange(0, 100_000),
    default=64,
    show_default=True,
    help="Intake requests that may wait for the intake lane; one more is answered 503 with "
    "Retry-After at once (Alertmanager retries it).",
)
@click.option(
    "--token-rate",
    metavar="PER_SECOND",
    type=click.FloatRange(0),
    default=500.0,
    show_default=True,
    help="Intake requests a second each token may send (bursts of 5 seconds' worth); past it, "
    "429 with Retry-After, so that no one token takes the intake lane. 0: no limit.",
)
@click.option(
    "--read-timeout",
    metavar="SECONDS",
    type=click.FloatRange(0.1),
    default=10.0,
    show_default=True,
    help="Seconds a client has to send a request's headers and body; slower ones are cut off.",
)
@click.option(
    "--portal-limit",
    metavar="BURST/SECONDS",
    default="10/60",
    show_default=True,
    callback=lambda ctx, param, value: _portal_limit(value),
    help="Reports the public portal accepts from one client address at once, then one every "
    "SECONDS (refused forms do not count); past it, 429 with Retry-After.",
)
@click.option(
    "--portal-trust",
    metavar="NETWORK",
    multiple=True,
    callback=lambda ctx, param, value: _networks(value),
    help="A network whose addresses the portal does not limit (e.g. 10.20.0.0/16: the units "
    "behind one extranet NAT share an address). Repeat for several.",
)
@max_sleep_option
@click.pass_obj
def serve(
    settings: Settings, host: str, port: int, no_scheduler: bool, forwarded_allow_ips: str,
    base_url: str | None, intake_queue: int, token_rate: float, read_timeout: float,
    portal_limit: tuple[int, float], portal_trust: tuple[str, ...], max_sleep: float,
) -> None:  # fmt: skip
    """Serve the HTTP API (docs/http.md) until Ctrl-C or SIGTERM.

    Unless --no-scheduler, the same process fires warnings and breaches and delivers
    notifications, as `faultflow run` does: one systemd unit is the whole service. Requests
    need a token (`faultflow token create`). Several `serve` processes may share a database.
    Intake runs in a bounded lane of its own, done by a process of its own (started and
    stopped with serve), so that /healthz, /metrics and the board are answered through any
    flood (docs/http.md, "Storms and sizing").
    """
    log_like_run(settings.verbose)
    engine = settings.engine(interactive=False)
    engine.ready()  # a missing or old schema is said now, not at the first request
    import uvicorn
    from faultflow.http import create_app
    from faultflow.http.admission import Bounds
    from faultflow.http.serving import hush, open_files, protocol

    if base_url is not None and not base_url.startswith(("http://", "https://")):
        raise click.BadParameter(
            f"{base_url!r} is not an http:// or https:// address", param_hint="--base-url"
        )
    bounds = Bounds(queue=intake_queue, rate=token_rate, burst=max(1, int(token_rate * 5)))
    # intake in a process of its own, on an engine of its own: a flood of it never holds the
    # engine of the board, /readyz and /metrics, nor takes turns with them for the interpreter
    app = create_app(engine, base_url=base_url, intake_process=settings.opener(), bounds=bounds,
                     portal_limit=portal_limit, portal_trusted=portal_trust)  # fmt: skip
    app.state.intake.hands.wait()  # the intake process has its engine before a storm comes
    trusted = forwarded_allow_ips.strip()
    open_files()  # a storm opens a connection per sender
    config = uvicorn.Config(
        app, host=host, port=port, log_level="info", lifespan="off",
        http=protocol(read_timeout), backlog=4096,
        timeout_graceful_shutdown=5,  # open board streams (SSE) do not hold up a stop
        # uvicorn trusts X-Forwarded-For from 127.0.0.1 by default: anyone on the host could
        # then pose as any address and slip past the portal's per-address limit
        proxy_headers=bool(trusted), forwarded_allow_ips=trusted or None,
    )  # fmt: skip
    hush()  # after uvicorn.Config, which sets up its log handlers
    server = _server(config)
    # The run loop beside the API, on engines of its own (the HTTP requests keep theirs):
    # timers, escalation and maintenance; delivery; the contract's mailbox, each a lane.
    from faultflow.run import loop
    from faultflow.run.mailbox import configured
    from faultflow.run.modules import Mailbox

    box = None if no_scheduler else configured(engine.contract)
    background: threading.Thread | None = None
    stopping = threading.Event()
    if not no_scheduler:
        timers = settings.open_engine()
        lanes = timers.lanes()
        if box is not None:  # [channels.email.imap], read beside the API
            mail_engine = settings.open_engine()
            reader = Mailbox(lambda raw: mail_engine.intake_all("email", raw, "mailbox"), box)
            # daemon: an IMAP IDLE in progress must not hold the process at exit
            lanes.append(loop.Lane("mailbox", [reader], daemon=True))
        background = threading.Thread(
            target=loop.run, args=(lanes, stopping, max_sleep, False), name="faultflow-run"
        )
        background.start()
    mailbox = f"; mailbox {box.user}@{box.host}" if box is not None else ""
    click.echo(
        f"faultflow serve: {engine.store.safe_url} on http://{host}:{port} "
        f"(scheduler {'off' if no_scheduler else 'on'}{mailbox}; Ctrl-C to stop)",
        err=True,
    )
    try:
        server.run()  # uvicorn handles SIGINT and SIGTERM: it finishes requests, then returns
    finally:
        stopping.set()
        if background is not None:
            background.join()
        app.state.intake.close()  # what it holds is answered, then its process stops
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


def _portal_limit(value: str) -> tuple[int, float]:
    burst, _, seconds = value.partition("/")
    try:
        limit = int(burst), float(seconds)
    except ValueError:
        limit = (0, 0.0)
    if limit[0] < 1 or limit[1] <= 0:
        raise click.BadParameter(
            f"{value!r}: give BURST/SECONDS, e.g. 10/60 (ten at once, then one a minute)"
        )
    return limit


def _networks(values: tuple[str, ...]) -> tuple[str, ...]:
    import ipaddress

    for value in values:
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise click.BadParameter(
                f"{value!r} is not a network (e.g. 10.20.0.0/16 or 192.0.2.7)"
            ) from None
    return values
