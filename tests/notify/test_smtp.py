"""E-mail against a real SMTP server (aiosmtpd, tests/notify/smtp_server.py): SmtpMailer's plain, STARTTLS and
login paths, the whole event path from a submitted ticket to the messages the server received, and the faults:
an SMTP server that is down loses nothing, a consumer or sender that runs twice sends nothing twice."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter

import pytest

from pflow.adapters.mail.smtp import SmtpMailer
from pflow.container import build_container, shutdown
from pflow.domain.outbound import EMAIL, FAILED, PENDING, SENT, Preferences
from pflow.entrypoints.http.app import create_app
from pflow.ports.events import ReceivedMessage
from pflow.ports.outbound import DeliveryFailed, EmailMessage
from tests.conftest import ApiClient
from tests.notify.smtp_server import SmtpServer, smtp_server  # noqa: F401 - a fixture
from tests.support import TEST_USERS, build_stack

MANAGERS = {"bob@example.com", "dave@example.com", "frank@example.com"}


def _message(to: str = "someone@example.com", **kw) -> EmailMessage:
    values = dict(to=to, subject="Ticket \u201cServers\u201d", text="Plain text", html="<p>HTML</p>",
                  message_id="<d-1@pflow>", language="en")
    return EmailMessage(**{**values, **kw})


@pytest.fixture
def smtp(smtp_server):
    return smtp_server


# ------------------------------------------------------------------------------------------------ SmtpMailer

def test_a_plain_local_relay_receives_the_message_with_both_parts(smtp):
    mailer = SmtpMailer("127.0.0.1", smtp.port, sender="PFlow <pflow@example.com>", security="none")
    mailer.send(_message(language="zh", subject="\u5f85\u529e\uff1aServers", headers={"X-PFlow-Event": "e-1"}))
    [got] = smtp.wait_for(1)
    assert got.rcpt_tos == ["someone@example.com"] and got.mail_from == "pflow@example.com"
    assert got.subject == "\u5f85\u529e\uff1aServers"
    assert got.message_id == "<d-1@pflow>"
    assert got.language == "zh-CN"  # on the message itself, not only on its first part
    assert got.message["X-PFlow-Event"] == "e-1" and got.message["Auto-Submitted"] == "auto-generated"
    assert got.text.strip() == "Plain text" and got.html.strip() == "<p>HTML</p>"
    assert not got.tls and got.authenticated_as is None


def test_starttls_and_login_are_used_for_real():
    with SmtpServer(starttls=True, auth=("pflow", "s3cret")) as server:
        mailer = SmtpMailer("127.0.0.1", server.port, sender="pflow@example.com", security="starttls",
                            username="pflow", password="s3cret", context=server.client_context())
        mailer.send(_message())
        [got] = server.wait_for(1)
        assert got.tls and got.authenticated_as == "pflow"
        assert got.language == "en"


def test_a_server_requiring_starttls_refuses_a_plain_client():
    with SmtpServer(starttls=True, auth=("pflow", "s3cret")) as server:
        mailer = SmtpMailer("127.0.0.1", server.port, sender="pflow@example.com", security="none",
                            username="pflow", password="s3cret")
        with pytest.raises(DeliveryFailed):
            mailer.send(_message())
        assert server.received == []


def test_an_untrusted_certificate_is_refused():
    with SmtpServer(starttls=True) as server:
        mailer = SmtpMailer("127.0.0.1", server.port, sender="pflow@example.com", security="starttls")
        with pytest.raises(DeliveryFailed, match="not reachable or failed"):
            mailer.send(_message())  # the default context does not trust the self-signed certificate
        assert server.received == []


def test_a_wrong_password_names_the_settings_to_check():
    with SmtpServer(starttls=True, auth=("pflow", "s3cret")) as server:
        mailer = SmtpMailer("127.0.0.1", server.port, sender="pflow@example.com", security="starttls",
                            username="pflow", password="wrong", context=server.client_context())
        with pytest.raises(DeliveryFailed) as failed:
            mailer.send(_message())
        assert "SMTP_USERNAME" in str(failed.value) and "SMTP_PASSWORD" in str(failed.value)
        assert "wrong" not in str(failed.value)
        assert server.received == [] and server.auth_failures >= 1  # smtplib tries PLAIN, then LOGIN


def test_a_server_that_is_down_is_not_reachable(smtp):
    smtp.stop()
    mailer = SmtpMailer("127.0.0.1", smtp.port, sender="pflow@example.com", security="none", timeout_s=2)
    with pytest.raises(DeliveryFailed, match="not reachable"):
        mailer.send(_message())
    smtp.start()  # the same port again
    mailer.send(_message())
    assert len(smtp.wait_for(1)) == 1


# ------------------------------------------------------------------------------------------------ the event path

def _stack(kind, tmp_path, smtp, **overrides):
    values = dict(smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_security="none", smtp_timeout_s=2,
                  public_url="https://pflow.test", delivery_retry_base_s=1)
    stack = build_stack(kind, tmp_path, **{**values, **overrides})
    # the sender's "now" is the stack's clock: a test moves time on to the next attempt instead of sleeping
    stack.container.delivery_sender.add_kwargs(clock=stack.clock.now)
    stack.container.digest.add_kwargs(clock=stack.clock.now)
    return stack


@pytest.fixture(params=["memory", "sqlite"])
def mail_stack(request, tmp_path, smtp):
    stack = _stack(request.param, tmp_path, smtp)
    stack.api = ApiClient(create_app(stack.container))
    yield stack
    stack.close()


def _submit(stack, title: str = "Servers", requester: str = "alice") -> str:
    r = stack.api.post("/api/tickets", requester, json={"type": "purchase_request", "title": title,
                                                        "fields": {"amount": 5000, "supplier": "ACME"}})
    assert r.status_code == 201, r.json
    assert stack.api.post(f"/api/tickets/{r.json['id']}/submit", requester).status_code == 200
    return r.json["id"]


def _send_all(stack) -> int:
    sender = stack.container.delivery_sender()
    total = 0
    while n := sender.send_due():
        total += n
    return total


def _emails(stack, **kw):
    return stack.container.outbound_store().deliveries(channel=EMAIL, limit=1000, **kw)


def test_a_submitted_purchase_request_mails_each_manager_in_their_language(mail_stack, smtp):
    stack = mail_stack
    ticket_id = _submit(stack, title="<script>alert(1)</script> Servers")
    stack.deliver_events()
    assert _send_all(stack) == 3
    by = {r.to: r for r in smtp.wait_for(3)}
    assert set(by) == MANAGERS and len(smtp.received) == 3
    bob, dave = by["bob@example.com"], by["dave@example.com"]
    assert bob.language == "en" and "Manager Approval" in bob.subject
    assert dave.language == "zh-CN" and "\u5f85\u529e" in dave.subject  # dave reads Chinese
    for got in by.values():
        assert got.message["X-PFlow-Kind"] == "task.created"
        assert f"https://pflow.test/tickets/{ticket_id}" in got.text
        links = sorted(set(w for w in got.text.split() if w.startswith("https://pflow.test/email-actions/")))
        assert len(links) == 2, got.text
        views = [stack.container.email_actions().inspect(link.rsplit("/", 1)[1]) for link in links]
        assert sorted(v.decision for v in views) == ["approve", "reject"]  # one link each, for this recipient
        assert {v.problem for v in views} == {None}
        assert {v.user.email for v in views} == {got.to} and {v.ticket.id for v in views} == {ticket_id}
        for link in links:
            assert link in got.html
        # the title is text in the HTML part, never markup
        assert "<script>" not in got.html and "&lt;script&gt;alert(1)&lt;/script&gt;" in got.html
    assert len({r.message_id for r in by.values()}) == 3
    assert all(d.status == SENT for d in _emails(stack))


def test_nothing_is_lost_while_the_smtp_server_is_down(mail_stack, smtp):
    stack = mail_stack
    smtp.stop()
    _submit(stack, "First")
    _submit(stack, "Second")
    stack.deliver_events()
    assert _send_all(stack) == 6  # six attempts, all failed
    pending = _emails(stack)
    assert len(pending) == 6
    for d in pending:
        assert d.status == PENDING and d.attempts == 1 and "not reachable" in d.last_error
    stack.clock.advance(1.5)
    assert _send_all(stack) == 6  # still down: a second attempt each, the next one later
    assert {d.attempts for d in _emails(stack)} == {2}
    smtp.start()
    assert _send_all(stack) == 0  # not due yet: the backoff is kept
    stack.clock.advance(2.5)
    assert _send_all(stack) == 6
    got = smtp.wait_for(6)
    stack.clock.advance(3600)
    assert _send_all(stack) == 0
    assert len(smtp.received) == 6
    assert Counter(r.to for r in got) == Counter({a: 2 for a in MANAGERS})
    assert len({r.message_id for r in got}) == 6
    assert {d.status for d in _emails(stack)} == {SENT}
    titles = sorted(("First" in r.subject) for r in got)
    assert titles == [False] * 3 + [True] * 3


def test_a_user_with_no_address_gets_no_email(tmp_path, smtp):
    stack = _stack("sqlite", tmp_path, smtp)
    try:
        records = [{"username": u.username, "display_name": u.display_name, "roles": list(u.roles),
                    "groups": list(u.groups), "email": None if u.username == "frank" else u.email,
                    "language": u.language, "password_hash": "x"} for u in TEST_USERS.list_users()]
        from pflow.adapters.users import ConfiguredUserDirectory

        stack.container.users.override(ConfiguredUserDirectory(records))
        ticket = stack.tickets.create(TEST_USERS.get("alice"), {"type": "purchase_request", "title": "Servers",
                                                                "fields": {"amount": 5000, "supplier": "ACME"}})
        stack.tickets.submit(TEST_USERS.get("alice"), ticket.id)
        stack.deliver_events()
        assert sorted(d.target for d in _emails(stack)) == ["bob", "dave"]
        _send_all(stack)
        assert {r.to for r in smtp.wait_for(2)} == {"bob@example.com", "dave@example.com"}
    finally:
        stack.close()


def test_a_delivery_failing_max_attempts_times_ends_failed_and_is_logged(tmp_path, smtp, caplog):
    stack = _stack("sqlite", tmp_path, smtp, delivery_max_attempts=3)
    stack.api = ApiClient(create_app(stack.container))
    try:
        smtp.stop()
        _submit(stack)
        stack.deliver_events()
        with caplog.at_level(logging.INFO, logger="pflow.service.outbound"):
            for _ in range(5):
                _send_all(stack)
                stack.clock.advance(60)
        deliveries = _emails(stack)
        assert len(deliveries) == 3
        assert all(d.status == FAILED and d.attempts == 3 and "not reachable" in d.last_error for d in deliveries)
        giving_up = [r for r in caplog.records if r.levelno == logging.ERROR and "giving up" in r.getMessage()]
        assert len(giving_up) == 3
        smtp.start()
        stack.clock.advance(3600)
        assert _send_all(stack) == 0 and smtp.received == []  # a failed delivery is not tried again
    finally:
        stack.close()


def test_a_digest_reader_gets_one_mail_listing_the_items(mail_stack, smtp):
    stack = mail_stack
    stack.container.preferences().set_own("bob", Preferences(digest=True))
    _submit(stack, "First")
    _submit(stack, "Second")
    stack.deliver_events()
    _send_all(stack)
    got = smtp.wait_for(4)
    assert "bob@example.com" not in {r.to for r in got} and len(got) == 4
    digest = stack.container.digest()
    assert digest.gather(force=True) == 1
    _send_all(stack)
    got = smtp.wait_for(5)
    [mail] = smtp.to("bob@example.com")
    assert mail.message["X-PFlow-Kind"] == "digest"
    assert "First" in mail.text and "Second" in mail.text and "First" in mail.html and "Second" in mail.html
    stack.clock.advance(1)
    assert digest.gather(force=True) == 0
    stack.clock.advance(3600)
    assert _send_all(stack) == 0 and len(smtp.received) == 5


# ------------------------------------------------------------------------------------------------ run twice

def _second_container(stack):
    """Another process on the same database: its own engine, sessions and sender."""
    container = build_container(stack.settings)
    container.users.override(TEST_USERS)
    container.delivery_sender.add_kwargs(clock=stack.clock.now)
    return container


SQL = [pytest.param("sqlite", id="sqlite"), pytest.param("postgres", id="postgres", marks=pytest.mark.integration)]


@pytest.mark.parametrize("kind", SQL)
def test_a_redelivered_event_in_a_restarted_consumer_adds_no_delivery(kind, tmp_path, smtp):
    stack = _stack(kind, tmp_path, smtp)
    stack.api = ApiClient(create_app(stack.container))
    other = _second_container(stack)
    try:
        ticket_id = _submit(stack)
        stack.deliver_events()
        before = _emails(stack)
        assert len(before) == 3
        bodies = [body for _, body, _ in stack.container.event_publisher().messages]
        assert bodies
        notifications = other.notifications()
        for body in bodies:  # every event once more, as a broker redelivers after a consumer died
            assert notifications.handle(ReceivedMessage(body["type"], dict(body), body["event_id"])) == 0
        # and a consumer that died after adding the deliveries but before recording the event as processed
        ticket = other.tickets().get(TEST_USERS.get("alice"), ticket_id)
        for body in bodies:
            notes = notifications.notifications_for(body, ticket) if body["type"] == "task.created" else []
            assert other.outbound().dispatch(body, ticket, notes) == 0
        assert sorted(d.id for d in _emails(stack)) == sorted(d.id for d in before)
        assert _send_all(stack) == 3
        assert len(smtp.wait_for(3)) == 3
    finally:
        shutdown(other)
        stack.close()


def _concurrent_senders(kind, tmp_path, smtp, tickets: int = 4):
    stack = _stack(kind, tmp_path, smtp)
    stack.container.delivery_sender.add_kwargs(batch=1)  # one attempt per call: the two take turns at the claim
    stack.api = ApiClient(create_app(stack.container))
    other = _second_container(stack)
    other.delivery_sender.add_kwargs(batch=1)
    try:
        for i in range(tickets):
            _submit(stack, f"Ticket {i}")
        stack.deliver_events()
        expected = 3 * tickets
        assert len(_emails(stack)) == expected
        start = threading.Barrier(2)
        errors: list[BaseException] = []
        attempts = Counter()

        def run(name, sender):
            try:
                start.wait()
                while n := sender.send_due():
                    attempts[name] += n
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(n, c.delivery_sender()))
                   for n, c in (("a", stack.container), ("b", other))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors, errors
        got = smtp.wait_for(expected)
        ids = Counter(r.message_id for r in got)
        assert len(got) == expected and all(n == 1 for n in ids.values()), ids.most_common(3)
        assert sum(attempts.values()) == expected  # no delivery attempted twice
        assert {d.status for d in _emails(stack)} == {SENT}
        return attempts
    finally:
        shutdown(other)
        stack.close()


def test_two_senders_on_one_sqlite_database_send_each_mail_once(tmp_path, smtp):
    _concurrent_senders("sqlite", tmp_path, smtp)


@pytest.mark.integration
def test_two_senders_on_one_postgres_database_send_each_mail_once(tmp_path, smtp):
    _concurrent_senders("postgres", tmp_path, smtp)


def test_without_smtp_host_no_email_is_enqueued(tmp_path, smtp):
    stack = build_stack("sqlite", tmp_path, public_url="https://pflow.test")
    stack.api = ApiClient(create_app(stack.container))
    try:
        assert stack.container.mailer() is None
        _submit(stack)
        stack.deliver_events()
        assert _emails(stack) == []
        assert stack.container.delivery_sender().send_due() == 0 and smtp.received == []
    finally:
        stack.close()


def test_the_container_mailer_uses_the_smtp_settings(tmp_path, smtp):
    stack = _stack("memory", tmp_path, smtp)
    try:
        mailer = stack.container.mailer()
        assert isinstance(mailer, SmtpMailer) and mailer.port == smtp.port
        mailer.send(_message("carol@example.com"))
        assert smtp.wait_for(1)[0].to == "carol@example.com"
    finally:
        stack.close()



@pytest.mark.parametrize("kind", SQL)
def test_a_slow_server_does_not_make_two_senders_send_one_mail_twice(kind, tmp_path, smtp):
    """Each attempt starts well within its own lease: a sender still busy with earlier mails when the lease of
    a later one would run out does not hold that one meanwhile, so another sender never takes it too."""
    stack = _stack(kind, tmp_path, smtp, delivery_lease_s=1)
    stack.api = ApiClient(create_app(stack.container))
    other = _second_container(stack)
    try:
        for i in range(3):
            _submit(stack, f"Ticket {i}")
        stack.deliver_events()
        assert len(_emails(stack)) == 9
        smtp.delay_s = 0.3  # nine mails take 2.7 s, more than twice the lease
        errors: list[BaseException] = []

        def run(sender):
            try:
                deadline = time.monotonic() + 20
                while time.monotonic() < deadline and any(d.status != SENT for d in _emails(stack)):
                    if not sender.send_due():
                        time.sleep(0.05)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(c.delivery_sender(),)) for c in (stack.container, other)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert not errors, errors
        got = smtp.wait_for(9)
        time.sleep(0.5)
        ids = Counter(r.message_id for r in smtp.received)
        assert len(smtp.received) == 9 and set(ids.values()) == {1}, ids.most_common(3)
    finally:
        shutdown(other)
        stack.close()


def test_the_lease_is_a_setting_the_sender_uses(tmp_path):
    from pflow.config import Settings

    assert Settings.from_env({}).delivery_lease_s == 60
    assert Settings.from_env({"PFLOW_DELIVERY_LEASE_S": "7"}).delivery_lease_s == 7
    with SmtpServer() as server:
        stack = _stack("memory", tmp_path, server, delivery_lease_s=7)
        try:
            store, sender = stack.container.outbound_store(), stack.container.delivery_sender()
            claimed = []
            original = store.claim_due
            store.claim_due = lambda now, until, limit, channel=None: claimed.append(until - now) or original(
                now, until, limit, channel)
            sender.send_due()
            assert claimed and claimed[0].total_seconds() == 7
        finally:
            stack.close()
