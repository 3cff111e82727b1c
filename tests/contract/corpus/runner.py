"""Running the corpus (manifest.yaml) through the workflow port, on any engine.

A *driver* gives each engine the few moves a path needs that the port leaves to the engine: which user
tasks are open (on Camunda also those of called instances, which the adapter does not yet list under the
caller's business key), and how a timer fires (the embedded engines: the clock moves; Camunda: the
timer's job is executed, ``POST /job/{id}/execute``). Everything else goes through the port.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pflow.ports.process import DeploymentRejected, InstanceState
from tests.support import SteppedClock

HERE = Path(__file__).parent
MANIFEST = HERE / "manifest.yaml"
T0 = 1_800_000_000.0  # the moved clocks start here
WORKER = "corpus-worker"


def load_manifest() -> list[dict[str, Any]]:
    return yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))["models"]


class CorpusMismatch(AssertionError):
    """The engine did not take the manifest's path; the message says at which step."""


def Clock() -> SteppedClock:  # noqa: N802 - the moved clock every timer test starts from
    return SteppedClock(T0)


def unique_copy(model: dict[str, Any], folder: Path, suffix: str) -> tuple[Path, dict[str, str]]:
    """The model with process keys and topics of its own (Camunda is shared): the file and the renames."""
    xml = (HERE / model["file"]).read_text(encoding="utf-8")
    renames = {key: f"{key}_{suffix}" for key in re.findall(r'<bpmn:process id="([^"]+)"', xml)}
    for key, new in renames.items():
        xml = xml.replace(f'"{key}"', f'"{new}"')
    topics = set(re.findall(r'camunda:topic="([^"$#]+)"', xml))
    for topic in topics:
        renames[topic] = f"{topic}-{suffix}"
        xml = xml.replace(f'camunda:topic="{topic}"', f'camunda:topic="{topic}-{suffix}"')
    path = folder / f"{suffix}-{model['file']}"
    path.write_text(xml, encoding="utf-8")
    return path, renames


# ------------------------------------------------------------------------------ drivers

@dataclass
class EmbeddedDriver:
    """The embedded engine and the in-memory fake: the port answers everything; timers by the clock."""

    engine: Any
    clock: Clock
    deployments: list = field(default_factory=list)

    def open_tasks(self, business_key: str):
        return self.engine.open_tasks(business_key)

    def fire(self, business_key: str, activity: str, after: float) -> None:
        self.clock.advance(after - 1)
        if business_key in self.engine.fire_due_timers():
            raise CorpusMismatch(f"a timer fired a second before {activity} was due (after {after} s)")
        self.clock.advance(1)
        moved = self.engine.fire_due_timers()
        if business_key not in moved:
            raise CorpusMismatch(f"the timer {activity} did not fire after {after} s")

    def cleanup(self) -> None:
        pass


@dataclass
class CamundaDriver:
    """Camunda 7 over REST: the port, plus raw REST for called instances' tasks and for timer jobs."""

    engine: Any
    url: str
    auth: tuple[str, str]
    deployments: list = field(default_factory=list)

    def _get(self, path: str, **params) -> Any:
        import requests

        answer = requests.get(self.url + path, params=params, auth=self.auth, timeout=30)
        answer.raise_for_status()
        return answer.json()

    def _instances(self, business_key: str) -> list[str]:
        view = self.engine.instance(business_key)
        if view is None or view.state not in (InstanceState.ACTIVE, InstanceState.INCIDENT):
            return []
        ids, todo = [], [view.instance_id]
        while todo:
            current = todo.pop()
            ids.append(current)
            todo.extend(i["id"] for i in self._get("/process-instance", superProcessInstance=current))
        return ids

    def open_tasks(self, business_key: str):
        tasks = list(self.engine.open_tasks(business_key))
        seen = {t.id for t in tasks}
        for instance_id in self._instances(business_key)[1:]:  # called instances
            for dto in self._get("/task", processInstanceId=instance_id, sortBy="created", sortOrder="asc"):
                if dto["id"] not in seen:
                    tasks.append(self.engine.task(dto["id"]))
        return tasks

    def fire(self, business_key: str, activity: str, after: float) -> None:
        import requests

        for instance_id in self._instances(business_key):
            for job in self._get("/job", processInstanceId=instance_id, timers="true", activityId=activity):
                answer = requests.post(f"{self.url}/job/{job['id']}/execute", auth=self.auth, timeout=30)
                answer.raise_for_status()
                return
        raise CorpusMismatch(f"Camunda has no timer job for {activity}")

    def cleanup(self) -> None:
        import requests

        for deployment_id in self.deployments:
            requests.delete(f"{self.url}/deployment/{deployment_id}", params={"cascade": "true"}, auth=self.auth,
                            timeout=30)


# ------------------------------------------------------------------------------ running

def deploy(driver, model: dict[str, Any], folder: Path) -> dict[str, str]:
    suffix = uuid.uuid4().hex[:8]
    path, renames = unique_copy(model, folder, suffix)
    deployments = driver.engine.deploy(path)
    driver.deployments.extend(d.deployment_id for d in deployments)
    return renames


def check_refused(driver, model: dict[str, Any], folder: Path) -> str:
    """Deploying must be refused with the manifest's reason; returns the engine's message."""
    try:
        deploy(driver, model, folder)
    except DeploymentRejected as exc:
        if model["refused"] not in str(exc):
            raise CorpusMismatch(f"refused for another reason: {exc}") from None
        return str(exc)
    raise CorpusMismatch("deployed, but the manifest expects it to be refused")


def run_model(driver, model: dict[str, Any], folder: Path) -> None:
    """Deploy the model and take each of its runs; raise ``CorpusMismatch`` naming the step that differs."""
    renames = deploy(driver, model, folder)
    key = renames[model["key"]]
    for number, run in enumerate(model["runs"], 1):
        business_key = f"corpus-{uuid.uuid4().hex[:12]}"
        driver.engine.start(key, business_key, dict(run.get("start") or {}))
        try:
            for index, step in enumerate(run["path"], 1):
                try:
                    _step(driver, business_key, step, renames)
                except CorpusMismatch as exc:
                    raise CorpusMismatch(f"run {number}, step {index} ({_describe(step)}): {exc}") from None
                except Exception as exc:  # the engine refused a move the path expects to work
                    raise CorpusMismatch(f"run {number}, step {index} ({_describe(step)}): "
                                         f"{type(exc).__name__}: {exc}") from None
            view = driver.engine.instance(business_key)
            got = (view.state, view.end_activity_id) if view else None
            if got != (InstanceState.COMPLETED, run["end"]):
                open_now = sorted(t.definition_key for t in driver.open_tasks(business_key))
                raise CorpusMismatch(f"run {number}: expected to end at {run['end']}, got {got} "
                                     f"(open user tasks {open_now})")
        finally:
            try:
                driver.engine.cancel(business_key, "corpus run finished")
            except Exception:  # best effort: the instance usually ended already
                pass


def _describe(step: dict[str, Any]) -> str:
    kind = next(iter(step))
    return f"{kind} {step[kind]}"


def _step(driver, business_key: str, step: dict[str, Any], renames: dict[str, str]) -> None:
    if "tasks" in step:
        got = sorted(t.definition_key for t in driver.open_tasks(business_key))
        if got != sorted(step["tasks"]):
            raise CorpusMismatch(f"open user tasks {got}, expected {sorted(step['tasks'])}")
    elif "complete" in step:
        activity, assignee = step["complete"], step.get("assignee")
        tasks = [t for t in driver.open_tasks(business_key) if t.definition_key == activity]
        if assignee is not None:
            tasks = [t for t in tasks if t.assignee == assignee]
        if not tasks:
            found = sorted((t.definition_key, t.assignee) for t in driver.open_tasks(business_key))
            raise CorpusMismatch(f"no open user task {activity}" + (f" assigned to {assignee}" if assignee else "")
                                 + f" (open: {found})")
        task = tasks[0]
        if "groups" in step and sorted(task.candidate_groups) != sorted(step["groups"]):
            raise CorpusMismatch(f"candidate groups {sorted(task.candidate_groups)}, expected {sorted(step['groups'])}")
        if "users" in step and sorted(task.candidate_users) != sorted(step["users"]):
            raise CorpusMismatch(f"candidate users {sorted(task.candidate_users)}, expected {sorted(step['users'])}")
        driver.engine.complete_task(task.id, dict(step.get("with") or {}),
                                    completed_by=assignee or step.get("by") or "corpus-user")
    elif "external" in step:
        topic = renames.get(step["external"], step["external"])
        locked = driver.engine.fetch_and_lock(WORKER, [topic], max_tasks=1, lock_duration_ms=60_000,
                                              business_key=business_key)
        if not locked:
            raise CorpusMismatch(f"no external task on topic {step['external']}")
        task = locked[0]
        if step.get("activity") and task.activity_id != step["activity"]:
            raise CorpusMismatch(f"the external task is {task.activity_id}, expected {step['activity']}")
        driver.engine.complete(task.id, WORKER, dict(step.get("with") or {}))
    elif "timer" in step:
        driver.fire(business_key, step["timer"], float(step["after"]))
    else:
        raise ValueError(f"unknown step {step!r}")


def make_driver(kind: str, tmp_path: Path) -> Any:
    """A driver for an engine kind of tests/support.py (memory, embedded, embedded-postgres, camunda)."""
    if kind == "camunda":
        from tests.camunda.stack import AUTH, CAMUNDA_URL
        from tests.support import make_engine

        return CamundaDriver(make_engine("camunda", tmp_path), CAMUNDA_URL, AUTH)
    clock = Clock()
    if kind == "memory":
        from pflow.adapters.memory.workflow import InMemoryWorkflowEngine

        return EmbeddedDriver(InMemoryWorkflowEngine(clock=clock), clock)
    from tests.support import make_embedded_engine

    return EmbeddedDriver(make_embedded_engine(kind, tmp_path, clock=clock), clock)


def outcome(kind: str, model: dict[str, Any], tmp_path: Path) -> tuple[str, str]:
    """("runs" | "refused" | "fails", detail) of one model on one engine kind, for the report."""
    driver = make_driver(kind, tmp_path)
    try:
        if "refused" in model and kind != "camunda":
            try:
                return "refused", check_refused(driver, model, tmp_path)
            except CorpusMismatch as exc:
                return "fails", str(exc)
        try:
            if "refused" in model:  # Camunda deploys what the embedded engine refuses
                deploy(driver, model, tmp_path)
                return "deploys", ""
            run_model(driver, model, tmp_path)
            return "runs", ""
        except (CorpusMismatch, DeploymentRejected) as exc:
            return "fails", str(exc)
    finally:
        driver.cleanup()
        driver.engine.close()

