"""Drain waiting external tasks with camunda-external-task-client-python3 and a no-op handler.

Runs in the client's own virtualenv (var/bench/pyclient, made by worker_throughput.py), so it
imports nothing from PFlow. Prints one JSON line: completed, seconds, tasks_per_second. The clock
starts when the worker is created and stops when the last completion call returned.

    python pyclient_drain.py URL TOPIC COUNT ['{"maxTasks": 10, ...}']

Credentials for Camunda's REST API come from CAMUNDA_USERNAME / CAMUNDA_PASSWORD (as for PFlow).
"""

import json
import os
import sys
import threading
import time

from camunda.client.external_task_client import ExternalTaskClient
from camunda.external_task.external_task_worker import ExternalTaskWorker


def main() -> int:
    url, topic, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    config = json.loads(sys.argv[4]) if len(sys.argv) > 4 else {}
    if os.environ.get("CAMUNDA_USERNAME"):
        config["auth_basic"] = {"username": os.environ["CAMUNDA_USERNAME"],
                                "password": os.environ.get("CAMUNDA_PASSWORD", "")}
    done = [0]
    finished = threading.Event()
    ended = [0.0]
    lock = threading.Lock()
    complete = ExternalTaskClient.complete

    def counting_complete(self, *args, **kwargs):
        result = complete(self, *args, **kwargs)
        with lock:
            done[0] += 1
            if done[0] == count:
                ended[0] = time.perf_counter()
                finished.set()
        return result

    ExternalTaskClient.complete = counting_complete  # counts after the engine answered, as the other clients do

    def handler(task):
        return task.complete({})

    began = time.perf_counter()
    worker = ExternalTaskWorker(worker_id="py-drain", base_url=url, config=config)
    threading.Thread(target=worker.subscribe, args=(topic, handler), daemon=True).start()
    ok = finished.wait(600)
    elapsed = (ended[0] if ok else time.perf_counter()) - began
    print(json.dumps({"completed": done[0], "seconds": elapsed, "tasks_per_second": done[0] / elapsed,
                      "finished": ok}), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
