"""A worker process for the crash tests: the real runtime and provisioning handler on the embedded engine.

The ticket store and the provisioning backend are stood in for by a SQLite
"ledger" file that every worker process shares, so the test can count what
really happened across processes:

* ``effects``: one row per ticket actually provisioned (the backend's side effect);
* ``calls``: one row per call of the provisioner (redeliveries included);
* ``tickets``: the ticket's status and fulfilment reference (the ticket store).

``--pause-at`` makes this worker stop forever at one point (it is then SIGKILLed
by the test): ``provisioning`` (inside the backend call, before its effect),
``provisioned`` (effect done, task not yet completed in the engine),
``completed`` (task completed, the ticket not yet following it), or ``slow``
(pause a second, then go on, to show a graceful stop).

Run as ``python -m tests.integration.crash_worker --db URL --ledger PATH --worker-id W``.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path

from tests.ledger import Ledger, LedgerProvisioner, LedgerTickets


def main(argv: list[str] | None = None) -> int:
    from pflow.adapters.spiff import SpiffWorkflowEngine
    from pflow.adapters.database.engine import create_db_engine
    from pflow.runtime.worker import ExternalTaskWorker, WorkerSettings
    from pflow.config import Settings
    from pflow.service.provisioning import ProvisioningHandler

    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--ledger", required=True, type=Path)
    parser.add_argument("--worker-id", required=True)
    parser.add_argument("--lock-ms", type=int, default=1500)
    parser.add_argument("--pause-at", default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format=f"%(asctime)s {args.worker_id} %(levelname)s %(name)s: %(message)s")

    ledger = Ledger(args.ledger, args.worker_id, args.pause_at)
    db = create_db_engine(args.db)
    engine = SpiffWorkflowEngine(db)
    tickets = LedgerTickets(ledger, engine)
    handler = ProvisioningHandler(tickets, LedgerProvisioner(ledger),  # type: ignore[arg-type]
                                  Settings().provisioning_topic)
    # As the container wires it: once a step's outcome is in the engine, the ticket follows its process.
    worker = ExternalTaskWorker(engine, [handler], WorkerSettings(
        worker_id=args.worker_id, concurrency=2, lock_duration_ms=args.lock_ms, poll_wait_ms=10_000),
        on_progress=tickets.after_automated_step)
    signal.signal(signal.SIGTERM, lambda *_: worker.request_stop())
    print(f"worker {args.worker_id} ready", flush=True)
    worker.run()
    print(f"worker {args.worker_id} stopped: {worker.processed} done, {worker.released} released", flush=True)
    engine.close()
    db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
