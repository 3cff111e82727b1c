"""The handler for the ``ticket-processing`` external task: provision an approved ticket."""

from __future__ import annotations

from typing import Any

from pflow.domain.model import TicketStatus
from pflow.ports.provisioning import Provisioner, ProvisioningError
from pflow.ports.workflow import PROVISIONING_TOPIC, ExternalTask
from pflow.service.tickets import TicketService


class ProvisioningHandler:
    """Provisions idempotently, keyed by ticket id.

    Order matters for crash safety: provision (idempotent) → record the
    reference and ``completed`` on the ticket (commit) → the worker completes
    the external task. A crash anywhere redelivers the task after its lock
    expires; the redelivery finds the ticket completed (or the provisioner
    returns the same reference) and nothing is provisioned twice.
    """

    topic = PROVISIONING_TOPIC

    def __init__(self, tickets: TicketService, provisioner: Provisioner) -> None:
        self._tickets = tickets
        self._provisioner = provisioner

    def handle(self, task: ExternalTask) -> dict[str, Any]:
        ticket = self._tickets.prepare_provisioning(task.business_key)
        if ticket.status == TicketStatus.COMPLETED:
            return {"fulfilment_reference": ticket.fulfilment_reference}
        if ticket.status != TicketStatus.APPROVED:
            raise ProvisioningError(f"ticket {ticket.id} is {ticket.status}, not approved; not provisioning it")
        reference = self._provisioner.provision(ticket)
        self._tickets.complete_provisioning(ticket.id, reference)
        return {"fulfilment_reference": reference}

    def on_incident(self, task: ExternalTask, error: str) -> None:
        """Retries are used up: the engine raised an incident; the ticket shows it."""
        self._tickets.report_provisioning_failure(task.business_key, error)
