"""The ticket store's tables (SQLAlchemy Core). The domain classes are mapped onto them in
``orm.py``; the schema itself is created only by the Alembic migrations in ``migrations/``."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
    true,
    UniqueConstraint,
)

from sqlalchemy.ext.mutable import MutableDict, MutableList

from pflow.adapters.sqlalchemy.types import StepsJson, StrEnumType, UtcDateTime
from pflow.domain.model import TicketStatus

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
    Column("type", String(64), nullable=False),
    Column("title", String(200), nullable=False),
    # the type's own fields (its form is a JSON Schema); numbers stay JSON numbers
    Column("fields", MutableDict.as_mutable(JSON), nullable=False, default=dict, server_default=text("'{}'")),
    Column("requester", String(150), nullable=False),
    Column("status", StrEnumType(TicketStatus, 32), nullable=False),
    # The open steps as the ticket was last told them by its process: loaded with the ticket (no extra query).
    # ticket_steps/ticket_step_candidates hold the same steps as rows, for the inbox query only.
    Column("steps", MutableList.as_mutable(StepsJson()), nullable=False, default=list,
           server_default=text("'[]'")),
    Column("current_steps", MutableList.as_mutable(JSON), nullable=False, default=list,
           server_default=text("'[]'")),
    Column("last_editor", String(150), nullable=True),
    # who decided a decision step (four eyes); ticket_deciders holds them as rows for the inbox
    Column("deciders", MutableList.as_mutable(JSON), nullable=False, default=list, server_default=text("'[]'")),
    # everyone besides the requester who edited it (separation of duties); ticket_editors holds them as rows
    Column("editors", MutableList.as_mutable(JSON), nullable=False, default=list, server_default=text("'[]'")),
    Column("attention", Text, nullable=True),
    Column("definition_id", String(255), nullable=True),
    # what its automated steps returned (name -> text, number or true/false), e.g. the fulfilment reference
    Column("results", MutableDict.as_mutable(JSON), nullable=False, default=dict, server_default=text("'{}'")),
    # lower-cased title, string fields and text results, kept by the repository so text search is one LIKE
    Column("search_text", Text, nullable=False, default="", server_default=text("''")),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("version", Integer, nullable=False),
    # The list queries: newest first overall, by status, by requester ("my tickets"), by type.
    Index("ix_tickets_created", "created_at", "id"),
    Index("ix_tickets_status_created", "status", "created_at", "id"),
    Index("ix_tickets_requester_created", "requester", "created_at", "id"),
    Index("ix_tickets_type_created", "type", "created_at", "id"),
    Index("ix_tickets_status_requester", "status", "requester"),
)

# The inbox: one row per open user task of a ticket's process, replaced whenever the ticket's steps change.
ticket_steps = Table(
    "ticket_steps",
    metadata,
    Column("task_id", String(64), primary_key=True),
    Column("ticket_id", String(36), ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False),
    Column("definition_key", String(255), nullable=False),
    Column("name", String(255), nullable=False),
    Column("assignee", String(150), nullable=True),
    Column("due", UtcDateTime(), nullable=True),
    Column("created_at", UtcDateTime(), nullable=True),
    # the form has a decision field (approve/reject): four eyes applies to it
    Column("is_decision", Boolean, nullable=False, default=False),
    # whoever decided another step of the ticket may not decide this one (pflow.fourEyes, on by default)
    Column("four_eyes", Boolean, nullable=False, default=True, server_default=true()),
    # Copies of the ticket's columns the inbox filters on (kept in line by the repository): the inbox's count
    # then needs no lookup of every matching ticket, which was most of its time at 10 000 tickets.
    Column("requester", String(150), nullable=False),
    Column("last_editor", String(150), nullable=True),
    Column("ticket_type", String(64), nullable=False),
    Column("ticket_status", String(32), nullable=False),
    Index("ix_ticket_steps_ticket", "ticket_id"),
    Index("ix_ticket_steps_assignee_created", "assignee", "created_at", "task_id"),
    Index("ix_ticket_steps_created", "created_at", "task_id"),
)

ticket_step_candidates = Table(
    "ticket_step_candidates",
    metadata,
    Column("task_id", String(64), ForeignKey("ticket_steps.task_id", ondelete="CASCADE"), primary_key=True),
    Column("kind", String(8), primary_key=True),  # 'group' | 'user'
    Column("name", String(150), primary_key=True),
    # the inbox looks candidates up by (kind, name) and joins on task_id
    Index("ix_ticket_step_candidates_kind_name", "kind", "name", "task_id"),
)

ticket_deciders = Table(
    "ticket_deciders",
    metadata,
    Column("ticket_id", String(36), ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True),
    Column("username", String(150), primary_key=True),
)

# the inbox leaves out decision steps of tickets the user edited (separation of duties)
ticket_editors = Table(
    "ticket_editors",
    metadata,
    Column("ticket_id", String(36), ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True),
    Column("username", String(150), primary_key=True),
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
    # facts the system recorded (changed fields, a step's values, error); see HistoryEntry
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
    # the W3C trace context of the transaction that wrote the event, for the relay's and the consumer's spans
    Column("traceparent", String(100), nullable=True),
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

# Each reminder a step had, once per (step, kind): the key makes a second sender's commit fail, so several
# processes scanning at once still send each one once.
task_reminders = Table(
    "task_reminders",
    metadata,
    Column("task_id", String(64), primary_key=True),
    Column("kind", String(16), primary_key=True),  # 'reminder' | 'overdue'
    Column("ticket_id", String(36), ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False),
    Column("sent_at", UtcDateTime(), nullable=False),
    Index("ix_task_reminders_ticket", "ticket_id"),
)

# Failed logins per key ("user:<name>" / "ip:<address>"), shared by every API process (throttling, lockout).
login_attempts = Table(
    "login_attempts",
    metadata,
    Column("key", String(300), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("window_start", UtcDateTime(), nullable=False),
    Column("locked_until", UtcDateTime(), nullable=True),
)

# Each user's token generation: a token carries the one it was issued in; bumping it revokes older tokens.
token_generations = Table(
    "token_generations",
    metadata,
    Column("username", String(200), primary_key=True),
    Column("generation", Integer, nullable=False),
)

# Who stands in for whom while away (0012): one row per user who named a substitute, found by substitute too.
substitutes = Table(
    "substitutes",
    metadata,
    Column("username", String(200), primary_key=True),
    Column("substitute", String(200), nullable=False),
    Column("starts", UtcDateTime(), nullable=False),
    Column("ends", UtcDateTime(), nullable=False),
    Column("created", UtcDateTime(), nullable=False),
    Index("ix_substitutes_substitute", "substitute", "ends"),
)

# What PFlow sends out (0013): one row per e-mail (target = username) or webhook call (target = endpoint id)
# of an event; the unique key makes an event seen twice a no-op.
deliveries = Table(
    "deliveries",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("channel", String(16), nullable=False),
    Column("event_id", String(64), nullable=False),
    Column("target", String(200), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("next_attempt_at", UtcDateTime(), nullable=False),
    Column("sent_at", UtcDateTime(), nullable=True),
    Column("last_error", Text, nullable=True),
    Column("response_code", Integer, nullable=True),
    Column("latency_ms", Integer, nullable=True),
    UniqueConstraint("channel", "event_id", "target", name="uq_deliveries_key"),
    Index("ix_deliveries_due", "status", "next_attempt_at"),
    Index("ix_deliveries_target", "target", "created_at"),
)

webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("url", Text, nullable=False),
    Column("secret", String(200), nullable=False),
    Column("event_types", JSON, nullable=False),
    Column("format", String(16), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("active", Boolean, nullable=False, default=True),
    Column("consecutive_failures", Integer, nullable=False, default=0),
    Column("disabled_reason", Text, nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("created_by", String(200), nullable=False),
)

# Each user's notification choices (username '*': the admins' defaults).
notification_preferences = Table(
    "notification_preferences",
    metadata,
    Column("username", String(200), primary_key=True),
    Column("preferences", JSON, nullable=False),
)

# One-time e-mail decision links that were used.
email_links = Table(
    "email_links",
    metadata,
    Column("link_id", String(64), primary_key=True),
    Column("used_at", UtcDateTime(), nullable=False),
    Column("used_by", String(200), nullable=False),
)
