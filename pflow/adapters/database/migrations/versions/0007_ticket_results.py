"""A ticket keeps what its automated steps returned (``results``: name -> text, number or true/false), e.g. the
fulfilment reference of the built-in provisioning step, and text search looks in the text results too.

Tickets from before: the fulfilment reference the single-flow model kept (moved by 0006_process_tickets into the
details of the ticket's last ``completed`` history entry, as ``reference``) becomes the ticket's
``fulfilment_reference`` result, and every ticket's search text is made again by the rule as of this revision.

Downgrade drops the column and makes the search text again without the results (the reference stays in the
history, where 0006 put it).

Revision ID: 0007_ticket_results
Revises: 0006_process_tickets
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_ticket_results"
down_revision = "0006_process_tickets"
branch_labels = None
depends_on = None

# Plain ADD/DROP COLUMN, not batch mode: on SQLite a batch copies and drops the tickets table, and dropping it
# would cascade to the rows of ticket_steps, ticket_deciders and ticket_history that refer to it.

FULFILMENT_REFERENCE = "fulfilment_reference"

tickets = sa.table(
    "tickets",
    sa.column("id", sa.String), sa.column("title", sa.String), sa.column("fields", sa.JSON),
    sa.column("results", sa.JSON), sa.column("search_text", sa.Text),
)
history = sa.table(
    "ticket_history",
    sa.column("ticket_id", sa.String), sa.column("seq", sa.Integer), sa.column("action", sa.String),
    sa.column("details", sa.JSON),
)


def _search_text(title: str, fields: dict, results: dict) -> str:
    # the repository's rule (pflow.adapters.sqlalchemy.repository.search_text), fixed here as of this revision
    parts = [title or ""] + [v for _, v in sorted((fields or {}).items()) if isinstance(v, str)]
    parts += [v for _, v in sorted((results or {}).items()) if isinstance(v, str)]
    return "\n".join(parts).lower()


def _references(bind) -> dict[str, str]:
    """ticket id -> the reference in its last ``completed`` history entry."""
    found: dict[str, str] = {}
    rows = bind.execute(sa.select(history.c.ticket_id, history.c.details)
                        .where(history.c.action == "completed").order_by(history.c.ticket_id, history.c.seq))
    for row in rows:
        reference = (row.details or {}).get("reference") if isinstance(row.details, dict) else None
        if isinstance(reference, str) and reference.strip():
            found[row.ticket_id] = reference.strip()
    return found


def upgrade() -> None:
    op.add_column("tickets", sa.Column("results", sa.JSON(), nullable=False, server_default=sa.text("'{}'")))
    bind = op.get_bind()
    references = _references(bind)
    for row in bind.execute(sa.select(tickets.c.id, tickets.c.title, tickets.c.fields)).all():
        results = {FULFILMENT_REFERENCE: references[row.id]} if row.id in references else {}
        values = {"search_text": _search_text(row.title, row.fields, results)}
        if results:
            values["results"] = results
        bind.execute(tickets.update().where(tickets.c.id == row.id).values(**values))


def downgrade() -> None:
    bind = op.get_bind()
    for row in bind.execute(sa.select(tickets.c.id, tickets.c.title, tickets.c.fields)).all():
        bind.execute(tickets.update().where(tickets.c.id == row.id)
                     .values(search_text=_search_text(row.title, row.fields, {})))
    op.drop_column("tickets", "results")
