#!/usr/bin/env python3
"""Smoke check: does a Camunda 7 engine run PFlow's ticket approval flow?

Deploys deploy/workflows/ticket-process.bpmn the way PFlow does (duplicate
filtering on), then drives one ticket down the approve path (claim, complete,
external task on "ticket-processing", history says COMPLETED at Completed) and
one down the reject path (ends at Rejected, no external task), over REST only.

    python3 deploy/camunda-dev/smoke.py [--url http://127.0.0.1:8081/engine-rest]

URL default: $CAMUNDA_URL, else http://127.0.0.1:$CAMUNDA_DEV_PORT/engine-rest
(port 8081). Credentials: $CAMUNDA_USERNAME / $CAMUNDA_PASSWORD, else camunda-dev's
dev-only user (pflow, $CAMUNDA_DEV_PASSWORD or its default). Business keys are "smoke-<random>", and the worker fetches with
a businessKey filter, so it never locks another ticket's task. A PFlow worker
polling the same engine may take the smoke ticket's external task first;
run the smoke check without one. Exit status 0 when every check passed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[2]
BPMN = REPO / "deploy" / "workflows" / "ticket-process.bpmn"
PROCESS_KEY = "ticket_approval"
TOPIC = "ticket-processing"
DEPLOYMENT_NAME = "pflow-ticket-approval"
DEPLOYMENT_SOURCE = "pflow"


class Engine:
    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.http = requests.Session()
        # The engine's REST API runs with basic authentication on (camunda-dev.sh).
        self.http.auth = (os.environ.get("CAMUNDA_USERNAME") or "pflow",
                          os.environ.get("CAMUNDA_PASSWORD") or os.environ.get("CAMUNDA_DEV_PASSWORD")
                          or "pflow-dev-only")

    def call(self, method: str, path: str, expect: int = 200, **kw):
        resp = self.http.request(method, self.url + path, timeout=30, **kw)
        if resp.status_code != expect:
            raise AssertionError(f"{method} {path}: expected HTTP {expect}, got {resp.status_code}: {resp.text[:500]}")
        return resp.json() if resp.content and "json" in resp.headers.get("Content-Type", "") else None


def typed(**values) -> dict:
    """{'approved': True} -> {'approved': {'value': True, 'type': 'Boolean'}}"""
    names = {bool: "Boolean", str: "String", int: "Long"}
    return {k: {"value": v, "type": names[type(v)]} for k, v in values.items()}


def deploy(engine: Engine, bpmn: Path) -> dict:
    with bpmn.open("rb") as fh:
        return engine.call(
            "POST", "/deployment/create",
            data={"deployment-name": DEPLOYMENT_NAME, "deployment-source": DEPLOYMENT_SOURCE,
                  "deploy-changed-only": "true", "enable-duplicate-filtering": "true"},
            files={"data": (bpmn.name, fh, "application/octet-stream")},
        )


def check_deploy(engine: Engine, bpmn: Path) -> None:
    deploy(engine, bpmn)
    again = deploy(engine, bpmn)
    assert not again.get("deployedProcessDefinitions"), f"unchanged redeploy made a new definition: {again}"
    latest = engine.call("GET", f"/process-definition/key/{PROCESS_KEY}")
    assert latest["key"] == PROCESS_KEY, latest


def start(engine: Engine, business_key: str) -> str:
    inst = engine.call("POST", f"/process-definition/key/{PROCESS_KEY}/start",
                       json={"businessKey": business_key,
                             "variables": typed(ticketId=business_key, requester="smoke")})
    assert inst["businessKey"] == business_key and not inst["ended"], inst
    found = engine.call("GET", "/process-instance",
                        params={"businessKey": business_key, "processDefinitionKey": PROCESS_KEY})
    assert [i["id"] for i in found] == [inst["id"]], found
    return inst["id"]


def approve_task(engine: Engine, business_key: str, approved: bool) -> None:
    tasks = engine.call("GET", "/task", params={"processInstanceBusinessKey": business_key,
                                                "taskDefinitionKey": "ManagerApproval"})
    assert len(tasks) == 1, tasks
    task_id = tasks[0]["id"]
    links = engine.call("GET", f"/task/{task_id}/identity-links")
    assert {"userId": None, "groupId": "managers", "type": "candidate"} in links, links
    engine.call("POST", f"/task/{task_id}/claim", expect=204, json={"userId": "smoke-manager"})
    engine.call("POST", f"/task/{task_id}/complete", expect=204,
                json={"variables": typed(approved=approved, comment="smoke check", approver="smoke-manager")})


def history(engine: Engine, instance_id: str, business_key: str) -> tuple[str, list[str]]:
    hist = engine.call("GET", "/history/process-instance",
                       params={"processInstanceBusinessKey": business_key, "processDefinitionKey": PROCESS_KEY})
    assert len(hist) == 1, hist
    acts = engine.call("GET", "/history/activity-instance",
                       params={"processInstanceId": instance_id, "sortBy": "occurrence", "sortOrder": "asc"})
    return hist[0]["state"], [a["activityId"] for a in acts]


def check_approve_path(engine: Engine) -> None:
    bk = f"smoke-{uuid.uuid4().hex[:10]}"
    worker = f"smoke-worker-{os.getpid()}"
    pid = start(engine, bk)
    approve_task(engine, bk, approved=True)
    t0 = time.monotonic()
    locked = engine.call("POST", "/external-task/fetchAndLock", json={
        "workerId": worker, "maxTasks": 1, "usePriority": True, "asyncResponseTimeout": 5000,
        "topics": [{"topicName": TOPIC, "lockDuration": 30000, "businessKey": bk,
                    "variables": ["ticketId", "approved", "approver"]}]})
    assert len(locked) == 1, f"no external task for {bk} after {time.monotonic() - t0:.1f}s: {locked}"
    ext = locked[0]
    assert ext["businessKey"] == bk and ext["activityId"] == "ProvisionService", ext
    assert ext["variables"]["approved"] == {"type": "Boolean", "value": True, "valueInfo": {}}, ext["variables"]
    engine.call("POST", f"/external-task/{ext['id']}/complete", expect=204,
                json={"workerId": worker, "variables": typed(serviceRef=f"svc-{bk}")})
    state, path = history(engine, pid, bk)
    assert state == "COMPLETED", state
    assert path == ["TicketSubmitted", "ManagerApproval", "ApprovalDecision", "ProvisionService", "Completed"], path


def check_reject_path(engine: Engine) -> None:
    bk = f"smoke-{uuid.uuid4().hex[:10]}"
    pid = start(engine, bk)
    approve_task(engine, bk, approved=False)
    assert engine.call("GET", "/external-task", params={"processInstanceId": pid}) == []
    state, path = history(engine, pid, bk)
    assert state == "COMPLETED", state
    assert path == ["TicketSubmitted", "ManagerApproval", "ApprovalDecision", "Rejected"], path


def main() -> int:
    default_url = os.environ.get("CAMUNDA_URL") or \
        f"http://127.0.0.1:{os.environ.get('CAMUNDA_DEV_PORT', '8081')}/engine-rest"
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", default=default_url, help=f"engine REST base (default {default_url})")
    ap.add_argument("--bpmn", type=Path, default=BPMN, help="BPMN file to deploy")
    args = ap.parse_args()

    engine = Engine(args.url)
    try:
        version = engine.call("GET", "/version")["version"]
    except (requests.RequestException, AssertionError) as exc:
        print(f"smoke: engine at {args.url} does not answer: {exc}", file=sys.stderr)
        return 1
    print(f"smoke: Camunda {version} at {args.url}")

    checks = [("deploy is idempotent", lambda: check_deploy(engine, args.bpmn)),
              ("approve path", lambda: check_approve_path(engine)),
              ("reject path", lambda: check_reject_path(engine))]
    failed = 0
    for name, fn in checks:
        t0 = time.monotonic()
        try:
            fn()
            print(f"  ok    {name} ({(time.monotonic() - t0) * 1000:.0f} ms)")
        except (AssertionError, requests.RequestException) as exc:
            failed += 1
            print(f"  FAIL  {name}: {exc}")
    print(f"smoke: {len(checks) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
