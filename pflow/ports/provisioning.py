"""The automated step after approval: provisioning what the ticket asked for."""

from __future__ import annotations

import abc

from pflow.domain.model import Ticket


class ProvisioningError(Exception):
    """Provisioning failed this time; the worker reports it and the engine retries."""


class Provisioner(abc.ABC):
    @abc.abstractmethod
    def provision(self, ticket: Ticket) -> str:
        """Provision the ticket and return a fulfilment reference. Idempotent by
        ticket id: calling again for the same ticket returns the same reference and
        provisions nothing new. Raises ``ProvisioningError`` on failure."""
