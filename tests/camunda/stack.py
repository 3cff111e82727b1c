"""Camunda for the shared test registries (tests/support.py): the engine under test, gating,
and isolation on an engine that other tests and test runs share.

Isolation: the contract suite uses the real process key and business-key-filtered
fetches. Full stacks (API tests, BDD features) run a worker that fetches every task
of its topic, so they deploy the BPMN under a process key of their own for this
test session (``ticket_approval_t<hex>``): a worker of one run never takes another
run's tasks. Each stack cancels the instances it left running when it closes, and
the session deletes its deployment (with its instances and history) at the end.

Credentials: the test engine runs with REST authentication on (deploy/camunda-dev), so every
adapter, PFlow process and raw request of the tests authenticates with ``AUTH`` (user ``pflow``,
the engine's dev-only password; PFLOW_TEST_CAMUNDA_USERNAME / _PASSWORD, else CAMUNDA_DEV_PASSWORD,
name another); ``AUTH_ENV`` holds them as PFlow's settings for child processes.

Outages: a stack talks to Camunda through a ``TcpProxy``; setting
``stack.engine.available = False`` cuts it (connections refused, as with a stopped
engine), so tests written for any engine can take Camunda down and bring it back.
"""

from __future__ import annotations

import logging
import os
import tempfile
import uuid
from pathlib import Path
from typing import Iterator

import requests
from dependency_injector import providers

from pflow.adapters.camunda import CamundaWorkflowEngine
from pflow.config import REPO_ROOT, Settings

log = logging.getLogger(__name__)

CAMUNDA_URL = os.environ.get("PFLOW_TEST_CAMUNDA_URL", "http://localhost:8081/engine-rest").rstrip("/")
#: which engine of Camunda 7's REST API the `camunda` tests run on: "camunda" (Camunda 7.24, by default) or
#: "operaton" (`make test` runs them a second time on deploy/operaton-dev, PFLOW_TEST_CAMUNDA_URL pointing at it)
FLAVOUR = os.environ.get("PFLOW_TEST_ENGINE_FLAVOUR", "camunda").strip().lower() or "camunda"
if FLAVOUR not in ("camunda", "operaton"):
    raise RuntimeError(f"PFLOW_TEST_ENGINE_FLAVOUR={FLAVOUR!r} is not camunda or operaton")
ENGINE_NAME = {"camunda": "Camunda", "operaton": "Operaton"}[FLAVOUR]
#: how the engine's GET /version begins: Camunda 7.24 answers "7.24.0", Operaton its own release ("1.0.3")
VERSION_PREFIX = {"camunda": "7.", "operaton": "1."}[FLAVOUR]
HINT = (f"start it with `make {FLAVOUR}-up` (deploy/{FLAVOUR}-dev/{FLAVOUR}-dev.sh up) or set "
        "PFLOW_TEST_CAMUNDA_URL")
#: camunda-dev's REST user and its dev-only default password (deploy/camunda-dev/camunda-dev.sh)
DEV_USER, DEV_PASSWORD = "pflow", "pflow-dev-only"
AUTH = (os.environ.get("PFLOW_TEST_CAMUNDA_USERNAME") or DEV_USER,
        os.environ.get("PFLOW_TEST_CAMUNDA_PASSWORD") or os.environ.get("CAMUNDA_DEV_PASSWORD") or DEV_PASSWORD)
AUTH_ENV = {"CAMUNDA_USERNAME": AUTH[0], "CAMUNDA_PASSWORD": AUTH[1]}
#: PFlow's settings (environment) for a child process on the engine under test, with AUTH_ENV
ENGINE_ENV = {"WORKFLOW_ENGINE": FLAVOUR, "CAMUNDA_URL": CAMUNDA_URL, **AUTH_ENV}
BPMN = REPO_ROOT / "deploy" / "workflows" / "ticket-process.bpmn"
SESSION_KEY = f"ticket_approval_t{uuid.uuid4().hex[:10]}"

WORKFLOWS = REPO_ROOT / "deploy" / "workflows"
SUFFIX = SESSION_KEY.removeprefix("ticket_approval")  # "_t<hex>": this session's process keys end with it

_session_bpmn: Path | None = None
_session_workflows: Path | None = None
_used = False


def session_process_key(key: str) -> str:
    """This session's key for a shipped process (``purchase_request`` -> ``purchase_request_t<hex>``)."""
    return SESSION_KEY if key == "ticket_approval" else f"{key}{SUFFIX}"


_session_copies: dict[Path, Path] = {}


def session_workflows(source: Path | None = None) -> Path:
    """A copy of a workflows folder (deploy/workflows/ by default: every BPMN and type file) whose processes
    have this session's keys: same graphs, element ids and ticket types; a worker of this run never takes
    another run's tasks. An adapter scoped to ``session_process_keys()`` sees only them."""
    global _session_workflows, _used
    _used = True
    source = Path(source or WORKFLOWS)
    if source not in _session_copies:
        import re

        from pflow.adapters.bpmn.reader import read_processes

        folder = Path(tempfile.mkdtemp(prefix="pflow-camunda-workflows-"))
        keys = [k for path in sorted(source.glob("*.bpmn")) for k in read_processes(path.read_bytes(), path.name)]
        for path in sorted(source.iterdir()):
            text = path.read_text(encoding="utf-8")
            for key in keys:
                if path.suffix == ".bpmn":
                    text = text.replace(f'"{key}"', f'"{session_process_key(key)}"')
                elif path.name.endswith((".type.yaml", ".type.yml")):
                    text = re.sub(rf"^(process:\s*){re.escape(key)}\s*$", rf"\g<1>{session_process_key(key)}",
                                  text, flags=re.MULTILINE)
            (folder / path.name).write_text(text, encoding="utf-8")
        _session_copies[source] = folder
    if source == WORKFLOWS:
        _session_workflows = _session_copies[source]
    return _session_copies[source]


def process_keys_of(folder: Path) -> list[str]:
    from pflow.adapters.bpmn.reader import read_processes

    return sorted(k for path in Path(folder).glob("*.bpmn") for k in read_processes(path.read_bytes()))


def session_process_keys() -> list[str]:
    return process_keys_of(session_workflows())


def probe() -> None:
    engine = CamundaWorkflowEngine(CAMUNDA_URL, timeout_s=5, auth=AUTH, flavour=FLAVOUR)
    try:
        engine.check()
    finally:
        engine.close()


def require_camunda() -> str:
    from tests.support import require_service

    require_service(ENGINE_NAME, probe, HINT)
    return CAMUNDA_URL


def session_bpmn() -> Path:
    """The ticket BPMN with this session's process key (same graph, same element ids)."""
    global _session_bpmn, _used
    _used = True
    if _session_bpmn is None:
        text = BPMN.read_text(encoding="utf-8")
        assert text.count('"ticket_approval"') == 2, "the BPMN's process id moved; update tests/camunda/stack.py"
        path = Path(tempfile.mkdtemp(prefix="pflow-camunda-")) / "ticket-process.bpmn"
        path.write_text(text.replace('"ticket_approval"', f'"{SESSION_KEY}"'), encoding="utf-8")
        _session_bpmn = path
    return _session_bpmn


def settings(base: dict, overrides: dict) -> Settings:
    """A Camunda stack's settings: this session's process key and BPMN; memory store and bus unless overridden."""
    workflows = session_workflows(base.get("workflows_dir"))
    return Settings(**{**base, "workflow_engine": FLAVOUR, "database_url": "memory://", "rabbitmq_url": "memory://",
                       "camunda_url": CAMUNDA_URL, "camunda_username": AUTH[0], "camunda_password": AUTH[1],
                       "camunda_process_key": SESSION_KEY, "workflows_dir": workflows,
                       **overrides})


class SwitchableCamundaEngine(CamundaWorkflowEngine):
    """The real adapter, reaching Camunda through a proxy; ``available = False`` cuts the proxy,
    ``freeze()`` makes it hold every request unanswered until ``thaw()``."""

    def __init__(self, settings: Settings) -> None:
        from tests.tcp_proxy import TcpProxy

        self.proxy = TcpProxy.for_url(settings.camunda_url)
        super().__init__(self.proxy.url_for(settings.camunda_url), process_keys_of(settings.workflows_dir),
                         timeout_s=settings.camunda_timeout_s, max_poll_ms=settings.camunda_max_poll_ms,
                         auth=settings.camunda_auth, flavour=settings.workflow_engine)

    @property
    def available(self) -> bool:
        return self.proxy.up

    @available.setter
    def available(self, value: bool) -> None:
        if value:
            self.proxy.restore()
        else:
            self.proxy.cut()

    def freeze(self) -> None:
        self.proxy.freeze()

    def thaw(self) -> None:
        self.proxy.thaw(drop_held=True)  # what was sent while frozen must not reach Camunda late

    def close(self) -> None:
        if self.proxy.frozen:
            self.proxy.thaw(drop_held=True)
        super().close()
        self.proxy.close()


def _switchable_engine(settings: Settings) -> Iterator[SwitchableCamundaEngine]:
    engine = SwitchableCamundaEngine(settings)
    try:
        yield engine
    finally:
        engine.close()
        # every process of the stack's folder: a later stack's worker must not find their automated steps
        cancel_running(",".join(process_keys_of(settings.workflows_dir)))


def install(container, settings: Settings) -> None:
    """Make a built container use the switchable engine (closed with the container's resources)."""
    container.workflow_engine.override(providers.Resource(_switchable_engine, settings))


def cancel_running(process_keys: str) -> None:
    """Stop what a stack left running, so no later worker of this session picks it up
    (``process_keys``: one key, or several separated by commas)."""
    for process_key in [k.strip() for k in process_keys.split(",") if k.strip()]:
        try:
            running = requests.get(f"{CAMUNDA_URL}/process-instance", params={"processDefinitionKey": process_key},
                                   auth=AUTH, timeout=10).json()
            for instance in running:
                if instance.get("definitionKey") != process_key:  # never trust a filter the engine might ignore
                    continue
                requests.delete(f"{CAMUNDA_URL}/process-instance/{instance['id']}", auth=AUTH, timeout=10)
        except requests.RequestException as exc:
            log.warning("could not clean up Camunda instances of %s: %s", process_key, exc)


def cleanup_session() -> None:
    """Delete this session's deployments with their instances and history."""
    if not _used:
        return
    try:
        # The adapter names a deployment pflow-<process keys of the file, joined by +>.
        deployments = requests.get(f"{CAMUNDA_URL}/deployment", params={"nameLike": "pflow-%"}, auth=AUTH,
                                   timeout=10).json()
        for deployment in deployments:
            keys = (deployment.get("name") or "").removeprefix("pflow-").split("+")
            if not deployment.get("name", "").startswith("pflow-") or not all(k.endswith(SUFFIX) for k in keys):
                continue
            requests.delete(f"{CAMUNDA_URL}/deployment/{deployment['id']}", params={"cascade": "true"}, auth=AUTH,
                            timeout=30)
    except (requests.RequestException, ValueError) as exc:
        log.warning("could not delete the test deployments of %s: %s", SESSION_KEY, exc)


def run_due_timer_jobs(engine, business_key: str, seconds: float) -> int:
    """Camunda keeps its own clock: run now the timer jobs of ``business_key``'s instance that are due within
    ``seconds`` from now (POST /job/{id}/execute), as if the clock stood that much later. Returns how many ran."""
    from datetime import datetime, timedelta, timezone

    view = engine.instance(business_key)
    if view is None:
        return 0
    until = datetime.now(timezone.utc) + timedelta(seconds=seconds)
    jobs = requests.get(f"{CAMUNDA_URL}/job", params={"processInstanceId": view.instance_id, "timers": "true"},
                        auth=AUTH, timeout=10).json()
    ran = 0
    for job in sorted(jobs, key=lambda j: j.get("dueDate") or ""):
        due = job.get("dueDate")
        if due and datetime.fromisoformat(due.replace("Z", "+00:00")) <= until:
            r = requests.post(f"{CAMUNDA_URL}/job/{job['id']}/execute", auth=AUTH, timeout=30)
            assert r.status_code == 204, (r.status_code, r.text)
            ran += 1
    return ran
