"""PFlow's automated steps (topic "ticket-processing") done by camunda-external-task-client-python3, unchanged,
against any engine REST that speaks Camunda 7's external-task API: PFlow's embedded engine under
`pflow serve`, Camunda 7 or Operaton.

Environment: CAMUNDA_URL (default http://localhost:8080/engine-rest), CAMUNDA_USERNAME and CAMUNDA_PASSWORD
(basic authentication, when set), PFLOW_WORKER_BUSINESS_KEY (fetch only the tasks of that ticket, its id: the
client has no business-key filter of its own, so the worker adds Camunda's topic field ``businessKey`` to its
fetch, as the Java and JavaScript clients send it).

The rule, the same in the Java and JavaScript examples: a ticket title containing "[bpmn-error]" reports the
BPMN error ORDER_REFUSED; "[fail]" fails the first attempt with no retries left (an incident an admin retries
from PFlow); anything else completes with provisionedBy=camunda-python-client.

    pip install camunda-external-task-client-python3
    python worker.py
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time

from camunda.external_task.external_task import ExternalTask, TaskResult
from camunda.external_task.external_task_worker import ExternalTaskWorker, NoExternalTaskFound

TOPIC = "ticket-processing"
CLIENT = "camunda-python-client"


def say(line: str) -> None:
    print(f"{CLIENT}: {line}", flush=True)


def handle(task: ExternalTask) -> TaskResult:
    title = str(task.get_variable("title") or "")
    where = f"ticket {task.get_business_key()} step {task.get_activity_id()} task {task.get_task_id()}"
    if "[bpmn-error]" in title:
        say(f"{where}: bpmn error ORDER_REFUSED")
        return task.bpmn_error("ORDER_REFUSED", "the supplier refused the order")
    if "[fail]" in title and task._context.get("retries") is None:  # the first attempt: no retries counted yet
        say(f"{where}: failed (no retries left: an incident)")
        return task.failure("the order system is down", "the order system answered 503", max_retries=0,
                            retry_timeout=0)
    say(f"{where}: completed")
    return task.complete({"provisionedBy": CLIENT})


def main() -> int:
    url = os.environ.get("CAMUNDA_URL") or "http://localhost:8080/engine-rest"
    config: dict = {"maxTasks": 1, "lockDuration": 30000, "asyncResponseTimeout": 10000, "sleepSeconds": 1}
    if os.environ.get("CAMUNDA_USERNAME"):
        config["auth_basic"] = {"username": os.environ["CAMUNDA_USERNAME"],
                                "password": os.environ.get("CAMUNDA_PASSWORD", "")}
    business_key = os.environ.get("PFLOW_WORKER_BUSINESS_KEY") or None
    logging.basicConfig(level=logging.WARNING)  # the client logs every poll at INFO
    worker = ExternalTaskWorker(worker_id=CLIENT, base_url=url.rstrip("/"), config=config)
    if business_key:
        # The client builds each fetch's topics in _get_topics; Camunda's topic field businessKey is added to them.
        topics_of = worker.client._get_topics

        def topics_of_one_ticket(*args, **kwargs):
            return [{**topic, "businessKey": business_key} for topic in topics_of(*args, **kwargs)]

        worker.client._get_topics = topics_of_one_ticket

    state = {"stopping": False, "busy": False}

    def on_signal(signum, frame):
        state["stopping"] = True
        if not state["busy"]:
            raise SystemExit(0)  # leaves a poll that is waiting for tasks; a task being handled is finished

    def handle_marked(task: ExternalTask) -> TaskResult:
        state["busy"] = True
        return handle(task)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    say(f"polling {TOPIC} at {url}" + (f" for business key {business_key}" if business_key else ""))
    try:
        while not state["stopping"]:
            try:
                # The worker's own subscribe() loops for ever; one fetch at a time lets SIGTERM end it cleanly.
                worker.fetch_and_execute(TOPIC, handle_marked)
            except NoExternalTaskFound:
                pass
            except Exception as exc:  # the engine is away or refused a report: say so, wait, go on
                say(f"polling failed: {exc}")
                time.sleep(config["sleepSeconds"])
            finally:
                state["busy"] = False
    except SystemExit:
        pass
    say("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
