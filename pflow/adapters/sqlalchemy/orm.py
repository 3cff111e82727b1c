"""Imperative mapping of the domain classes onto the tables: the domain never imports SQLAlchemy.

``start_mappers()`` is called by the composition root (and tests) before the first unit of
work; it is idempotent and never runs at import time.
"""

from __future__ import annotations

import threading

from sqlalchemy.ext.orderinglist import ordering_list
from sqlalchemy.orm import registry, relationship

from pflow.adapters.sqlalchemy import tables
from pflow.domain.model import HistoryEntry, Ticket
from pflow.domain.notifications import Notification

mapper_registry = registry(metadata=tables.metadata)
_started = False
_lock = threading.Lock()


def start_mappers() -> None:
    global _started
    with _lock:
        if _started:
            return
        mapper_registry.map_imperatively(HistoryEntry, tables.ticket_history)
        mapper_registry.map_imperatively(
            Ticket,
            tables.tickets,
            properties={
                # The history keeps its order through the seq column, which ordering_list maintains.
                "history": relationship(
                    HistoryEntry,
                    order_by=tables.ticket_history.c.seq,
                    collection_class=ordering_list("seq"),
                    cascade="all, delete-orphan",
                    lazy="selectin",
                ),
                # kept by the repository from the title and string fields (text search); not a domain attribute
                "_search_text": tables.tickets.c.search_text,
            },
            # Optimistic locking: UPDATE ... WHERE version = <the version we read>; 0 rows -> StaleDataError.
            version_id_col=tables.tickets.c.version,
        )
        mapper_registry.map_imperatively(Notification, tables.notifications)
        _started = True
