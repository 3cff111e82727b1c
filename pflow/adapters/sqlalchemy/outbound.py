"""Deliveries, webhook endpoints, preferences and used e-mail links in the database (SQLite or PostgreSQL),
shared by every process: two consumers enqueueing one event add it once, two senders never take one
delivery at once."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from pflow.adapters.database.errors import translated_method as _translated
from pflow.adapters.sqlalchemy.tables import deliveries as D
from pflow.adapters.sqlalchemy.tables import email_links, notification_preferences, webhook_endpoints as W
from pflow.domain.outbound import HELD, PENDING, Delivery, Preferences, WebhookEndpoint
from pflow.ports.outbound import OutboundStore


_DELIVERY_FIELDS = ("id", "channel", "event_id", "target", "payload", "created_at", "next_attempt_at", "status",
                    "attempts", "sent_at", "last_error", "response_code", "latency_ms")
_ENDPOINT_FIELDS = ("id", "url", "secret", "event_types", "format", "description", "active",
                    "consecutive_failures", "disabled_reason", "created_at", "created_by")


def _delivery(row: Any) -> Delivery:
    return Delivery(**{f: getattr(row, f) for f in _DELIVERY_FIELDS})


def _delivery_values(d: Delivery) -> dict[str, Any]:
    return {f: getattr(d, f) for f in _DELIVERY_FIELDS}


def _endpoint(row: Any) -> WebhookEndpoint:
    values = {f: getattr(row, f) for f in _ENDPOINT_FIELDS}
    values["event_types"] = tuple(values["event_types"] or ())
    return WebhookEndpoint(**values)


def _endpoint_values(e: WebhookEndpoint) -> dict[str, Any]:
    values = {f: getattr(e, f) for f in _ENDPOINT_FIELDS}
    values["event_types"] = list(e.event_types)
    return values


class SqlAlchemyOutboundStore(OutboundStore):
    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    @_translated
    def enqueue(self, deliveries: list[Delivery]) -> int:
        added = 0
        for d in deliveries:  # one transaction each: a duplicate key aborts only its own insert
            try:
                with self._engine.begin() as conn:
                    exists = conn.execute(sa.select(D.c.id).where(D.c.channel == d.channel, D.c.event_id == d.event_id,
                                                                  D.c.target == d.target)).first()
                    if exists is None:
                        conn.execute(D.insert().values(**_delivery_values(d)))
                        added += 1
            except IntegrityError:
                continue  # another consumer added it at the same moment
        return added

    @_translated
    def claim_due(self, now: datetime, lease_until: datetime, limit: int,
                  channel: str | None = None) -> list[Delivery]:
        with self._engine.begin() as conn:
            query = (sa.select(D).where(D.c.status == PENDING, D.c.next_attempt_at <= now)
                     .order_by(D.c.next_attempt_at, D.c.created_at).limit(limit))
            if channel is not None:
                query = query.where(D.c.channel == channel)
            if conn.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            rows = conn.execute(query).all()
            claimed = []
            for row in rows:
                # the compare-and-set on next_attempt_at: on SQLite (no row locks) a second sender that read the
                # same row updates nothing and does not take it
                taken = conn.execute(D.update().where(D.c.id == row.id, D.c.status == PENDING,
                                                      D.c.next_attempt_at == row.next_attempt_at)
                                     .values(next_attempt_at=lease_until)).rowcount
                if taken:
                    claimed.append(Delivery(**{**_delivery_values(_delivery(row)), "next_attempt_at": lease_until}))
            return claimed

    @_translated
    def save(self, delivery: Delivery) -> None:
        values = _delivery_values(delivery)
        del values["id"]
        with self._engine.begin() as conn:
            conn.execute(D.update().where(D.c.id == delivery.id).values(**values))

    @_translated
    def get(self, delivery_id: str) -> Delivery | None:
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(D).where(D.c.id == delivery_id)).first()
        return _delivery(row) if row else None

    @_translated
    def deliveries(self, *, channel: str | None = None, target: str | None = None, status: str | None = None,
                   limit: int = 50) -> list[Delivery]:
        query = sa.select(D).order_by(D.c.created_at.desc(), D.c.id).limit(limit)
        if channel is not None:
            query = query.where(D.c.channel == channel)
        if target is not None:
            query = query.where(D.c.target == target)
        if status is not None:
            query = query.where(D.c.status == status)
        with self._engine.connect() as conn:
            return [_delivery(r) for r in conn.execute(query)]

    @_translated
    def held(self, until: datetime) -> dict[str, list[Delivery]]:
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(D).where(D.c.status == HELD, D.c.created_at < until)
                                .order_by(D.c.created_at, D.c.id)).all()
        by: dict[str, list[Delivery]] = {}
        for row in rows:
            by.setdefault(row.target, []).append(_delivery(row))
        return by

    @_translated
    def add_endpoint(self, endpoint: WebhookEndpoint) -> None:
        with self._engine.begin() as conn:
            conn.execute(W.insert().values(**_endpoint_values(endpoint)))

    @_translated
    def save_endpoint(self, endpoint: WebhookEndpoint) -> None:
        values = _endpoint_values(endpoint)
        del values["id"]
        with self._engine.begin() as conn:
            conn.execute(W.update().where(W.c.id == endpoint.id).values(**values))

    @_translated
    def endpoint(self, endpoint_id: str) -> WebhookEndpoint | None:
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(W).where(W.c.id == endpoint_id)).first()
        return _endpoint(row) if row else None

    @_translated
    def endpoints(self) -> list[WebhookEndpoint]:
        with self._engine.connect() as conn:
            return [_endpoint(r) for r in conn.execute(sa.select(W).order_by(W.c.created_at, W.c.id))]

    @_translated
    def remove_endpoint(self, endpoint_id: str) -> bool:
        with self._engine.begin() as conn:
            return conn.execute(W.delete().where(W.c.id == endpoint_id)).rowcount > 0

    @_translated
    def record_endpoint_result(self, endpoint_id: str, ok: bool, disable_after: int) -> WebhookEndpoint | None:
        with self._engine.begin() as conn:
            if ok:
                conn.execute(W.update().where(W.c.id == endpoint_id).values(consecutive_failures=0))
            else:
                # one statement: two senders failing at once both count
                conn.execute(W.update().where(W.c.id == endpoint_id)
                             .values(consecutive_failures=W.c.consecutive_failures + 1))
                row = conn.execute(sa.select(W.c.consecutive_failures).where(W.c.id == endpoint_id)).first()
                if row is not None and row.consecutive_failures >= disable_after:
                    conn.execute(W.update().where(W.c.id == endpoint_id, W.c.active == sa.true())
                                 .values(active=False,
                                         disabled_reason=f"{row.consecutive_failures} deliveries in a row failed"))
            row = conn.execute(sa.select(W).where(W.c.id == endpoint_id)).first()
        return _endpoint(row) if row else None

    @_translated
    def preferences(self, username: str) -> Preferences:
        with self._engine.connect() as conn:
            raw = conn.execute(sa.select(notification_preferences.c.preferences)
                               .where(notification_preferences.c.username == username)).scalar()
        return Preferences.from_dict(raw)

    @_translated
    def set_preferences(self, username: str, preferences: Preferences) -> None:
        T = notification_preferences
        for attempt in range(3):
            try:
                with self._engine.begin() as conn:
                    done = conn.execute(T.update().where(T.c.username == username)
                                        .values(preferences=preferences.to_dict())).rowcount
                    if not done:
                        conn.execute(T.insert().values(username=username, preferences=preferences.to_dict()))
                return
            except IntegrityError:
                if attempt == 2:
                    raise

    @_translated
    def use_link(self, link_id: str, used_at: datetime, used_by: str) -> bool:
        try:
            with self._engine.begin() as conn:
                conn.execute(email_links.insert().values(link_id=link_id, used_at=used_at, used_by=used_by))
            return True
        except IntegrityError:
            return False

    @_translated
    def link_used(self, link_id: str) -> bool:
        with self._engine.connect() as conn:
            return conn.execute(sa.select(email_links.c.link_id).where(email_links.c.link_id == link_id)).first() \
                is not None

    @_translated
    def check(self) -> None:
        with self._engine.connect() as conn:
            conn.execute(sa.select(1))
