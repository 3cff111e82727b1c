"""The composition root: the only module that names concrete adapters.

Configuration (``Settings``) picks one adapter per port; everything else
receives ports. Per-use-case objects (units of work) are factories; things
with a life cycle (engines, connections) are resources, closed by
``shutdown()``.
"""

from __future__ import annotations

import glob
import logging
import threading
import time
from datetime import timedelta
from typing import Callable, Iterator

from dependency_injector import containers, providers

from pflow.adapters import tracing
from pflow.adapters.camunda import CamundaWorkflowEngine
from pflow.adapters.catalog import FileTicketTypeCatalog, process_keys_in
from pflow.adapters.guarded import BoundedProcessEngine
from pflow.adapters.metrics import PrometheusTelemetry, StoreCollector
from pflow.adapters.kombu.bus import KombuEventConsumer, KombuEventPublisher
from pflow.adapters.memory.events import InMemoryEventConsumer, InMemoryEventPublisher
from pflow.adapters.memory.provisioning import SimulatedProvisioner
from pflow.adapters.memory.repository import InMemoryStore, InMemoryUnitOfWork
from pflow.adapters.memory.workflow import InMemoryWorkflowEngine
from pflow.adapters.database import migrate as sql_migrate
from pflow.adapters.spiff import SpiffWorkflowEngine
from pflow.adapters.database.engine import create_db_engine
from pflow.adapters.sqlalchemy.orm import start_mappers
from pflow.adapters.sqlalchemy.repository import SqlAlchemyUnitOfWork
from pflow.adapters.sqlalchemy.session import build_session_factory
from pflow.adapters.memory.auth_state import InMemoryAuthState
from pflow.adapters.sqlalchemy.auth_state import SqlAlchemyAuthState
from pflow.adapters.users import ConfiguredUserDirectory
from pflow.adapters.mail.composer import JinjaMailComposer
from pflow.adapters.mail.smtp import SmtpMailer
from pflow.adapters.memory.outbound import InMemoryOutboundStore
from pflow.adapters.secret_key import resolve_secret_key
from pflow.adapters.sqlalchemy.outbound import SqlAlchemyOutboundStore
from pflow.adapters.webhook_http import RequestsWebhookTransport
from pflow.domain.durations import add_duration
from pflow.domain.outbound import RetryPolicy
from pflow.config import ConfigError, Settings
from pflow.runtime.consumer import NotificationConsumer
from pflow.runtime.handlers import load_task_handlers
from pflow.runtime.worker import ExternalTaskWorker, WorkerSettings
from pflow.ports.auth_state import AuthStateStore, LoginPolicy
from pflow.ports.telemetry import Telemetry
from pflow.ports.users import UserDirectory
from pflow.service.login import LoginGuard
from pflow.service.provisioning import ProvisioningHandler
from pflow.service.notifications import NotificationService
from pflow.service.oversight import OversightService
from pflow.service.reconciler import Reconciler
from pflow.service.reminders import TaskReminderScanner, utc_now
from pflow.service.timers import TimerFiring
from pflow.service.relay import OutboxRelay
from pflow.service.tickets import TicketService
from pflow.service.email_actions import EmailActions
from pflow.service.outbound import DeliverySender, DigestSender, Links, OutboundDispatcher, PreferenceService
from pflow.service.webhooks import WebhookService

log = logging.getLogger(__name__)


def _memory_engine(clock: Callable[[], float]) -> Iterator[InMemoryWorkflowEngine]:
    engine = InMemoryWorkflowEngine(clock=clock)
    yield engine
    engine.close()


def _embedded_engine(database_url: str, db_engine: Callable, clock: Callable[[], float]) -> Iterator[SpiffWorkflowEngine]:
    """The embedded engine keeps its state next to the tickets, so it needs a real database."""
    if database_url.startswith("memory:"):
        raise ConfigError(
            "WORKFLOW_ENGINE=embedded keeps its process state in the database, but DATABASE_URL is memory://. "
            "Set DATABASE_URL to a SQLite file (sqlite:///var/pflow.db) or PostgreSQL "
            "(postgresql://user:password@host:5432/pflow), or use WORKFLOW_ENGINE=memory."
        )
    engine = SpiffWorkflowEngine(db_engine(), clock=clock)
    yield engine
    engine.close()


def camunda_scope(settings: Settings) -> list[str]:
    """The processes PFlow runs on a shared Camunda: those of PFLOW_WORKFLOWS_DIR and PFLOW_BPMN_FILE (and
    CAMUNDA_PROCESS_KEY). The adapter sees only their instances and tasks, so another application's process
    with the same topic never has its tasks taken by PFlow's workers."""
    keys = set(process_keys_in(settings.workflows_dir))
    if settings.bpmn_file and settings.bpmn_file.is_file():
        keys.update(process_keys_in(settings.bpmn_file.parent, glob.escape(settings.bpmn_file.name)))
    if settings.camunda_process_key:
        keys.add(settings.camunda_process_key)
    return sorted(keys)


def _camunda_engine(url: str, timeout_s: int, max_poll_ms: int, process_keys: list[str],
                    auth: tuple[str, str] | None = None, flavour: str = "camunda",
                    pool_size: int = 20) -> Iterator[CamundaWorkflowEngine]:
    """Camunda 7 (or Operaton) over REST; the resource owns the HTTP session (closed at shutdown), whose
    connection pool is sized to the threads of this process that call the engine."""
    engine = CamundaWorkflowEngine(url, process_keys, timeout_s=timeout_s, max_poll_ms=max_poll_ms, auth=auth,
                                   flavour=flavour, pool_size=pool_size)
    yield engine
    engine.close()


def _db_engine(url: str, pool_size: int = 10, max_overflow: int = 10):
    """The SQLAlchemy engine for DATABASE_URL, shared by the ticket store and the embedded engine; its pool is
    sized per process (PFLOW_DB_POOL_SIZE, PFLOW_DB_MAX_OVERFLOW)."""
    engine = create_db_engine(url, pool_size=pool_size, max_overflow=max_overflow)
    tracing.instrument_engine(engine)  # a span per statement when this process traces (docs/tracing.md)
    yield engine
    engine.dispose()


def _mailer(settings: Settings) -> SmtpMailer | None:
    """The SMTP server e-mails go out through (SMTP_*); None: e-mail is off (no SMTP_HOST)."""
    if not settings.email_enabled:
        return None
    return SmtpMailer(settings.smtp_host, settings.smtp_port, sender=settings.smtp_from,
                      security=settings.smtp_security, username=settings.smtp_username,
                      password=settings.smtp_password, timeout_s=settings.smtp_timeout_s)


def _webhook_transport() -> Iterator[RequestsWebhookTransport]:
    transport = RequestsWebhookTransport()
    yield transport
    transport.close()


def _link_ttl_s(settings: Settings) -> int:
    """PFLOW_EMAIL_LINK_TTL in seconds."""
    start = utc_now()
    return int((add_duration(start, settings.email_link_ttl) - start).total_seconds())


def _retry_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(base_s=settings.delivery_retry_base_s, max_s=settings.delivery_retry_max_s,
                       max_attempts=settings.delivery_max_attempts)


def _memory_publisher() -> Iterator[InMemoryEventPublisher]:
    publisher = InMemoryEventPublisher()
    yield publisher
    publisher.close()


def _kombu_publisher(url: str, exchange: str, queue: str, queue_type: str = "classic") -> Iterator[KombuEventPublisher]:
    publisher = KombuEventPublisher(url, exchange, queue, queue_type=queue_type)
    yield publisher
    publisher.close()


def build_catalog(settings: Settings) -> FileTicketTypeCatalog:
    """The ticket types of PFLOW_WORKFLOWS_DIR; CAMUNDA_PROCESS_KEY names the default type's process."""
    catalog = FileTicketTypeCatalog.from_folder(settings.workflows_dir)
    default = catalog.default
    if settings.camunda_process_key and settings.camunda_process_key != default.process_key:
        catalog = catalog.with_process(default.key, settings.camunda_process_key)
    return catalog


def build_user_directory(settings: Settings) -> UserDirectory:
    if settings.users_file:
        return ConfiguredUserDirectory.from_file(settings.users_file)
    if settings.demo_users_active:
        return ConfiguredUserDirectory.demo()
    if settings.oidc is not None:
        return ConfiguredUserDirectory([])  # everyone signs in through the identity provider
    why = ("PFLOW_DEMO_USERS=0 turns the demo users off" if settings.demo_users is False else
           "the demo users (alice, bob, dave, fiona, sam, carol; password = name) are on only for the "
           "embedded default listening on localhost, or with PFLOW_DEMO_USERS=1")
    raise ConfigError(
        f"No users are configured: {why}. Set PFLOW_USERS_FILE to a JSON file of users "
        "(create password hashes with `pflow hash-password`)."
    )


def build_login_guard(settings: Settings, users: UserDirectory, state: AuthStateStore) -> LoginGuard:
    def policy(max_failures: int) -> LoginPolicy:
        return LoginPolicy(max_failures, timedelta(seconds=settings.login_window_s),
                           timedelta(seconds=settings.login_lockout_s))

    return LoginGuard(users, state, policy(settings.login_max_failures), policy(settings.login_address_max_failures))


def _worker_settings(settings: Settings) -> WorkerSettings:
    base = WorkerSettings()
    return WorkerSettings(
        worker_id=settings.worker_id or base.worker_id,
        concurrency=settings.worker_concurrency,
        lock_duration_ms=settings.worker_lock_ms,
        max_retries=settings.provisioning_retries,
        retry_backoff_ms=settings.worker_retry_backoff_ms,
    )


def _retention(days: int) -> timedelta | None:
    """PFLOW_OUTBOX_RETENTION_DAYS: how long sent events stay in the outbox; 0 keeps them."""
    return timedelta(days=days) if days > 0 else None


def _telemetry(settings: Settings) -> Telemetry:
    """What the loops and the engine bulkhead record: Prometheus metrics unless PFLOW_METRICS=0."""
    return PrometheusTelemetry() if settings.metrics_enabled else Telemetry()


def _store_kind(url: str) -> str:
    return "memory" if url.startswith("memory:") else "sql"


def _bus_kind(url: str) -> str:
    return "memory" if url.startswith("memory:") else "kombu"


class Container(containers.DeclarativeContainer):
    __self__ = providers.Self()
    settings = providers.Dependency(instance_of=Settings)
    # One source of configuration: every provider reads the Settings object; the store and the bus follow from
    # their URLs.
    store_kind = providers.Callable(_store_kind, settings.provided.database_url)
    bus_kind = providers.Callable(_bus_kind, settings.provided.rabbitmq_url)

    outbox_signal = providers.Singleton(threading.Event)
    telemetry = providers.Singleton(_telemetry, settings)

    # --- the database (SQLite or PostgreSQL) when DATABASE_URL is not memory://
    db_engine = providers.Resource(_db_engine, url=settings.provided.database_url,
                                   pool_size=settings.provided.database_pool_size,
                                   max_overflow=settings.provided.db_max_overflow)

    # --- ticket store + outbox
    sql_sessions = providers.Singleton(build_session_factory, engine=db_engine)
    memory_store = providers.Singleton(InMemoryStore)
    uow = providers.Selector(
        store_kind,
        memory=providers.Factory(InMemoryUnitOfWork, store=memory_store, on_events_committed=outbox_signal.provided.set),
        sql=providers.Factory(SqlAlchemyUnitOfWork, session_factory=sql_sessions,
                              on_events_committed=outbox_signal.provided.set),
    )

    # --- workflow engine
    # The time the engines PFlow runs itself go by (epoch seconds: their timers, locks, history); tests move
    # it, and ``clock`` below, together.
    engine_clock = providers.Object(time.time)
    workflow_engine = providers.Selector(
        settings.provided.workflow_engine,
        memory=providers.Resource(_memory_engine, clock=engine_clock),
        embedded=providers.Resource(_embedded_engine, database_url=settings.provided.database_url, db_engine=db_engine.provider,
                                    clock=engine_clock),
        camunda=providers.Resource(_camunda_engine, url=settings.provided.camunda_url, timeout_s=settings.provided.camunda_timeout_s,
                                   max_poll_ms=settings.provided.camunda_max_poll_ms,
                                   process_keys=providers.Callable(camunda_scope, settings),
                                   auth=settings.provided.camunda_auth, flavour="camunda",
                                   pool_size=settings.provided.engine_pool_size),
        # Operaton, Camunda 7's open fork: the same REST API, so the same adapter (docs/engines.md).
        operaton=providers.Resource(_camunda_engine, url=settings.provided.camunda_url, timeout_s=settings.provided.camunda_timeout_s,
                                    max_poll_ms=settings.provided.camunda_max_poll_ms,
                                    process_keys=providers.Callable(camunda_scope, settings),
                                    auth=settings.provided.camunda_auth, flavour="operaton",
                                   pool_size=settings.provided.engine_pool_size),
    )

    # What the ticket service (API requests, the provisioning handler) calls: a frozen engine holds at most
    # engine_max_calls threads. The worker's long polls and outcome reports use the engine directly.
    service_engine = providers.Singleton(BoundedProcessEngine, engine=workflow_engine,
                                         max_calls=settings.provided.engine_max_calls,
                                         wait_s=settings.provided.engine_wait_s, telemetry=telemetry)

    # --- events
    memory_bus = providers.Resource(_memory_publisher)
    event_publisher = providers.Selector(
        bus_kind,
        memory=memory_bus,
        kombu=providers.Resource(_kombu_publisher, url=settings.provided.rabbitmq_url, exchange=settings.provided.rabbitmq_exchange,
                                 queue=settings.provided.rabbitmq_queue, queue_type=settings.provided.rabbitmq_queue_type),
    )
    event_consumer = providers.Selector(
        bus_kind,
        memory=providers.Singleton(InMemoryEventConsumer, bus=memory_bus),
        kombu=providers.Singleton(KombuEventConsumer, url=settings.provided.rabbitmq_url, exchange=settings.provided.rabbitmq_exchange,
                                  queue=settings.provided.rabbitmq_queue, queue_type=settings.provided.rabbitmq_queue_type),
    )

    users = providers.Singleton(build_user_directory, settings)
    auth_state = providers.Selector(
        store_kind,
        memory=providers.Singleton(InMemoryAuthState),
        sql=providers.Singleton(SqlAlchemyAuthState, engine=db_engine),
    )
    login_guard = providers.Singleton(build_login_guard, settings, users, auth_state)
    catalog = providers.Singleton(build_catalog, settings)
    provisioner = providers.Singleton(SimulatedProvisioner, fail_marker=settings.provided.provisioning_fail_marker)

    tickets = providers.Singleton(
        TicketService,
        uow_factory=uow.provider,
        engine=service_engine,
        catalog=catalog,
        users=users,
        separation_of_duties=settings.provided.separation_of_duties,
        retries=settings.provided.provisioning_retries,
    )

    provisioning_handler = providers.Singleton(ProvisioningHandler, tickets=tickets, provisioner=provisioner,
                                               topic=settings.provided.provisioning_topic)
    # The built-in handler plus PFLOW_TASK_HANDLERS and the pflow.task_handlers entry points (docs/workers.md).
    task_handlers = providers.Singleton(load_task_handlers, __self__, providers.List(provisioning_handler),
                                        settings.provided.task_handlers)
    worker_settings = providers.Singleton(_worker_settings, settings)
    worker = providers.Factory(ExternalTaskWorker, engine=workflow_engine, handlers=task_handlers,
                               settings=worker_settings, on_progress=tickets.provided.after_automated_step,
                               telemetry=telemetry)
    reconciler = providers.Factory(Reconciler, tickets=tickets, interval_s=settings.provided.reconcile_interval_s)
    timers = providers.Factory(TimerFiring, engine=workflow_engine, tickets=tickets,
                               interval_s=settings.provided.timer_interval_s, telemetry=telemetry)
    # What "now" is for due times (overdue steps, reminders): tests override it to move time instead of sleeping.
    clock = providers.Object(utc_now)
    reminders = providers.Factory(TaskReminderScanner, uow_factory=uow.provider,
                                  remind_before=settings.provided.remind_before,
                                  interval_s=settings.provided.reminder_interval_s, clock=clock)
    relay = providers.Singleton(OutboxRelay, uow_factory=uow.provider, publisher=event_publisher,
                                wakeup=outbox_signal, retention=providers.Callable(_retention, settings.provided.outbox_retention_days),
                                telemetry=telemetry)
    # the gauges /metrics computes from the store at scrape time (docs/metrics.md)
    metrics_store = providers.Singleton(StoreCollector, uow_factory=uow.provider, clock=clock)
    # --- e-mail and webhooks (docs/notifications.md)
    outbound_store = providers.Selector(
        store_kind,
        memory=providers.Singleton(InMemoryOutboundStore),
        sql=providers.Singleton(SqlAlchemyOutboundStore, engine=db_engine),
    )
    delivery_signal = providers.Singleton(threading.Event)
    preferences = providers.Singleton(PreferenceService, store=outbound_store)
    outbound = providers.Singleton(OutboundDispatcher, store=outbound_store, users=users, preferences=preferences,
                                   email_enabled=settings.provided.email_enabled,
                                   on_enqueued=delivery_signal.provided.set)
    links = providers.Singleton(Links, public_url=settings.provided.base_url)
    secret_key = providers.Singleton(resolve_secret_key, settings)
    email_actions = providers.Singleton(EmailActions, secret_key=secret_key, store=outbound_store, users=users,
                                        tickets=tickets, uow_factory=uow.provider, links=links,
                                        ttl_s=providers.Callable(_link_ttl_s, settings))
    mailer = providers.Singleton(_mailer, settings)
    webhook_transport = providers.Resource(_webhook_transport)
    mail_composer = providers.Singleton(JinjaMailComposer,
                                        link_days=providers.Callable(lambda s: max(1, _link_ttl_s(s) // 86400),
                                                                     settings))
    delivery_sender = providers.Singleton(DeliverySender, store=outbound_store, users=users, mailer=mailer,
                                          transport=webhook_transport, composer=mail_composer, links=links,
                                          decision_links=email_actions.provided.decision_links,
                                          policy=providers.Callable(_retry_policy, settings),
                                          disable_after=settings.provided.webhook_disable_after,
                                          lease_s=settings.provided.delivery_lease_s, wakeup=delivery_signal)
    webhooks = providers.Singleton(WebhookService, store=outbound_store, sender=delivery_sender, clock=clock)
    digest = providers.Singleton(DigestSender, store=outbound_store, hour=settings.provided.digest_hour,
                                 on_enqueued=delivery_signal.provided.set)
    notifications = providers.Singleton(NotificationService, uow_factory=uow.provider, users=users,
                                        outbound=outbound)
    oversight = providers.Singleton(OversightService, uow_factory=uow.provider, engine=service_engine, users=users)
    notification_consumer = providers.Singleton(NotificationConsumer, consumer=event_consumer,
                                                notifications=notifications, telemetry=telemetry)


def build_container(settings: Settings | None = None) -> Container:
    settings = settings or Settings.from_env()
    container = Container(settings=settings)
    if _store_kind(settings.database_url) == "sql":
        start_mappers()  # before any Ticket exists: instances made earlier would lack instrumentation
    return container


def readiness_checks(container: Container) -> dict[str, Callable[[], None]]:
    """name -> probe; each probe returns, or raises ``ServiceUnavailable`` naming what is down."""

    def database() -> None:
        with container.uow() as uow:
            uow.check()

    return {
        "database": database,
        "workflow_engine": lambda: container.workflow_engine().check(),
        "event_broker": lambda: container.event_publisher().check(),
    }


def migrate_database(container: Container) -> tuple[str | None, str] | None:
    """Upgrade DATABASE_URL's schema to the latest revision; returns (before, after), or None
    when the store is not a database (memory://)."""
    if _store_kind(container.settings().database_url) != "sql":
        return None
    return sql_migrate.upgrade(container.db_engine())


def prepare_database(container: Container) -> None:
    """Before serving: a SQLite file (the embedded default) is migrated in place; any other
    database must already be at the latest schema (production never creates tables ad hoc)."""
    settings = container.settings()
    if _store_kind(settings.database_url) != "sql":
        return
    engine = container.db_engine()
    if engine.dialect.name == "sqlite":
        before, after = sql_migrate.upgrade(engine)
        if before != after:
            log.info("database %s migrated from %s to %s", engine.url.database, before or "empty", after)
        return
    try:
        sql_migrate.ensure_current(engine)
    except sql_migrate.SchemaNotCurrent as exc:
        raise ConfigError(str(exc)) from None


def shutdown(container: Container) -> None:
    """Close connections and stop engine threads (initialised resources only)."""
    try:
        container.shutdown_resources()
    except Exception:  # shutting down: log and carry on closing the rest
        log.exception("error while shutting down resources")
