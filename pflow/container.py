"""The composition root: the only module that names concrete adapters.

Configuration (``Settings``) picks one adapter per port; everything else
receives ports. Per-use-case objects (units of work) are factories; things
with a life cycle (engines, connections) are resources, closed by
``shutdown()``.
"""

from __future__ import annotations

import logging
import threading
from typing import Callable, Iterator

from dependency_injector import containers, providers

from pflow.adapters.camunda import CamundaWorkflowEngine
from pflow.adapters.memory.events import InMemoryEventPublisher
from pflow.adapters.memory.provisioning import SimulatedProvisioner
from pflow.adapters.memory.repository import InMemoryStore, InMemoryUnitOfWork
from pflow.adapters.memory.workflow import InMemoryWorkflowEngine
from pflow.adapters.sqlalchemy.engine import create_db_engine
from pflow.adapters.users import ConfiguredUserDirectory
from pflow.config import ConfigError, Settings
from pflow.entrypoints.worker import ExternalTaskWorker, WorkerSettings
from pflow.ports.users import UserDirectory
from pflow.service.provisioning import ProvisioningHandler
from pflow.service.relay import OutboxRelay
from pflow.service.tickets import TicketService

log = logging.getLogger(__name__)


def _memory_engine(process_key: str) -> Iterator[InMemoryWorkflowEngine]:
    engine = InMemoryWorkflowEngine(process_key)
    yield engine
    engine.close()


def _camunda_engine(url: str, process_key: str, timeout_s: int, max_poll_ms: int) -> Iterator[CamundaWorkflowEngine]:
    """Camunda 7 over REST; the resource owns the HTTP session (closed at shutdown)."""
    engine = CamundaWorkflowEngine(url, process_key, timeout_s=timeout_s, max_poll_ms=max_poll_ms)
    yield engine
    engine.close()


def _db_engine(url: str):
    """The SQLAlchemy engine for DATABASE_URL, shared by the ticket store and the embedded engine."""
    engine = create_db_engine(url)
    yield engine
    engine.dispose()


def _memory_publisher() -> Iterator[InMemoryEventPublisher]:
    publisher = InMemoryEventPublisher()
    yield publisher
    publisher.close()


def build_user_directory(settings: Settings) -> UserDirectory:
    if settings.users_file:
        return ConfiguredUserDirectory.from_file(settings.users_file)
    if settings.is_embedded_default or settings.demo_users:
        return ConfiguredUserDirectory.demo()
    raise ConfigError(
        "No users are configured. Set PFLOW_USERS_FILE to a JSON file of users "
        "(create password hashes with `pflow hash-password`), or PFLOW_DEMO_USERS=1 to allow the "
        "demo users alice/bob/carol outside the embedded default."
    )


def _worker_settings(settings: Settings) -> WorkerSettings:
    base = WorkerSettings()
    return WorkerSettings(
        worker_id=settings.worker_id or base.worker_id,
        concurrency=settings.worker_concurrency,
        lock_duration_ms=settings.worker_lock_ms,
        max_retries=settings.provisioning_retries,
        retry_backoff_ms=settings.worker_retry_backoff_ms,
    )


def _store_kind(url: str) -> str:
    return "memory" if url.startswith("memory:") else "sql"


def _bus_kind(url: str) -> str:
    return "memory" if url.startswith("memory:") else "kombu"


class Container(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)
    config = providers.Configuration()

    outbox_signal = providers.Singleton(threading.Event)

    # --- the database (SQLite or PostgreSQL) when DATABASE_URL is not memory://
    db_engine = providers.Resource(_db_engine, url=config.database_url)

    # --- ticket store + outbox
    memory_store = providers.Singleton(InMemoryStore)
    uow = providers.Selector(
        config.store,
        memory=providers.Factory(InMemoryUnitOfWork, store=memory_store, on_events_committed=outbox_signal.provided.set),
    )

    # --- workflow engine
    workflow_engine = providers.Selector(
        config.workflow_engine,
        memory=providers.Resource(_memory_engine, process_key=config.camunda_process_key),
        camunda=providers.Resource(_camunda_engine, url=config.camunda_url, process_key=config.camunda_process_key,
                                   timeout_s=config.camunda_timeout_s, max_poll_ms=config.camunda_max_poll_ms),
    )

    # --- events
    event_publisher = providers.Selector(
        config.bus,
        memory=providers.Resource(_memory_publisher),
    )

    users = providers.Singleton(build_user_directory, settings)
    provisioner = providers.Singleton(SimulatedProvisioner, fail_marker=config.provisioning_fail_marker)

    tickets = providers.Singleton(
        TicketService,
        uow_factory=uow.provider,
        engine=workflow_engine,
        separation_of_duties=config.separation_of_duties,
        provisioning_retries=config.provisioning_retries,
    )

    provisioning_handler = providers.Singleton(ProvisioningHandler, tickets=tickets, provisioner=provisioner)
    task_handlers = providers.List(provisioning_handler)
    worker_settings = providers.Singleton(_worker_settings, settings)
    worker = providers.Factory(ExternalTaskWorker, engine=workflow_engine, handlers=task_handlers,
                               settings=worker_settings)
    relay = providers.Singleton(OutboxRelay, uow_factory=uow.provider, publisher=event_publisher,
                                wakeup=outbox_signal)


def build_container(settings: Settings | None = None) -> Container:
    settings = settings or Settings.from_env()
    container = Container(settings=settings)
    container.config.from_dict({
        "store": _store_kind(settings.database_url),
        "bus": _bus_kind(settings.rabbitmq_url),
        "workflow_engine": settings.workflow_engine,
        "database_url": settings.database_url,
        "camunda_process_key": settings.camunda_process_key,
        "camunda_url": settings.camunda_url,
        "camunda_timeout_s": settings.camunda_timeout_s,
        "camunda_max_poll_ms": settings.camunda_max_poll_ms,
        "separation_of_duties": settings.separation_of_duties,
        "provisioning_retries": settings.provisioning_retries,
        "provisioning_fail_marker": settings.provisioning_fail_marker,
    })
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


def shutdown(container: Container) -> None:
    """Close connections and stop engine threads (initialised resources only)."""
    try:
        container.shutdown_resources()
    except Exception:  # shutting down: log and carry on closing the rest
        log.exception("error while shutting down resources")
