"""`pflow consume` as a real process on RabbitMQ + PostgreSQL, e-mailing through a real SMTP server
(tests/notify/smtp_server.py), SIGKILLed while events are still arriving and started again: each expected
e-mail arrives exactly once, none is missing.

The test process is the service: it creates and submits tickets in the database and relays their events to
RabbitMQ; only the consumer processes turn them into deliveries and send them. The SMTP server is down while
the first consumer dies, so no mail can be accepted by the server without being recorded as sent; the
deliveries the dead consumer had claimed are due again after PFLOW_DELIVERY_LEASE_S."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa
from werkzeug.security import generate_password_hash

from pflow.config import REPO_ROOT
from pflow.container import build_container, migrate_database, shutdown
from pflow.domain.outbound import EMAIL, SENT
from tests.notify.smtp_server import SmtpServer
from tests.support import (RABBITMQ_URL, TEST_USERS, delete_rabbitmq_topology, pg_url, require_postgres,
                           require_rabbitmq, settings_for, wait_until)

pytestmark = pytest.mark.integration

DATABASE = "pflow_notify_consumer_restart"
SECRET = "consumer-restart-secret-0123456789-abcdefghij"
LEASE_S = 3
MANAGERS = ("bob@example.com", "dave@example.com", "frank@example.com")


def _own_database() -> str:
    """A database of this test's own, made empty: other test runs use the shared test database."""
    url = sa.engine.make_url(pg_url())
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                 "WHERE datname = :db AND pid <> pg_backend_pid()"), {"db": DATABASE})
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{DATABASE}"'))
            conn.execute(sa.text(f'CREATE DATABASE "{DATABASE}"'))
    finally:
        admin.dispose()
    return url.set(database=DATABASE).render_as_string(hide_password=False)


def _users_file(path: Path) -> Path:
    path.write_text(json.dumps([{"username": u.username, "display_name": u.display_name, "roles": list(u.roles),
                                 "groups": list(u.groups), "email": u.email, "language": u.language,
                                 "password_hash": generate_password_hash(u.username, "pbkdf2:sha256:1000")}
                                for u in TEST_USERS.list_users()]))
    return path


class Consumer:
    """``pflow consume`` in a child process, its output in a file."""

    def __init__(self, name: str, env: dict[str, str], log: Path) -> None:
        self.name, self.log = name, log
        self.process = subprocess.Popen([sys.executable, "-m", "pflow.entrypoints.cli", "consume"], cwd=REPO_ROOT,
                                        env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
                                        stdout=log.open("a"), stderr=subprocess.STDOUT)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def wait_ready(self, timeout: float = 30) -> None:
        def ready():
            if self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.process.returncode}:\n{self.output()[-3000:]}")
            return "Consuming" in self.output()

        wait_until(ready, timeout, 0.05, f"{self.name} did not start:\n{self.output()[-3000:]}")

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> int | None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.process.returncode


@pytest.fixture
def setup(tmp_path):
    require_postgres()
    require_rabbitmq()
    database_url = _own_database()
    suffix = uuid.uuid4().hex[:8]
    exchange, queue = f"test.notify.restart.{suffix}", f"test.notify.restart.queue.{suffix}"
    smtp = SmtpServer().start()
    settings = settings_for("postgres", tmp_path, database_url=database_url, rabbitmq_url=RABBITMQ_URL,
                            rabbitmq_exchange=exchange, rabbitmq_queue=queue, secret_key=SECRET,
                            smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_security="none",
                            public_url="https://pflow.test")
    service = build_container(settings)
    service.users.override(TEST_USERS)
    migrate_database(service)
    from pflow.entrypoints.runtime import deploy_processes

    deploy_processes(service)
    env = {"WORKFLOW_ENGINE": "memory", "DATABASE_URL": database_url, "RABBITMQ_URL": RABBITMQ_URL,
           "RABBITMQ_TICKET_EXCHANGE": exchange, "RABBITMQ_TICKET_QUEUE": queue,
           "PFLOW_USERS_FILE": str(_users_file(tmp_path / "users.json")), "PFLOW_DEMO_USERS": "0",
           "PFLOW_SECRET_KEY": SECRET, "PFLOW_DATA_DIR": str(tmp_path / "data"),
           "PFLOW_WORKFLOWS_DIR": str(settings.workflows_dir),
           "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp.port), "SMTP_SECURITY": "none", "SMTP_TIMEOUT_S": "2",
           "PFLOW_PUBLIC_URL": "https://pflow.test", "PFLOW_DELIVERY_RETRY_BASE_S": "1",
           "PFLOW_DELIVERY_RETRY_MAX_S": "2", "PFLOW_DELIVERY_LEASE_S": str(LEASE_S)}
    consumers: list[Consumer] = []

    def consumer(name: str) -> Consumer:
        c = Consumer(name, env, tmp_path / f"{name}.log")
        consumers.append(c)
        c.wait_ready()
        return c

    try:
        yield service, smtp, consumer
    finally:
        for c in consumers:
            c.kill()
        shutdown(service)
        smtp.close()
        delete_rabbitmq_topology(exchange, queue)


def _submit(service, n: int, label: str) -> list[str]:
    """``n`` purchase requests submitted by alice (each mails bob, dave and frank); their events relayed."""
    tickets, alice = service.tickets(), TEST_USERS.get("alice")
    ids = []
    for i in range(n):
        ticket = tickets.create(alice, {"type": "purchase_request", "title": f"{label} {i}",
                                        "fields": {"amount": 5000, "supplier": "ACME"}})
        tickets.submit(alice, ticket.id)
        ids.append(ticket.id)
    service.relay().drain()
    return ids


def _emails(service):
    return service.outbound_store().deliveries(channel=EMAIL, limit=10_000)


def test_a_consumer_killed_mid_way_and_started_again_mails_everyone_exactly_once(setup):
    service, smtp, consumer = setup
    started = time.monotonic()
    first = consumer("consumer-1")

    # while all is well: the first tickets' mails go out
    early = _submit(service, 2, "Early")
    wait_until(lambda: len(smtp.received) >= 6, 20, message=f"early mails: {len(smtp.received)}\n"
                                                            f"{first.output()[-3000:]}")
    wait_until(lambda: {d.status for d in _emails(service)} == {SENT}, 10)

    # the SMTP server goes down; more tickets come; the consumer dies while their events are still arriving
    smtp.stop()
    late = _submit(service, 6, "Late")
    wait_until(lambda: len(_emails(service)) > 6, 20,
               message=f"the consumer handled none of the late events:\n{first.output()[-3000:]}")
    first.kill()
    handled_before_kill = len(_emails(service)) - 6
    print(f"consumer-1 killed with {handled_before_kill} of {3 * len(late)} late deliveries added")
    # nothing reached the server while it was down
    assert len(smtp.received) == 6

    # the server comes back; a new consumer takes over the events the dead one had not acknowledged
    smtp.start()
    second = consumer("consumer-2")
    expected = 3 * (len(early) + len(late))
    wait_until(lambda: len(smtp.received) >= expected, 30,
               message=f"{len(smtp.received)} of {expected} mails arrived:\n{second.output()[-3000:]}")
    wait_until(lambda: {d.status for d in _emails(service)} == {SENT}, 15,
               message=f"{Counter(d.status for d in _emails(service))}")
    time.sleep(LEASE_S + 1)  # a mail sent twice would come by now (the dead consumer's leases ran out)

    got = smtp.received
    assert len(got) == expected, Counter(r.message_id for r in got).most_common(3)
    assert len({r.message_id for r in got}) == expected
    titles = Counter((r.to, r.subject.split("\u201c")[-1].split("\u201d")[0]) for r in got)
    wanted = {(to, f"{label} {i}") for label, ids in (("Early", early), ("Late", late))
              for i in range(len(ids)) for to in MANAGERS}
    assert set(titles) == wanted and set(titles.values()) == {1}
    deliveries = _emails(service)
    assert len(deliveries) == expected and all(d.status == SENT for d in deliveries)
    assert second.stop() == 0
    assert time.monotonic() - started < 60
