"""Timer events on the embedded engine, on the engine's clock and with Camunda's reading of the values.

SpiffWorkflow's timer event definitions read ``datetime.now()`` and hand the timer's text to the
script engine. Here the same definitions read the engine's injectable clock (the script engine's
``now()``), so tests move time instead of sleeping, and the text is read as Camunda reads it:
``timeDate`` an ISO-8601 date-time, ``timeDuration`` an ISO-8601 duration counted from when the
timer starts waiting, ``timeCycle`` an ISO-8601 repeating interval (``R3/PT10M``, ``R/PT1H``,
``R2/2026-01-01T09:00:00Z/P1D``); any of them may be or contain ``${...}`` over the variables.

The specs are SpiffWorkflow's own (parsed from the XML on every load), so nothing of these classes
is ever serialized: a waiting timer keeps only its computed due time in the task's internal data,
and the engine copies that due time into ``wf_timers`` (see ``due_ms_of``) for the processes that
fire timers.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.util.task import TaskState


def _now(my_task) -> datetime:
    return my_task.workflow.script_engine.now()


def _text(my_task, expression: str) -> str:
    return str(my_task.workflow.script_engine.timer_text(my_task, expression)).strip()


def _moment(text: str) -> datetime:
    return TimerEventDefinition.get_datetime(text.replace("Z", "+00:00"))


_VALUE = "event_value"


def _key(definition) -> str:
    """Where a timer keeps its due time in the task's internal data: its own key when it is one of the
    events an event-based gateway waits for (several timers share that task)."""
    return getattr(definition, "_pflow_key", _VALUE)


def _after(start: datetime, duration_text: str) -> datetime:
    parsed = TimerEventDefinition.parse_iso_duration(duration_text)
    return start + TimerEventDefinition.get_timedelta_from_start(parsed, start)


class ClockedTimeDate(TimeDateEventDefinition):
    def has_fired(self, my_task):
        value = my_task._get_internal_data(_key(self))
        if value is None:
            value = _moment(_text(my_task, self.expression)).isoformat()
            my_task._set_internal_data(**{_key(self): value})
        if datetime.fromisoformat(value) <= _now(my_task):
            my_task._set_internal_data(event_fired=True)
        return my_task._get_internal_data("event_fired", False)


class ClockedDuration(DurationTimerEventDefinition):
    def has_fired(self, my_task):
        value = my_task._get_internal_data(_key(self))
        if value is None:
            value = _after(_now(my_task), _text(my_task, self.expression)).isoformat()
            my_task._set_internal_data(**{_key(self): value})
        if datetime.fromisoformat(value) <= _now(my_task):
            my_task._set_internal_data(event_fired=True)
        return my_task._get_internal_data("event_fired", False)


def parse_cycle(text: str, now: datetime) -> tuple[int, datetime, float]:
    """``R[n]/[start/]duration`` → (cycles left, -1 for ever; first due time; seconds between)."""
    parts = text.upper().strip().split("/")
    if not parts[0].startswith("R") or len(parts) not in (2, 3):
        raise ValueError(f"{text!r} is not an ISO-8601 repeating interval such as R3/PT10M")
    cycles = int(parts[0][1:]) if parts[0][1:] else -1
    if len(parts) == 3:
        start = _moment(parts[1])
        step = _after(start, parts[2]) - start
    else:
        step = _after(now, parts[1]) - now
        start = now + step
    return cycles, start, step.total_seconds()


class ClockedCycle(CycleTimerEventDefinition):
    def cycle_complete(self, my_task):
        value = my_task._get_internal_data(_key(self))
        now = _now(my_task)
        if value is None:
            cycles, start, seconds = parse_cycle(_text(my_task, self.expression), now)
            value = {"cycles": cycles, "next": start.isoformat(), "duration": seconds}
        ready = False
        if value["cycles"] != 0:
            due = datetime.fromisoformat(value["next"])
            if due <= now:
                value["next"] = (due + timedelta(seconds=value["duration"])).isoformat()
                value["cycles"] -= 1
                ready = True
        else:
            my_task.internal_data.pop(_key(self), None)
            my_task.internal_data["event_fired"] = True
            return False
        my_task._set_internal_data(**{_key(self): value})
        return ready


CLOCKED = {TimeDateEventDefinition: ClockedTimeDate, DurationTimerEventDefinition: ClockedDuration,
            CycleTimerEventDefinition: ClockedCycle}


def use_engine_clock(specs) -> None:
    """Make every timer of the parsed task specs read the engine's clock (in place)."""
    for spec in specs:
        for task_spec in spec.task_specs.values():
            definition = getattr(task_spec, "event_definition", None)
            if definition is None:
                continue
            inner_definitions = getattr(definition, "event_definitions", [])
            for index, inner in enumerate([definition, *inner_definitions]):
                clocked = CLOCKED.get(type(inner))
                if clocked is not None:
                    inner.__class__ = clocked
                    if index:
                        inner._pflow_key = f"{_VALUE}:{index}"


def _timers(task_spec: Any) -> list:
    definition = getattr(task_spec, "event_definition", None)
    if isinstance(definition, TimerEventDefinition):
        return [definition]
    if isinstance(definition, MultipleEventDefinition):  # an event-based gateway with a timer among its events
        return [d for d in definition.event_definitions if isinstance(d, TimerEventDefinition)]
    return []


def is_timer(task_spec: Any) -> bool:
    return bool(_timers(task_spec))


def _due_ms(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, dict):
        if value.get("cycles") == 0:
            return None
        value = value.get("next")
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp() * 1000)


def due_ms_of(task) -> int | None:
    """When a waiting timer task fires next (ms since the epoch), or None if it does not wait on time."""
    if task.state != TaskState.WAITING:
        return None
    due = [_due_ms(task._get_internal_data(_key(d))) for d in _timers(task.task_spec)]
    due = [d for d in due if d is not None]
    return min(due) if due else None
