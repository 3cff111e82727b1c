"""The ``pflow`` command."""

from __future__ import annotations

import getpass
import logging
import sys

import click
from werkzeug.security import generate_password_hash

from pflow.adapters.users import DEMO_USERS
from pflow.config import ConfigError, Settings, is_local_host
from pflow.domain.errors import DomainError
from pflow.domain.users import password_problem
from pflow.entrypoints.runtime import configure_logging, running, stop_on_sigterm, wait_for_stop_signal
from pflow.service.reconciler import Reconciler

log = logging.getLogger("pflow")


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _fail(exc: Exception) -> click.ClickException:
    message = exc.message if isinstance(exc, DomainError) else str(exc)
    return click.ClickException(message)


@click.group()
@click.option("--log-level", default="INFO", show_default=True, help="Python logging level")
def main(log_level: str) -> None:
    """PFlow: ticket approval on a BPMN workflow engine."""
    try:
        configure_logging(log_level.upper())
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def refuse_demo_users_on_a_network(settings) -> None:
    """Demo accounts (password = name, carol is admin) must never be reachable from other machines."""
    if settings.demo_users_active and not is_local_host(settings.http_host):
        raise click.ClickException(
            f"Refusing to serve the demo users (password = name) on {settings.http_host}, which other machines "
            "can reach. Set PFLOW_USERS_FILE to a users file (hashes from `pflow hash-password`) and "
            "PFLOW_DEMO_USERS=0, or listen on this machine only: API_HTTP_PORT=127.0.0.1:"
            f"{settings.http_port} (or --host 127.0.0.1).")


@main.command()
@click.option("--host", default=None, help="Interface to listen on (default from API_HTTP_PORT, else 127.0.0.1 for the embedded default, all for Camunda)")
@click.option("--port", type=int, default=None, help="Port (default from API_HTTP_PORT, else 8080)")
def serve(host: str | None, port: int | None) -> None:
    """Serve the API (and the built UI) with the worker and event relay in this process."""
    from waitress import create_server

    from pflow.entrypoints.http import create_app

    settings = _settings()
    settings = settings.replace(http_host=host or settings.http_host, http_port=port or settings.http_port)
    refuse_demo_users_on_a_network(settings)
    stop_on_sigterm()
    try:
        with running(settings, worker=settings.run_worker_in_serve, relay=True,
                     consumer=settings.run_consumer_in_serve, reconcile=True, deliveries=True,
                     service="pflow-api") as (container, _):
            app = create_app(container)
            server = create_server(app, host=settings.http_host, port=settings.http_port,
                                   threads=settings.http_threads, ident="PFlow")
            url_host = "localhost" if settings.http_host in ("0.0.0.0", "::", "") else settings.http_host
            click.echo(f"PFlow is serving on http://{url_host}:{settings.http_port}  "
                       f"(engine: {settings.workflow_engine}; API docs: /api/docs)")
            if settings.workflow_engine == "embedded" and settings.engine_rest_auth is not None:
                click.echo(f"Camunda external-task REST at http://{url_host}:{settings.http_port}/engine-rest "
                           "(basic authentication as PFLOW_ENGINE_REST_USERNAME)"
                           + ("; PFlow's own worker also takes its topics here (PFLOW_SERVE_WORKER=0 leaves every "
                              "task to external workers)" if settings.run_worker_in_serve else ""))
            if settings.demo_users_active:
                logins = ", ".join(f"{u['username']}/{u['username']} ({(u.get('groups') or u.get('roles'))[0]})"
                                   for u in DEMO_USERS)
                click.echo("Using local demo users on localhost only (password = name; set PFLOW_USERS_FILE "
                           f"for real users): {logins}")
            try:
                server.run()
            except KeyboardInterrupt:
                click.echo("Stopping PFlow…")
            finally:
                server.close()
    except (ConfigError, DomainError) as exc:
        raise _fail(exc) from None


@main.command()
def worker() -> None:
    """Run the external-task worker and the outbox relay until SIGTERM or Ctrl-C.

    The relay publishes committed ticket events to RABBITMQ_URL; PFLOW_WORKER_RELAY=0 leaves
    that to `pflow relay` or `pflow serve`. On the signal the worker stops fetching, lets
    in-flight tasks finish (up to 30 s) and releases the rest to the engine; a second
    signal stops at once.
    """
    settings = _settings()
    if settings.database_url.startswith("memory:"):
        raise click.ClickException(
            "pflow worker runs in its own process, so it needs the tickets' database: set DATABASE_URL to the "
            "same SQLite file or PostgreSQL database as `pflow serve` (or let serve run the worker: "
            "PFLOW_SERVE_WORKER=1).")
    stop_on_sigterm()
    try:
        with running(settings, worker=True, relay=settings.run_relay_in_worker, deploy=False,
                     service="pflow-worker") as (container, services):
            assert services.worker is not None
            metrics_server = _metrics_server(settings, container)
            click.echo(f"Worker {services.worker.settings.worker_id} polling {', '.join(services.worker.topics)} "
                       f"on the {settings.workflow_engine} engine")
            worker_ = services.worker
            try:
                signal_name = wait_for_stop_signal(stop_when=lambda: worker_.gave_up)
            except KeyboardInterrupt:  # a signal that arrived before the handlers were installed
                signal_name = "SIGINT"
            if signal_name is None:  # the engine refused PFlow's credentials: exit, naming what to set
                assert worker_.gave_up is not None
                raise worker_.gave_up
            click.echo(f"{signal_name}: stopping the worker; letting in-flight tasks finish…")
            if metrics_server is not None:
                metrics_server.stop()
    except KeyboardInterrupt:
        click.echo("Stopped without waiting for in-flight tasks; they are redelivered when their locks expire.",
                   err=True)
        raise SystemExit(130) from None
    except (ConfigError, DomainError) as exc:
        raise _fail(exc) from None


def _metrics_server(settings: Settings, container):
    """PFLOW_METRICS_PORT: this process's own /metrics (docs/metrics.md); None when not asked for."""
    if not settings.metrics_enabled or settings.metrics_port is None:
        return None
    from pflow.adapters.metrics import MetricsServer

    return MetricsServer(settings.metrics_port, settings.metrics_token, container.metrics_store()).start()


def _stop_event_on_signals():
    """SIGTERM and Ctrl-C set the returned event, so the loop finishes the message in hand and returns."""
    import signal
    import threading

    stop = threading.Event()

    def _set(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, _set)
    signal.signal(signal.SIGINT, _set)
    return stop


def _require_shared_transport(settings: Settings, command: str, alternative: str) -> None:
    """A command that runs in its own process cannot share memory:// with `pflow serve`."""
    if settings.rabbitmq_url.startswith("memory:") or settings.database_url.startswith("memory:"):
        raise click.ClickException(
            f"pflow {command} runs in its own process, so it needs a shared event transport and database: set "
            "RABBITMQ_URL (e.g. amqp://guest:guest@localhost:5672/) and DATABASE_URL to those of `pflow serve` "
            f"({alternative}).")


@main.command()
def migrate() -> None:
    """Upgrade the database at DATABASE_URL to the latest schema (Alembic)."""
    from pflow.container import build_container, migrate_database, shutdown

    settings = _settings()
    container = build_container(settings)
    try:
        result = migrate_database(container)
    except DomainError as exc:
        raise _fail(exc) from None
    finally:
        shutdown(container)
    if result is None:
        click.echo(f"Nothing to migrate: DATABASE_URL is {settings.database_url}")
        return
    before, after = result
    from sqlalchemy.engine import make_url

    where = make_url(settings.database_url).render_as_string(hide_password=True)
    if before == after:
        click.echo(f"{where} is up to date (revision {after})")
    else:
        click.echo(f"{where} migrated from {before or 'an empty schema'} to {after}")


@main.command()
@click.option("--until-idle", type=float, default=None, metavar="SECONDS",
              help="Exit once no event arrived for this long (default: run until SIGTERM)")
def consume(until_idle: float | None) -> None:
    """Consume ticket events (RABBITMQ_TICKET_QUEUE) and create in-app notifications.

    Acknowledges each message after its notifications are committed, drops duplicates by event
    id, reconnects with backoff when the broker goes away, and stops cleanly on SIGTERM."""
    from pflow.adapters.kombu.bus import describe

    settings = _settings()
    _require_shared_transport(settings, "consume", "or let serve run the consumer: PFLOW_SERVE_CONSUMER=1")
    stop = _stop_event_on_signals()
    try:
        with running(settings, worker=False, relay=False, deploy=False, deliveries=True,
                     service="pflow-consumer") as (container, _):
            click.echo(f"Consuming {settings.rabbitmq_queue} from {describe(settings.rabbitmq_url)} "
                       f"(exchange {settings.rabbitmq_exchange}, ticket.#)")
            metrics_server = _metrics_server(settings, container)
            handled = container.notification_consumer().run(stop, idle_timeout=until_idle)
            if metrics_server is not None:
                metrics_server.stop()
            click.echo(f"Consumer stopped after {handled} events")
    except (ConfigError, DomainError) as exc:
        raise _fail(exc) from None


@main.command()
def relay() -> None:
    """Publish committed ticket events from the outbox to RABBITMQ_URL until SIGTERM.

    Safe to run next to other relays (`pflow serve`, `pflow worker`): on PostgreSQL one holds an
    advisory lock at a time, so each ticket's events keep their order."""
    from pflow.adapters.kombu.bus import describe

    settings = _settings()
    _require_shared_transport(settings, "relay", "or let serve and the workers relay the outbox, as they do by default")
    stop = _stop_event_on_signals()
    try:
        with running(settings, worker=False, relay=False, deploy=False) as (container, _):
            click.echo(f"Relaying ticket events to {describe(settings.rabbitmq_url)}")
            container.relay().run(stop)
            click.echo("Relay stopped")
    except (ConfigError, DomainError) as exc:
        raise _fail(exc) from None


@main.command("deploy")
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False))
def deploy_cmd(files: tuple[str, ...]) -> None:
    """Deploy BPMN files (by default every one in PFLOW_WORKFLOWS_DIR) to the configured engine.

    By content: an unchanged file makes no new version, and an older file never replaces a newer version."""
    settings = _settings()
    try:
        with running(settings, worker=False, relay=False, deploy=not files) as (container, _):
            for path in files:
                for deployment in container.workflow_engine().deploy(path):
                    state = "deployed" if deployment.created else "unchanged"
                    click.echo(f"{path}: {deployment.process_key} {state} (version {deployment.version})")
    except (ConfigError, DomainError) as exc:
        raise _fail(exc) from None
    if not files:
        click.echo(f"Deployed the processes of {settings.workflows_dir}")


@main.command()
@click.argument("ticket_ids", nargs=-1)
def reconcile(ticket_ids: tuple[str, ...]) -> None:
    """Bring tickets in line with their process instances (all in-flight tickets when no id is given).

    Safe at any time: a ticket that agrees with its instance is left as it is. The server and the
    workers also do this periodically (PFLOW_RECONCILE_INTERVAL_S)."""
    settings = _settings()
    try:
        with running(settings, worker=False, relay=False, deploy=False) as (container, _):
            if ticket_ids:
                for ticket_id in ticket_ids:
                    ticket = container.tickets().reconcile(ticket_id)
                    click.echo(f"{ticket.id}: {ticket.status}")
            else:
                seen, changed = Reconciler(container.tickets(), grace_s=0).run_all()
                click.echo(f"{seen} in-flight tickets checked, {changed} brought in line with the engine")
    except (ConfigError, DomainError) as exc:
        raise _fail(exc) from None


@main.command()
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write the document to this file (default: print it)")
def openapi(output: str | None) -> None:
    """Write the API's OpenAPI document (what /api/openapi.json serves), keys sorted.

    The UI's client types are generated from frontend/openapi.json: after changing the API, run
    `pflow openapi --output frontend/openapi.json`, then `npm --prefix frontend run build`."""
    from pflow.entrypoints.http.openapi import openapi_document, render

    text = render(openapi_document())
    if output is None:
        click.echo(text, nl=False)
        return
    from pathlib import Path

    path = Path(output)
    if path.exists() and path.read_text(encoding="utf-8") == text:
        click.echo(f"{output} is up to date", err=True)
        return
    path.write_text(text, encoding="utf-8")
    click.echo(f"Wrote {output}", err=True)


@main.command("hash-password")
@click.option("--password", default=None, help="The password (prompted for when omitted)")
@click.option("--username", default=None,
              help="Whose password it is: it must not be their username (prompted for with the password)")
def hash_password(password: str | None, username: str | None) -> None:
    """Print a password hash for PFLOW_USERS_FILE (passwords of at least 12 characters, not the username)."""
    if password is None:
        if username is None:
            username = click.prompt("Username", default="", show_default=False, err=True) or None
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Again: "):
            raise click.ClickException("The passwords differ.")
    problem = password_problem(password, username)
    if problem:
        raise click.ClickException(problem)
    click.echo(generate_password_hash(password))


_TEST_MAIL_TEXT = """This is a test e-mail from PFlow: the SMTP settings work.

Sent through {server} ({security}{login}) from {sender}.

---

这是一封来自 PFlow 的测试邮件：SMTP 设置可以正常使用。

经由 {server}（{security}{login}）从 {sender} 发出。
"""


@main.command("send-test-email")
@click.option("--to", "to", required=True, metavar="ADDRESS", help="Where the test e-mail goes")
def send_test_email(to: str) -> None:
    """Send one e-mail through the configured SMTP server (SMTP_HOST, SMTP_PORT, SMTP_SECURITY, SMTP_USERNAME,
    SMTP_PASSWORD, SMTP_FROM), to check those settings before PFlow e-mails anyone."""
    from email.utils import make_msgid, parseaddr
    from html import escape

    from pflow.container import build_container, shutdown
    from pflow.ports.outbound import DeliveryFailed, EmailMessage

    address = parseaddr(to)[1]
    if "@" not in address or any(c in to for c in "\r\n"):
        raise click.ClickException(f"--to {to!r} is not an e-mail address (e.g. someone@example.com)")
    settings = _settings()
    if not settings.email_enabled:
        raise click.ClickException(
            "E-mail is off: SMTP_HOST is not set. Set SMTP_HOST (and, as your server needs, SMTP_PORT, "
            "SMTP_SECURITY=starttls|tls|none, SMTP_USERNAME and SMTP_PASSWORD, SMTP_FROM), then run this again.")
    container = build_container(settings)
    try:
        mailer = container.mailer()
        server = f"{settings.smtp_host}:{settings.smtp_port}"
        login = f", login {settings.smtp_username}" if settings.smtp_username else ""
        text = _TEST_MAIL_TEXT.format(server=server, security=settings.smtp_security, login=login,
                                      sender=settings.smtp_from)
        html = "".join(f"<p>{escape(part)}</p>" if part.strip() != "---" else "<hr>"
                       for part in text.split("\n\n") if part.strip())
        message = EmailMessage(to=address, subject="PFlow test e-mail / PFlow \u6d4b\u8bd5\u90ae\u4ef6", text=text,
                               html=html, message_id=make_msgid(domain="pflow"), language="en",
                               headers={"X-PFlow-Kind": "test"})
        click.echo(f"Sending a test e-mail to {address} through {server} ({settings.smtp_security}{login})...")
        try:
            mailer.send(message)
        except DeliveryFailed as exc:
            raise click.ClickException(f"The test e-mail was not sent: {exc}") from None
        click.echo(f"Sent: {settings.smtp_host} accepted it. Check the inbox of {address} (and its spam folder).")
    finally:
        shutdown(container)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
