"""The ticket store's tables (SQLAlchemy Core). The domain classes are mapped onto them in
``orm.py``; the schema itself is created only by the Alembic migrations in ``migrations/``."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)

from pflow.adapters.sqlalchemy.types import Money, StrEnumType, UtcDateTime
from pflow.domain.model import Priority, TicketStatus

# Named constraints, so migrations can refer to them and error messages name the table.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

# SQLite only autoincrements INTEGER PRIMARY KEY; PostgreSQL gets BIGINT identities.
BigId = BigInteger().with_variant(Integer(), "sqlite")

tickets = Table(
    "tickets",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("title", String(200), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("amount", Money(), nullable=True),
    Column("priority", StrEnumType(Priority, 16), nullable=False),
    Column("requester", String(150), nullable=False),
    Column("approver", String(150), nullable=True),
    Column("fulfilment_reference", String(200), nullable=True),
    Column("status", StrEnumType(TicketStatus, 32), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("version", Integer, nullable=False),
    # The list queries: newest first overall, by status (approvals inbox), by requester ("my tickets").
    Index("ix_tickets_created", "created_at", "id"),
    Index("ix_tickets_status_created", "status", "created_at", "id"),
    Index("ix_tickets_requester_created", "requester", "created_at", "id"),
    # Lets the page's total be counted from the index alone (inbox: status, requester <> me).
    Index("ix_tickets_status_requester", "status", "requester"),
)

ticket_history = Table(
    "ticket_history",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("ticket_id", String(36), ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False),
    Column("seq", Integer, nullable=False),  # position in the ticket's history, from 0
    Column("at", UtcDateTime(), nullable=False),
    Column("actor", String(150), nullable=False),
    Column("action", String(64), nullable=False),
    Column("from_status", String(32), nullable=True),
    Column("to_status", String(32), nullable=False),
    Column("comment", Text, nullable=True),
    # facts the system recorded (changed fields, fulfilment reference, error); see HistoryEntry
    Column("details", JSON, nullable=False, default=dict, server_default=text("'{}'")),
    Index("ux_ticket_history_ticket_seq", "ticket_id", "seq", unique=True),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),  # commit order
    Column("event_id", String(36), nullable=False, unique=True),
    Column("ticket_id", String(36), nullable=False),
    Column("routing_key", String(100), nullable=False),
    Column("body", JSON, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("sent_at", UtcDateTime(), nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text, nullable=True),
    # The relay reads only unsent rows, in id order: a partial index keeps that cheap however many were sent.
    Index("ix_outbox_unsent", "id", postgresql_where=text("sent_at IS NULL"), sqlite_where=text("sent_at IS NULL")),
)

notifications = Table(
    "notifications",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("recipient", String(150), nullable=False),
    Column("ticket_id", String(36), nullable=False),
    Column("kind", String(100), nullable=False),
    Column("message", Text, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("event_id", String(36), nullable=True),
    Column("read_at", UtcDateTime(), nullable=True),
    # the values the message was made from, for clients that word it in the reader's language
    Column("params", JSON, nullable=False, default=dict, server_default=text("'{}'")),
    Index("ix_notifications_recipient_created", "recipient", "created_at", "id"),
    Index("ix_notifications_unread", "recipient", "created_at",
          postgresql_where=text("read_at IS NULL"), sqlite_where=text("read_at IS NULL")),
)

processed_events = Table(
    "processed_events",
    metadata,
    Column("consumer", String(64), primary_key=True),
    Column("event_id", String(36), primary_key=True),
    Column("processed_at", UtcDateTime(), nullable=False),
)
