"""What every command shares: the global settings and the engine they open, the error
mapping (one line on stderr; exit 1, or 75 when the database is only temporarily unavailable),
the common options and the output helpers."""

from __future__ import annotations

import getpass
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from faultflow.contract.model import Contract
    from faultflow.engine import Engine

ENV_DB, ENV_CONFIG, ENV_NOW, ENV_ACTOR, ENV_LOCK_TIMEOUT = (
    "FAULTFLOW_DB",
    "FAULTFLOW_CONFIG",
    "FAULTFLOW_NOW",
    "FAULTFLOW_ACTOR",
    "FAULTFLOW_LOCK_TIMEOUT",
)
TIME_HELP = "ISO 8601 (offset optional), HH:MM today, or -15m"


class Settings:
    """The global options, and the engine they describe (opened on first use)."""

    def __init__(
        self, db: str, config: str | None, now: str | None, people: str | None = None,
        verbose: bool = False,
    ) -> None:  # fmt: skip
        self.db = db
        self.verbose = verbose
        self.config = config
        self.people_option = people
        self.now_text = now
        self._engine: Engine | None = None
        self._others: list[Engine] = []  # every engine opened, to close
        self._contract: Contract | None = None

    def config_path(self) -> Path | None:
        if self.config:
            return Path(self.config)
        local = Path("states.toml")
        return local if local.is_file() else None

    def people_path(self) -> Path | None:
        """--people (or FAULTFLOW_PEOPLE), else ./people.toml when there is one."""
        from faultflow.duty.people import find

        return find(self.people_option)

    def contract(self) -> Contract:
        if self._contract is None:
            from faultflow.contract.compile import load_contract

            self._contract = load_contract(self.config_path())
        return self._contract

    def clock(self) -> Callable[[], Any] | None:
        if not self.now_text:
            return None
        import pendulum
        from faultflow.timekeeping.times import parse_time

        zone = self.contract().timezone
        fixed = parse_time(self.now_text, pendulum.now(zone.key), zone)
        return lambda: fixed

    def engine(self, create: bool = False, interactive: bool = True, pinned: bool = True) -> Engine:
        """The engine (opened on first use). An interactive command waits at most
        FAULTFLOW_LOCK_TIMEOUT seconds (default 10) for a lock another process holds, and says
        that it is waiting after a second; `run` keeps the database's own patience. With
        ``pinned=False`` (the contract commands) the contract file may differ from the
        database's version: the engine then runs as the database does."""
        if self._engine is None:
            lock_timeout = _lock_timeout() if interactive else None
            self._engine = self.open_engine(create, lock_timeout, pinned)
            if interactive:
                _LockWatch(self._engine.store, lock_timeout).start()
        return self._engine

    def open_engine(
        self, create: bool = False, lock_timeout: float | None = None, pinned: bool = True
    ) -> Engine:
        """A new engine of its own (its own connections), e.g. for `serve`'s scheduler thread;
        the caller closes it."""
        from faultflow.engine import Engine

        engine = Engine.open(
            db=self.db,
            config=self.contract(),
            clock=self.clock(),
            create=create,
            lock_timeout=lock_timeout,
            audit_key=os.environ.get("FAULTFLOW_AUDIT_KEY") or None,
            people=self.people_path(),
            pinned=pinned,
        )
        self._others.append(engine)
        return engine

    def opener(self) -> Callable[[], Engine]:
        """What opens an engine as :meth:`open_engine` does, in another process (it pickles):
        the contract and people files found now, the time fixed now, by full paths; that
        process logs as this one does (:func:`log_like_run`)."""
        import functools

        config, people, clock = self.config_path(), self.people_path(), self.clock()
        return functools.partial(
            _reopened,
            self.db,
            str(config.resolve()) if config is not None else None,
            clock().isoformat() if clock is not None else None,
            str(people.resolve()) if people is not None else None,
            self.verbose,
        )

    def close(self) -> None:
        for engine in self._others:
            engine.close()


def _reopened(
    db: str, config: str | None, now: str | None, people: str | None, verbose: bool
) -> Engine:
    log_like_run(verbose)
    return Settings(db, config, now, people, verbose).open_engine()


EX_TEMPFAIL = 75  # sysexits.h: a temporary failure; mail transfer agents retry on it


def _lock_timeout() -> float:
    text = os.environ.get(ENV_LOCK_TIMEOUT, "10")
    try:
        value = float(text)
    except ValueError:
        raise click.UsageError(f"{ENV_LOCK_TIMEOUT}={text!r}: give a number of seconds") from None
    if value <= 0:
        raise click.UsageError(f"{ENV_LOCK_TIMEOUT}={text!r}: give a number of seconds above 0")
    return value


class _LockWatch(threading.Thread):
    """Says on stderr, once per wait, that a command is waiting for the database: a unit of
    work that lasts more than a second is waiting for a lock (they take well under 1 ms)."""

    def __init__(self, store: Any, limit: float | None) -> None:
        super().__init__(name="faultflow-lock-watch", daemon=True)
        self.store, self.limit = store, limit

    def run(self) -> None:
        told: float | None = None
        while True:
            time.sleep(0.2)
            since = self.store.busy_since
            if since is not None and since != told and time.monotonic() - since > 1.0:
                told = since
                limit = f"; giving up after {self.limit:g} s" if self.limit else ""
                click.echo(
                    f"waiting for the database: another process holds a lock{limit}", err=True
                )


class FaultflowGroup(click.Group):
    """Turns every refusal into one line on stderr and exit code 1 (75 when the database is
    only temporarily unavailable: try again later)."""

    def invoke(self, ctx: click.Context) -> Any:
        from faultflow.errors import DatabaseUnavailable, FaultflowError

        try:
            return super().invoke(ctx)
        except DatabaseUnavailable as err:
            click.echo(f"error: {err}", err=True)
            ctx.exit(EX_TEMPFAIL)
        except FaultflowError as err:
            click.echo(f"error: {err}", err=True)
            ctx.exit(1)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except BrokenPipeError:
            raise  # the reader went away (`| head`): click stops quietly, as `cat` would
        except Exception as err:
            if os.environ.get("FAULTFLOW_DEBUG"):
                raise
            click.echo(
                f"internal error: {type(err).__name__}: {err} (set FAULTFLOW_DEBUG=1 to see where)",
                err=True,
            )
            ctx.exit(1)
        finally:
            settings = ctx.find_object(Settings)
            if settings is not None:
                settings.close()


def actor_option(f: Callable[..., Any], flag: str = "--as") -> Callable[..., Any]:
    return click.option(
        flag,
        "actor",
        envvar=ENV_ACTOR,
        default=lambda: _user(),
        metavar="ACTOR",
        help=f"Who does this [{ENV_ACTOR}; default: your login].",
    )(f)


def by_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """Who does this, as ``--by`` (for a command whose ``--as`` says something else)."""
    return actor_option(f, "--by")


def at_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--at",
        metavar="TIME",
        help=f"When it happened (default now): {TIME_HELP}. Not in the future, "
        "not before the ticket's last event.",
    )(f)


def max_sleep_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """The scheduler's longest sleep (`run`, and `serve` beside its API)."""
    return click.option(
        "--max-sleep",
        type=click.FloatRange(min=0.05),
        default=1.0,
        show_default=True,
        help="The scheduler's longest sleep between sweeps, in seconds.",
    )(f)


def json_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--json", "as_json", is_flag=True, help="Print JSON (SPEC §6 field names) and nothing else."
    )(f)


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "operator"


def emit_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2))


def show_ticket(settings: Settings, ticket: Any, as_json: bool) -> None:
    engine = settings.engine()
    if as_json:
        emit_json(ticket.to_dict())
        return
    from .render import ticket_text

    where = engine.whereabouts(ticket) if ticket.unit else None
    click.echo(ticket_text(ticket, engine.now(), where))


def log_like_run(verbose: bool = False) -> None:
    """Log lines (the `log` notifier's, failed deliveries) to stderr, as `run` does: under
    cron they are mailed, not lost. ``verbose`` (``faultflow --verbose``): every library's
    debug lines too, the state machine's included."""
    import logging

    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s"
        if verbose
        else "%(asctime)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    # transitions logs each event it processes at INFO ("Finished processing state ...
    # callbacks"): noise in a service's log; its warnings still show (all of it with --verbose)
    logging.getLogger("transitions").setLevel(logging.DEBUG if verbose else logging.WARNING)


def write_out(text: str, out: str | None) -> None:
    if out is None:
        click.echo(text)
        return
    from faultflow.errors import InvalidInput

    path = Path(out)
    if not path.parent.is_dir():
        raise InvalidInput(f"cannot write {path}: there is no folder {path.parent}")
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
        tmp.replace(path)  # never a half-written report
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise InvalidInput(f"cannot write {path}: {err.strerror or err}") from None
    click.echo(f"wrote {path}", err=True)
