"""A worker process on Camunda for the reliability tests: the real worker runtime, provisioning
handler and Camunda adapter; only the ticket store and the provisioning backend are stood in for
by a SQLite "ledger" that every worker process shares, so a test can count across processes:

* ``effects``: one row per ticket actually provisioned (the backend's side effect, idempotent by id);
* ``calls``: one row per provisioner call (redeliveries included), with the worker that made it;
* ``tickets``: status and fulfilment reference (the ticket store's projection of the process);
* ``pauses``: where a worker stopped on purpose (``--pause-at``).

``--pause-at`` stops the worker for good at ``provisioning`` (inside the backend call, before its
effect), ``provisioned`` (effect done, task not completed) or ``completed`` (task completed in Camunda,
the ticket not yet following it), for the test to SIGKILL it there.

    python -m tests.camunda.worker_process --url URL --process-key KEY --ledger PATH --worker-id W
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import time
from pathlib import Path

from tests.ledger import Ledger, LedgerProvisioner, LedgerTickets


def main(argv: list[str] | None = None) -> int:
    from pflow.adapters.camunda import CamundaWorkflowEngine
    from pflow.runtime.worker import ExternalTaskWorker, WorkerSettings
    from pflow.config import Settings
    from pflow.service.provisioning import ProvisioningHandler

    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--process-key", required=True)
    parser.add_argument("--ledger", required=True, type=Path)
    parser.add_argument("--worker-id", required=True)
    parser.add_argument("--lock-ms", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--pause-at", default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format=f"%(asctime)s {args.worker_id} %(levelname)s %(name)s: %(message)s")

    ledger = Ledger(args.ledger, args.worker_id, args.pause_at)
    # The credentials come as PFlow's own settings (CAMUNDA_USERNAME / CAMUNDA_PASSWORD, tests/camunda/stack.py).
    engine = CamundaWorkflowEngine(args.url, args.process_key, auth=Settings.from_env().camunda_auth)
    tickets = LedgerTickets(ledger, engine)
    handler = ProvisioningHandler(tickets, LedgerProvisioner(ledger),  # type: ignore[arg-type]
                                  Settings().provisioning_topic)
    # As the container wires it: once a step's outcome is in the engine, the ticket follows its process.
    worker = ExternalTaskWorker(engine, [handler], WorkerSettings(
        worker_id=args.worker_id, concurrency=args.concurrency, lock_duration_ms=args.lock_ms,
        poll_wait_ms=10_000, retry_backoff_ms=200, engine_backoff_max_s=2.0), on_progress=tickets.after_automated_step)

    def _stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    worker.start()
    print(f"worker {args.worker_id} ready", flush=True)
    try:
        while True:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        worker.stop(timeout=20)
        engine.close()
    print(f"worker {args.worker_id} stopped: {worker.processed} done, {worker.failed} failed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
