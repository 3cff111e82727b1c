"""Start-up and the background services a process runs next to (or instead of) the API."""

from __future__ import annotations

import logging
import signal
import threading
from contextlib import contextmanager
from typing import Callable, Iterator

from pflow.adapters import tracing
from pflow.config import ConfigError, Settings
from pflow.container import Container, build_container, prepare_database, shutdown
from pflow.domain.errors import NotFound

log = logging.getLogger("pflow")


def configure_logging(level: str = "INFO", log_format: str | None = None) -> None:
    """Log to stderr as text or JSON lines (PFLOW_LOG_FORMAT when ``log_format`` is None; pflow.entrypoints.logs)."""
    from pflow.config import log_format_from_env
    from pflow.entrypoints import logs

    logs.configure(level, log_format or log_format_from_env())
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    # Alembic logs every schema check at INFO; PFlow logs the migrations it runs itself.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # SpiffWorkflow logs every task state change at INFO; PFlow logs what matters per ticket.
    logging.getLogger("spiff").setLevel(logging.WARNING)
    # urllib3 warns on each connection retry; the Camunda adapter reports an unreachable engine itself.
    logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)


def bpmn_files(settings: Settings) -> list:
    """The BPMN files PFlow deploys: every one in PFLOW_WORKFLOWS_DIR, plus PFLOW_BPMN_FILE if set."""
    files = sorted(settings.workflows_dir.glob("*.bpmn"))
    if settings.bpmn_file and settings.bpmn_file.resolve() not in {f.resolve() for f in files}:
        files.append(settings.bpmn_file)
    return files


def deploy_processes(container: Container) -> list:
    """Deploy every BPMN file (by content: unchanged files make no new version) and check that every ticket
    type's process is deployed. Says which topics no handler serves and which groups no user is in."""
    settings = container.settings()
    engine = container.workflow_engine()
    catalog = container.catalog()
    deployments = []
    for path in bpmn_files(settings):
        for deployment in engine.deploy(path):
            deployments.append(deployment)
            log.info("process %s %s (engine: %s, definition %s, version %s)", deployment.process_key,
                     "deployed" if deployment.created else "unchanged", engine.name, deployment.definition_id,
                     deployment.version)
    handled = {h.topic for h in container.task_handlers()}
    user_groups = {g for u in container.users().list_users() for g in u.groups}
    for ticket_type in catalog.list():
        try:
            definition_id = engine.latest_definition_id(ticket_type.process_key)
        except NotFound:
            raise ConfigError(f"{ticket_type.source}: process {ticket_type.process_key!r} is not deployed "
                              f"(no BPMN file in {settings.workflows_dir} declares it)") from None
        model = engine.model(definition_id)
        for topic in sorted(set(model.topics) - handled):
            log.warning("process %s: no worker handler for topic %r here; its tickets wait at that step until a "
                        "worker that handles it runs (docs/workers.md)", model.process_key, topic)
        for group in sorted(set(model.candidate_groups) - user_groups):
            log.warning("process %s: no user is in group %r, which its steps are offered to", model.process_key, group)
    return deployments


def prepare(container: Container, *, deploy: bool = True) -> None:
    """What must hold before serving: the database schema is current, the processes are deployed."""
    prepare_database(container)
    if deploy:
        deploy_processes(container)


class BackgroundServices:
    """The worker, the outbox relay and the event consumer as threads of this process."""

    def __init__(self, container: Container, *, worker: bool, relay: bool, consumer: bool = False,
                 reconcile: bool | None = None, deliveries: bool | None = None) -> None:
        self._container = container
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.worker = container.worker() if worker else None
        self.relay = container.relay() if relay else None
        self.consumer = container.notification_consumer() if consumer else None
        # Wherever a worker runs, divergences between tickets and the engine heal on their own; `pflow serve`
        # reconciles without its worker too, so tickets also follow steps done by workers that are not PFlow's
        # (Camunda's own clients on Camunda or Operaton).
        self.reconciler = container.reconciler() if (worker if reconcile is None else reconcile) else None
        # ...and the embedded engine's timers fire (each once, whichever process gets to it first).
        self.timers = container.timers() if worker else None
        # ...and the people who may act on a step are reminded before and at its due time (each reminder once).
        self.reminders = container.reminders() if worker else None
        # E-mails and webhook calls go out wherever events are consumed (or `pflow serve` runs): each delivery
        # is leased to one sender at a time, so several processes share them.
        self.deliveries = container.delivery_sender() if (consumer if deliveries is None else deliveries) else None
        self.digest = container.digest() if self.deliveries else None

    def start(self) -> None:
        if self.worker:
            self.worker.start()
        if self.relay:
            thread = threading.Thread(target=self.relay.run, args=(self._stop,), name="pflow-relay", daemon=True)
            thread.start()
            self._threads.append(thread)
        if self.consumer:
            self.consumer.start()
        if self.timers and self.timers.active:
            thread = threading.Thread(target=self.timers.run, args=(self._stop,), name="pflow-timers", daemon=True)
            thread.start()
            self._threads.append(thread)
        if self.reminders and self.reminders.active:
            thread = threading.Thread(target=self.reminders.run, args=(self._stop,), name="pflow-reminders",
                                      daemon=True)
            thread.start()
            self._threads.append(thread)
        if self.deliveries:
            for name, target in (("pflow-deliveries", self.deliveries.run), ("pflow-digest", self.digest.run)):
                thread = threading.Thread(target=target, args=(self._stop,), name=name, daemon=True)
                thread.start()
                self._threads.append(thread)
        if self.reconciler and self.reconciler.interval_s > 0:
            thread = threading.Thread(target=self.reconciler.run, args=(self._stop,), name="pflow-reconciler",
                                      daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self.relay:
            self.relay.notify()
        if self.deliveries:
            self.deliveries.notify()
        if self.worker:
            self.worker.stop(timeout)
        if self.consumer:
            self.consumer.stop(timeout)
        for thread in self._threads:
            thread.join(timeout)


@contextmanager
def running(settings: Settings | None = None, *, worker: bool, relay: bool, deploy: bool = True,
            consumer: bool = False, reconcile: bool | None = None, deliveries: bool | None = None,
            service: str = "pflow") -> Iterator[tuple[Container, BackgroundServices]]:
    """``service``: the name on this process's spans when tracing is on (OTEL_SERVICE_NAME wins)."""
    settings = settings or Settings.from_env()
    tracing.configure(settings, service)  # before the container makes its database engines, to trace them
    container = build_container(settings)
    try:
        prepare(container, deploy=deploy)
        services = BackgroundServices(container, worker=worker, relay=relay, consumer=consumer, reconcile=reconcile,
                                      deliveries=deliveries)
        services.start()
        try:
            yield container, services
        finally:
            services.stop()
    finally:
        shutdown(container)
        tracing.flush()


def wait_for_stop_signal(poll_s: float = 0.5, stop_when: Callable[[], object] | None = None) -> str | None:
    """Block until SIGTERM or SIGINT arrives and return its name, or None once ``stop_when()`` is truthy.

    The handlers are put back afterwards, so a second signal during the
    graceful stop that follows interrupts it (as Ctrl-C twice does elsewhere).
    """
    stop = threading.Event()
    received: list[str] = []

    def _note(signum, frame):
        received.append(signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, _note) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        while not stop.wait(poll_s):
            if stop_when is not None and stop_when():
                return None
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return received[0]


def stop_on_sigterm() -> None:
    """Make SIGTERM behave like Ctrl-C, so `finally` blocks run and threads stop cleanly."""

    def _raise(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _raise)
