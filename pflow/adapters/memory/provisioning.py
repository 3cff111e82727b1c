"""A provisioner that records what it provisioned, keyed by ticket id."""

from __future__ import annotations

import hashlib
import threading

from pflow.domain.model import Ticket
from pflow.ports.provisioning import Provisioner, ProvisioningError


class SimulatedProvisioner(Provisioner):
    """Stands in for the system that fulfils approved tickets.

    The reference is derived from the ticket id, so provisioning is idempotent
    by construction; ``calls`` and ``provisioned`` let tests count real work.
    ``failing`` (or a title containing ``fail_marker``) makes it fail, to show
    the retry and incident path.
    """

    def __init__(self, fail_marker: str | None = None) -> None:
        self._lock = threading.Lock()
        self.provisioned: dict[str, str] = {}
        self.calls: list[str] = []
        self.failing = False
        self.fail_marker = fail_marker

    def provision(self, ticket: Ticket) -> str:
        with self._lock:
            self.calls.append(ticket.id)
            if self.failing or (self.fail_marker and self.fail_marker in ticket.title):
                raise ProvisioningError("the provisioning backend refused the request")
            if ticket.id not in self.provisioned:
                digest = hashlib.sha256(ticket.id.encode()).hexdigest()[:10].upper()
                self.provisioned[ticket.id] = f"PRV-{digest}"
            return self.provisioned[ticket.id]
