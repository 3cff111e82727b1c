"""The real ``pflow`` command for the fault suite, with one stand-in changed: the simulated
provisioning backend takes ``PFLOW_FAULTS_PROVISION_DELAY_S`` per call and records each call and
each effect in the ledger at ``PFLOW_FAULTS_LEDGER`` (tests/ledger.py), so a test can see across
processes that a worker is mid-task and SIGKILL it there, and count what the backend really did.
While the file ``PFLOW_FAULTS_FAIL_FLAG`` names exists, every call fails (the backend is down).

    python -m tests.faults.pflow_process serve|worker|consume …
"""

from __future__ import annotations

import os
import sys
import time


def _slow_counted_provisioner() -> None:
    from pflow.adapters.memory.provisioning import SimulatedProvisioner
    from pflow.ports.provisioning import ProvisioningError
    from tests.ledger import Ledger

    ledger = Ledger(os.environ["PFLOW_FAULTS_LEDGER"], worker_id=f"pid{os.getpid()}")
    delay = float(os.environ.get("PFLOW_FAULTS_PROVISION_DELAY_S", "0"))
    fail_flag = os.environ.get("PFLOW_FAULTS_FAIL_FLAG")
    original = SimulatedProvisioner.provision

    def provision(self, ticket):
        if fail_flag and os.path.exists(fail_flag):
            # Refused at once, not recorded: ``calls`` count the attempts that reach the backend.
            raise ProvisioningError("the provisioning backend is down (fault injected)")
        ledger.record_call(ticket.id)
        time.sleep(delay)
        reference = original(self, ticket)
        ledger.record_effect(ticket.id, reference)
        return reference

    SimulatedProvisioner.provision = provision


def main() -> int:
    if os.environ.get("PFLOW_FAULTS_LEDGER"):
        _slow_counted_provisioner()
    from pflow.entrypoints.cli import main as pflow

    return pflow(args=sys.argv[1:], prog_name="pflow")


if __name__ == "__main__":
    sys.exit(main())
