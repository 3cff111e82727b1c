"""Column types that give the domain back exactly what it stored, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import DateTime, Numeric, String
from sqlalchemy.types import TypeDecorator

CENT = Decimal("0.01")


class UtcDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes. PostgreSQL keeps them as ``timestamptz``; SQLite has no
    time zones, so they are stored as naive UTC and made aware again on the way out."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"refusing to store a naive datetime {value!r}: domain times are UTC-aware")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, str):  # raw SQLite text (e.g. from a Core query without type info)
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


class Money(TypeDecorator):
    """Decimal amounts with two places. PostgreSQL stores NUMERIC(14, 2); SQLite gets the
    decimal text (its NUMERIC affinity keeps 14 significant digits exactly) so no float rounding
    happens in the driver."""

    impl = Numeric(14, 2)
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(32))
        return dialect.type_descriptor(Numeric(14, 2, asdecimal=True))

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        value = Decimal(value).quantize(CENT)
        return str(value) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return Decimal(str(value)).quantize(CENT)


class StrEnumType(TypeDecorator):
    """A ``StrEnum`` stored as its value in a VARCHAR (no database enum type to migrate)."""

    impl = String(32)
    cache_ok = True

    def __init__(self, enum_cls: type[StrEnum], length: int = 32):
        super().__init__(length)
        self.enum_cls = enum_cls

    def process_bind_param(self, value, dialect):
        return None if value is None else self.enum_cls(value).value

    def process_result_value(self, value, dialect):
        return None if value is None else self.enum_cls(value)
