"""Process-driven tickets: a ticket has a type and the fields its type's form declares, and takes its status
and open steps from its process instance.

Existing tickets become the default type ``it_request`` (the ``ticket_approval`` process they started on):
- description, amount (a JSON number) and priority move into ``fields`` (an empty description is left out, as
  the form leaves out an empty optional field);
- statuses: pending_approval and approved -> in_progress (the instance still runs: the manager's task or the
  provisioning step), provisioning_failed -> needs_attention (``attention`` is the last recorded error),
  draft/completed/rejected unchanged;
- the approver becomes the one decider (four eyes), the requester the last editor;
- the fulfilment reference goes into the details of the ticket's last ``completed`` history entry (as
  ``reference``) unless it is there already;
- open steps are not known to the database: they are empty until the ticket next follows its instance.

New tables ticket_steps (with copies of the ticket's requester, last editor, type and status), ticket_step_candidates
and ticket_deciders hold the open steps and deciders as rows for the inbox.

Downgrade maps back what the old schema can say and refuses, naming the tickets, when it cannot (another type,
or a withdrawn ticket).

Revision ID: 0006_process_tickets
Revises: 0005_engine_scoping
Create Date: 2026-12-01
"""

from decimal import Decimal

import sqlalchemy as sa
from alembic import op

revision = "0006_process_tickets"
down_revision = "0005_engine_scoping"
branch_labels = None
depends_on = None

DEFAULT_TYPE = "it_request"
UP_STATUS = {"pending_approval": "in_progress", "approved": "in_progress", "provisioning_failed": "needs_attention"}

tickets = sa.table(
    "tickets",
    sa.column("id", sa.String), sa.column("title", sa.String), sa.column("requester", sa.String),
    sa.column("status", sa.String), sa.column("type", sa.String), sa.column("fields", sa.JSON),
    sa.column("steps", sa.JSON), sa.column("current_steps", sa.JSON), sa.column("last_editor", sa.String),
    sa.column("deciders", sa.JSON), sa.column("attention", sa.Text), sa.column("search_text", sa.Text),
    sa.column("description", sa.Text), sa.column("amount", sa.Numeric(14, 2)), sa.column("priority", sa.String),
    sa.column("approver", sa.String), sa.column("fulfilment_reference", sa.String),
)
history = sa.table(
    "ticket_history",
    sa.column("id", sa.BigInteger), sa.column("ticket_id", sa.String), sa.column("seq", sa.Integer),
    sa.column("action", sa.String), sa.column("to_status", sa.String), sa.column("comment", sa.Text),
    sa.column("details", sa.JSON),
)
deciders_table = sa.table("ticket_deciders", sa.column("ticket_id", sa.String), sa.column("username", sa.String))


def _number(amount) -> int | float | None:
    if amount is None:
        return None
    value = Decimal(str(amount))
    return int(value) if value == value.to_integral_value() else float(value)


def _search_text(title: str, fields: dict) -> str:
    # the repository's rule (pflow.adapters.sqlalchemy.repository.search_text), fixed here as of this revision
    return "\n".join([title or ""] + [v for _, v in sorted(fields.items()) if isinstance(v, str)]).lower()


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("type", sa.String(64), nullable=True))
        batch.add_column(sa.Column("fields", sa.JSON(), nullable=False, server_default=sa.text("'{}'")))
        batch.add_column(sa.Column("steps", sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
        batch.add_column(sa.Column("current_steps", sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
        batch.add_column(sa.Column("last_editor", sa.String(150), nullable=True))
        batch.add_column(sa.Column("deciders", sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
        batch.add_column(sa.Column("attention", sa.Text(), nullable=True))
        batch.add_column(sa.Column("definition_id", sa.String(255), nullable=True))
        batch.add_column(sa.Column("search_text", sa.Text(), nullable=False, server_default=sa.text("''")))

    bind = op.get_bind()
    rows = bind.execute(sa.select(tickets.c.id, tickets.c.title, tickets.c.requester, tickets.c.status,
                                  tickets.c.description, tickets.c.amount, tickets.c.priority, tickets.c.approver,
                                  tickets.c.fulfilment_reference)).all()
    for row in rows:
        fields = {}
        if row.description:
            fields["description"] = row.description
        if row.amount is not None:
            fields["amount"] = _number(row.amount)
        fields["priority"] = row.priority
        status = UP_STATUS.get(row.status, row.status)
        attention = None
        entries = bind.execute(sa.select(history.c.id, history.c.action, history.c.to_status, history.c.comment,
                                         history.c.details)
                               .where(history.c.ticket_id == row.id).order_by(history.c.seq)).all()
        if status == "needs_attention":
            failed = [e for e in entries if e.to_status == "provisioning_failed"]
            last = failed[-1] if failed else None
            attention = ((last.details or {}).get("error") or last.comment if last else None) or "provisioning_failed"
        if row.fulfilment_reference:
            completed = [e for e in entries if e.action == "completed"]
            if completed and "reference" not in (completed[-1].details or {}):
                bind.execute(history.update().where(history.c.id == completed[-1].id)
                             .values(details={**(completed[-1].details or {}), "reference": row.fulfilment_reference}))
        bind.execute(tickets.update().where(tickets.c.id == row.id).values(
            type=DEFAULT_TYPE, fields=fields, status=status, last_editor=row.requester,
            deciders=[row.approver] if row.approver else [], attention=attention,
            search_text=_search_text(row.title, fields)))

    with op.batch_alter_table("tickets") as batch:
        batch.alter_column("type", existing_type=sa.String(64), nullable=False)
        batch.drop_column("description")
        batch.drop_column("amount")
        batch.drop_column("priority")
        batch.drop_column("approver")
        batch.drop_column("fulfilment_reference")
    op.create_index("ix_tickets_type_created", "tickets", ["type", "created_at", "id"])

    op.create_table(
        "ticket_steps",
        sa.Column("task_id", sa.String(64), nullable=False),
        sa.Column("ticket_id", sa.String(36), nullable=False),
        sa.Column("definition_key", sa.String(255), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("assignee", sa.String(150), nullable=True),
        sa.Column("due", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("is_decision", sa.Boolean(), nullable=False),
        sa.Column("four_eyes", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("requester", sa.String(150), nullable=False),
        sa.Column("last_editor", sa.String(150), nullable=True),
        sa.Column("ticket_type", sa.String(64), nullable=False),
        sa.Column("ticket_status", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("task_id", name="pk_ticket_steps"),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name="fk_ticket_steps_ticket_id_tickets",
                                ondelete="CASCADE"),
    )
    op.create_index("ix_ticket_steps_ticket", "ticket_steps", ["ticket_id"])
    op.create_index("ix_ticket_steps_assignee_created", "ticket_steps", ["assignee", "created_at", "task_id"])
    op.create_index("ix_ticket_steps_created", "ticket_steps", ["created_at", "task_id"])
    op.create_table(
        "ticket_step_candidates",
        sa.Column("task_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("name", sa.String(150), nullable=False),
        sa.PrimaryKeyConstraint("task_id", "kind", "name", name="pk_ticket_step_candidates"),
        sa.ForeignKeyConstraint(["task_id"], ["ticket_steps.task_id"],
                                name="fk_ticket_step_candidates_task_id_ticket_steps", ondelete="CASCADE"),
    )
    op.create_index("ix_ticket_step_candidates_kind_name", "ticket_step_candidates", ["kind", "name", "task_id"])
    op.create_table(
        "ticket_deciders",
        sa.Column("ticket_id", sa.String(36), nullable=False),
        sa.Column("username", sa.String(150), nullable=False),
        sa.PrimaryKeyConstraint("ticket_id", "username", name="pk_ticket_deciders"),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name="fk_ticket_deciders_ticket_id_tickets",
                                ondelete="CASCADE"),
    )
    deciders = [{"ticket_id": row.id, "username": row.approver} for row in rows if row.approver]
    if deciders:
        op.bulk_insert(deciders_table, deciders)


def downgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.select(tickets.c.id, tickets.c.type, tickets.c.status, tickets.c.fields,
                                  tickets.c.deciders)).all()
    blocked = [r.id for r in rows if r.type != DEFAULT_TYPE or r.status == "withdrawn"]
    if blocked:
        shown = ", ".join(blocked[:10]) + (" …" if len(blocked) > 10 else "")
        raise RuntimeError(
            f"Cannot downgrade below 0006_process_tickets: {len(blocked)} ticket(s) are of a type other than "
            f"{DEFAULT_TYPE!r} or withdrawn, which the older schema cannot hold ({shown}). Delete or export them "
            "first.")

    op.drop_table("ticket_deciders")
    op.drop_index("ix_ticket_step_candidates_kind_name", table_name="ticket_step_candidates")
    op.drop_table("ticket_step_candidates")
    op.drop_index("ix_ticket_steps_created", table_name="ticket_steps")
    op.drop_index("ix_ticket_steps_assignee_created", table_name="ticket_steps")
    op.drop_index("ix_ticket_steps_ticket", table_name="ticket_steps")
    op.drop_table("ticket_steps")
    op.drop_index("ix_tickets_type_created", table_name="tickets")
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("description", sa.Text(), nullable=False, server_default=sa.text("''")))
        batch.add_column(sa.Column("amount", sa.Numeric(14, 2), nullable=True))
        batch.add_column(sa.Column("priority", sa.String(16), nullable=False, server_default=sa.text("'normal'")))
        batch.add_column(sa.Column("approver", sa.String(150), nullable=True))
        batch.add_column(sa.Column("fulfilment_reference", sa.String(200), nullable=True))

    for row in rows:
        fields = row.fields or {}
        deciders = row.deciders or []
        status = row.status
        if status == "in_progress":
            # a decision was made: the manager approved and provisioning runs; else the approval is still open
            status = "approved" if deciders else "pending_approval"
        elif status == "needs_attention":
            status = "provisioning_failed"
        reference = None
        if status == "completed":
            completed = bind.execute(sa.select(history.c.details).where(
                history.c.ticket_id == row.id, history.c.action == "completed").order_by(history.c.seq.desc())
            ).first()
            reference = (completed.details or {}).get("reference") if completed else None
        amount = fields.get("amount")
        bind.execute(tickets.update().where(tickets.c.id == row.id).values(
            description=fields.get("description") or "", amount=None if amount is None else Decimal(str(amount)),
            priority=fields.get("priority") or "normal", approver=deciders[0] if deciders else None,
            fulfilment_reference=reference, status=status))

    with op.batch_alter_table("tickets") as batch:
        for name in ("search_text", "definition_id", "attention", "deciders", "last_editor", "current_steps",
                     "steps", "fields", "type"):
            batch.drop_column(name)
