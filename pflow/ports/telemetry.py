"""What the service and the background loops report for the operations metrics (docs/metrics.md).

The service never names a metrics library: it calls this port, which does nothing by default
(``Telemetry()``); the container passes ``pflow.adapters.metrics.PrometheusTelemetry`` when metrics are on.
Every method is cheap and never raises.
"""

from __future__ import annotations


class Telemetry:
    """A no-op recorder; adapters override what they record."""

    def relay_published(self, count: int) -> None:
        """The broker confirmed ``count`` outbox messages."""

    def relay_failed(self) -> None:
        """Publishing an outbox message failed (it stays in the outbox and is tried again)."""

    def consumer_handled(self) -> None:
        """The event consumer handled one event."""

    def consumer_failed(self) -> None:
        """The event consumer's handler raised on one event."""

    def worker_polled(self) -> None:
        """A worker asked the engine for tasks (one fetch, whatever it returned)."""

    def task_fetched(self, topic: str) -> None:
        """A worker locked one external task of ``topic``."""

    def task_completed(self, topic: str, seconds: float) -> None:
        """A handler finished a task and the engine took the completion; ``seconds``: the handler's run."""

    def task_failed(self, topic: str, seconds: float) -> None:
        """A handler raised (a failed attempt, reported with the retries left)."""

    def task_incident(self, topic: str) -> None:
        """A task failed with no retry left: the engine raised an incident."""

    def engine_call(self, operation: str, outcome: str, seconds: float) -> None:
        """One call to the workflow engine; ``outcome``: ok, busy, unavailable, rejected or error."""

    def timers_fired(self, count: int) -> None:
        """``count`` due timers moved their processes on."""


NO_TELEMETRY = Telemetry()
