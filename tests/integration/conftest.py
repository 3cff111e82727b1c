from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.support import RABBITMQ_URL, pg_url, require_postgres, require_rabbitmq
from tests.tcp_proxy import TcpProxy


@pytest.fixture
def rabbit_proxy():
    """RabbitMQ behind a proxy the test can cut (broker 'down') and restore."""
    require_rabbitmq()
    target = urlsplit(RABBITMQ_URL)
    proxy = TcpProxy(target.hostname or "localhost", target.port or 5672)
    yield proxy
    proxy.close()


@pytest.fixture
def postgres_proxy():
    """PostgreSQL behind a proxy the test can cut (database 'down') and restore."""
    require_postgres()
    from sqlalchemy.engine import make_url

    target = make_url(pg_url())
    proxy = TcpProxy(target.host or "localhost", target.port or 5432)
    yield proxy
    proxy.close()
