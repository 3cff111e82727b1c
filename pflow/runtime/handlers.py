"""Finding the external-task handlers a worker runs: the built-in ones plus a team's own.

Two ways to add handlers (docs/workers.md):

* ``PFLOW_TASK_HANDLERS=package.module:factory,other.module:factory`` in the
  environment;
* the ``pflow.task_handlers`` entry-point group of an installed package.

A factory is called with the dependency container (so it can use
``container.tickets()``, ``container.workflow_engine()``, its settings…) and
returns one handler or a list of them. Each handler has a ``topic`` and a
``handle(task)`` method (see ``pflow.runtime.worker.TaskHandler``). Two
handlers for one topic are refused.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
from typing import Any, Callable, Iterable

from pflow.config import ConfigError

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "pflow.task_handlers"
ENV_VAR = "PFLOW_TASK_HANDLERS"


def parse_handler_spec(spec: str | None) -> list[str]:
    """``"a.b:f, c.d:g"`` -> ``["a.b:f", "c.d:g"]``; each entry must be ``module:attribute``."""
    items = [item.strip() for item in (spec or "").split(",") if item.strip()]
    for item in items:
        module, _, attr = item.partition(":")
        if not module or not attr:
            raise ConfigError(f"{ENV_VAR}: {item!r} is not 'package.module:factory'")
    return items


def _import_factory(item: str) -> Callable[[Any], Any]:
    module_name, _, attr = item.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"{ENV_VAR}: cannot import {module_name!r} for {item!r} ({exc})") from None
    target: Any = module
    for part in attr.split("."):
        target = getattr(target, part, None)
        if target is None:
            raise ConfigError(f"{ENV_VAR}: {module_name!r} has no {attr!r} (from {item!r})")
    if not callable(target):
        raise ConfigError(f"{ENV_VAR}: {item!r} is not callable")
    return target


def _entry_point_factories() -> list[tuple[str, Callable[[Any], Any]]]:
    found = []
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            found.append((f"entry point {ep.name!r} ({ep.value})", ep.load()))
        except Exception as exc:
            raise ConfigError(f"the {ENTRY_POINT_GROUP} entry point {ep.name!r} ({ep.value}) cannot be "
                              f"loaded: {exc}") from None
    return found


def _check(handler: Any, origin: str) -> Any:
    topic = getattr(handler, "topic", None)
    if not isinstance(topic, str) or not topic:
        raise ConfigError(f"{origin} returned {handler!r}, which has no topic (a non-empty str attribute 'topic')")
    if not callable(getattr(handler, "handle", None)):
        raise ConfigError(f"{origin} returned a handler for {topic!r} without a handle(task) method")
    return handler


def load_task_handlers(container: Any, builtin: Iterable[Any], spec: str | None, *,
                       entry_points: bool = True) -> list[Any]:
    """The built-in handlers plus those of ``spec`` (PFLOW_TASK_HANDLERS) and of installed entry points."""
    handlers: list[Any] = []
    origins: dict[str, str] = {}

    def add(handler: Any, origin: str) -> None:
        _check(handler, origin)
        if handler.topic in origins:
            raise ConfigError(f"two handlers for topic {handler.topic!r}: from {origins[handler.topic]} and "
                              f"from {origin}")
        origins[handler.topic] = origin
        handlers.append(handler)

    for handler in builtin:
        add(handler, "PFlow (built in)")
    factories = [(f"{ENV_VAR} entry {item!r}", _import_factory(item)) for item in parse_handler_spec(spec)]
    if entry_points:
        factories += _entry_point_factories()
    for origin, factory in factories:
        produced = factory(container)
        if produced is None:
            raise ConfigError(f"{origin} returned no handler")
        items = produced if isinstance(produced, (list, tuple)) else [produced]
        for handler in items:
            add(handler, origin)
        log.info("task handlers from %s: %s", origin, ", ".join(h.topic for h in items))
    return handlers
