"""The built-in automated step: provision what a ticket asks for (PFLOW_PROVISIONING_TOPIC).

Any process can use it by naming its topic on an external service task. The handler provisions
idempotently, keyed by ticket id, and returns the fulfilment reference as a process variable; the
worker then completes the task and the ticket follows its process (``TicketService.sync``). A crash
anywhere redelivers the task after its lock expires; the provisioner returns the same reference for
the same ticket, so nothing is provisioned twice.
"""

from __future__ import annotations

from typing import Any

from pflow.domain.model import TicketStatus
from pflow.ports.process import ExternalTask
from pflow.ports.provisioning import Provisioner, ProvisioningError
from pflow.service.tickets import TicketService

class ProvisioningHandler:
    def __init__(self, tickets: TicketService, provisioner: Provisioner, topic: str) -> None:
        self._tickets = tickets
        self._provisioner = provisioner
        self.topic = topic

    def handle(self, task: ExternalTask) -> dict[str, Any]:
        ticket = self._tickets.automated_step_ticket(task.business_key)
        if ticket.status == TicketStatus.WITHDRAWN:
            raise ProvisioningError(f"ticket {ticket.id} was withdrawn; not provisioning it")
        reference = self._provisioner.provision(ticket)
        return {"fulfilment_reference": reference}
