"""A process definition of the benchmark's own on a shared Camunda, and instances waiting at its external task.

Each benchmark deploys the ticket BPMN under a process key (and, where clients without a process
filter take part, a topic) of its own, so it neither takes nor leaves work for other runs on the
same engine; ``close()`` deletes the deployment with its instances and history.
"""

from __future__ import annotations

import tempfile
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from benchmarks.common import CAMUNDA_AUTH
from pflow.config import REPO_ROOT, Settings

# The default ticket type's process (it_request), as shipped; the benchmark deploys a copy under its own names.
BPMN = REPO_ROOT / "deploy" / "workflows" / "ticket-process.bpmn"
PROCESS_KEY = "ticket_approval"
# The built-in provisioning step's topic (PFLOW_PROVISIONING_TOPIC), which the shipped BPMN names.
PROVISIONING_TOPIC = Settings.provisioning_topic


class BenchProcess:
    def __init__(self, url: str, *, own_topic: bool = False) -> None:
        self.url = url.rstrip("/")
        suffix = uuid.uuid4().hex[:10]
        self.key = f"{PROCESS_KEY}_bench{suffix}"
        self.topic = f"{PROVISIONING_TOPIC}-bench{suffix}" if own_topic else PROVISIONING_TOPIC
        text = BPMN.read_text(encoding="utf-8")
        if text.count(f'"{PROCESS_KEY}"') != 2 or text.count(f'camunda:topic="{PROVISIONING_TOPIC}"') != 1:
            raise RuntimeError(f"{BPMN}: the process id or topic moved; update benchmarks/camunda_support.py")
        text = text.replace(f'"{PROCESS_KEY}"', f'"{self.key}"')
        text = text.replace(f'camunda:topic="{PROVISIONING_TOPIC}"', f'camunda:topic="{self.topic}"')
        self._dir = tempfile.TemporaryDirectory(prefix="pflow-bench-camunda-")
        self.bpmn = Path(self._dir.name) / "ticket-process.bpmn"
        self.bpmn.write_text(text, encoding="utf-8")
        self.session = requests.Session()
        self.session.auth = CAMUNDA_AUTH
        self._local = threading.local()
        self.deployment_id: str | None = None
        self.definition_id: str | None = None

    def deploy(self) -> "BenchProcess":
        with self.bpmn.open("rb") as f:
            answer = self.session.post(f"{self.url}/deployment/create",
                                       data={"deployment-name": f"pflow-{self.key}", "deployment-source": "pflow-bench"},
                                       files={self.bpmn.name: (self.bpmn.name, f, "application/xml")}, timeout=60)
        answer.raise_for_status()
        self.deployment_id = answer.json()["id"]
        found = self.session.get(f"{self.url}/process-definition/key/{self.key}", timeout=30)
        found.raise_for_status()
        self.definition_id = found.json()["id"]
        return self

    def _thread_session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            session.auth = CAMUNDA_AUTH
        return session

    def start_waiting(self, count: int, prefix: str = "wait") -> None:
        """``count`` instances waiting at the external task (started there with a start instruction,
        as if approved: the same wait state the approval leads to)."""
        def start(i: int) -> None:
            answer = self._thread_session().post(
                f"{self.url}/process-definition/key/{self.key}/start",
                json={"businessKey": f"{prefix}-{i}-{uuid.uuid4().hex[:6]}",
                      "variables": {"approved": {"value": True, "type": "Boolean"},
                                    "comment": {"value": "ok", "type": "String"}},
                      "startInstructions": [{"type": "startBeforeActivity", "activityId": "ProvisionService"}]},
                timeout=60)
            answer.raise_for_status()

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(start, range(count)))
        waiting = self.waiting()
        if waiting < count:
            raise RuntimeError(f"only {waiting} of {count} instances reached the external task")

    def waiting(self) -> int:
        answer = self.session.get(f"{self.url}/external-task/count",
                                  params={"topicName": self.topic, "processDefinitionId": self.definition_id}, timeout=30)
        answer.raise_for_status()
        return answer.json()["count"]

    def close(self) -> None:
        try:
            if self.deployment_id:
                self.session.delete(f"{self.url}/deployment/{self.deployment_id}", params={"cascade": "true"},
                                    timeout=300)
        finally:
            self.session.close()
            self._dir.cleanup()
