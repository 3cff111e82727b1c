"""The decide-from-e-mail pages (GET /email-actions/<token> confirms, POST decides) on the in-memory and SQL
stacks: no login or CSRF header needed (the signed token is the credential), GET never acts, a decision runs
every check the API makes, and a link works once (with its pair) and only while it has not expired."""

from __future__ import annotations

import logging
import re
from html import unescape

import pytest
from dependency_injector import providers

from pflow.adapters.memory.outbound import RecordingMailer, RecordingWebhookTransport
from pflow.domain.events import check_message
from pflow.entrypoints.http.app import create_app
from tests.conftest import ApiClient
from tests.support import build_stack


@pytest.fixture(params=["memory", "sqlite"])
def notify_stack(request, tmp_path):
    stack = build_stack(request.param, tmp_path, smtp_host="smtp.test", smtp_security="none", smtp_port=25,
                        public_url="https://pflow.test")
    mailer = RecordingMailer()
    stack.container.mailer.override(providers.Object(mailer))
    stack.container.webhook_transport.override(providers.Object(RecordingWebhookTransport()))
    stack.mailer = mailer
    yield stack
    stack.close()


@pytest.fixture
def api(notify_stack):
    return ApiClient(create_app(notify_stack.container))


def _flush(stack) -> None:
    stack.deliver_events()
    sender = stack.container.delivery_sender()
    while sender.send_due():
        pass


def _purchase(api, title="Servers", requester="alice"):
    r = api.post("/api/tickets", requester, json={"type": "purchase_request", "title": title,
                                                "fields": {"amount": 5000, "supplier": "ACME"}})
    assert r.status_code == 201, r.json
    ticket_id = r.json["id"]
    r = api.post(f"/api/tickets/{ticket_id}/submit", requester)
    assert r.status_code == 200, r.json
    return ticket_id, r.json["steps"][0]["id"]


def _links(stack, user, ticket_id, task_id):
    """The approve/reject tokens of one e-mail to ``user`` (as the mail sender makes them)."""
    return stack.container.email_actions().link_pair(user, ticket_id, task_id)


def _text(response) -> str:
    """The page's visible text, tags removed, whitespace collapsed."""
    body = response.get_data(as_text=True)
    body = re.sub(r"<(script|style|head)\b.*?</\1>", " ", body, flags=re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", body)).split())


def _ticket(api, ticket_id):
    ticket = api.get(f"/api/tickets/{ticket_id}", "carol").json
    ticket["history"] = api.get(f"/api/tickets/{ticket_id}/history", "carol").json
    return ticket


def _page(api, token, **kw):
    return api.client.get(f"/email-actions/{token}", **kw)


def _confirm(api, token, comment=None, **kw):
    data = {} if comment is None else {"comment": comment}
    return api.client.post(f"/email-actions/{token}", data=data, **kw)


def test_the_mailed_link_opens_a_confirmation_page_that_changes_nothing(api, notify_stack):
    ticket_id, task = _purchase(api)
    _flush(notify_stack)
    mail = next(m for m in notify_stack.mailer.sent if m.to == "bob@example.com")
    approve = re.search(r"https://pflow\.test(/email-actions/[^\s\"<>]+)", mail.text).group(1)
    before = _ticket(api, ticket_id)
    r = api.client.get(approve)
    assert r.status_code == 200
    text = _text(r)
    assert "Approve this step?" in text and "Servers" in text and "Manager Approval" in text
    assert "Alice" in text  # the requester
    assert "Confirm: approve" in text and "Comment (optional)" in text
    assert 'method="post"' in r.get_data(as_text=True) and 'name="comment"' in r.get_data(as_text=True)
    assert 'maxlength="2000"' in r.get_data(as_text=True)  # what a comment may hold
    assert "https://pflow.test/tickets/" + ticket_id in r.get_data(as_text=True)
    # the token is in the address: never stored, never passed on; styles come from a file the CSP allows
    assert r.headers["Cache-Control"] == "no-store" and r.headers["Referrer-Policy"] == "no-referrer"
    assert "script-src 'self'" in r.headers["Content-Security-Policy"]
    assert "<script" not in r.get_data(as_text=True) and "style=" not in r.get_data(as_text=True)
    css = api.client.get("/email-actions/page.css")
    assert css.status_code == 200 and css.mimetype == "text/css" and ".card" in css.get_data(as_text=True)
    # looking twice (a mail scanner, the reader) decides nothing
    assert api.client.get(approve).status_code == 200
    after = _ticket(api, ticket_id)
    assert after["status"] == before["status"] and after["history"] == before["history"]
    assert [s["id"] for s in after["steps"]] == [task]


def test_confirming_approves_the_step_as_the_recipient_via_email(api, notify_stack, caplog):
    ticket_id, task = _purchase(api)
    links = _links(notify_stack, "bob", ticket_id, task)
    with caplog.at_level(logging.INFO, logger="pflow.audit"):
        r = _confirm(api, links["approve"], "fine by me")
    assert r.status_code == 200, _text(r)
    assert "Approved" in _text(r) and "You approved Manager Approval of \u201cServers\u201d." in _text(r)
    assert r.headers["Cache-Control"] == "no-store"
    assert f"https://pflow.test/tickets/{ticket_id}" in r.get_data(as_text=True)
    assert f"https://pflow.test/tasks/{task}" not in r.get_data(as_text=True)  # that step is done
    ticket = _ticket(api, ticket_id)
    assert [s["name"] for s in ticket["steps"]] == ["Finance Approval"]
    (entry,) = [h for h in ticket["history"] if h["actor"] == "bob"]
    assert entry["comment"] == "fine by me" and entry["details"]["via"] == "email"
    audit = [rec.audit for rec in caplog.records if getattr(rec, "audit", None)]
    assert [a["event"] for a in audit] == ["email_action.decided"]
    assert audit[0]["username"] == "bob" and audit[0]["ticket_id"] == ticket_id and audit[0]["decision"] == "approve"
    assert links["approve"] not in caplog.text  # the credential is not logged
    # the event says so too, within the event contract (a real broker's consumer drops what breaks it)
    with notify_stack.container.uow() as uow:
        (event,) = [m.body for m in uow.outbox.pending(1000) if m.body["type"] == "task.completed"]
    check_message(event)
    assert event["data"]["via"] == "email" and event["actor"] == "bob"


def test_no_login_and_no_csrf_header_are_needed_even_with_a_session_cookie(api, notify_stack):
    ticket_id, task = _purchase(api)
    links = _links(notify_stack, "dave", ticket_id, task)
    browser = api.app.test_client()  # keeps cookies, like a browser logged in as someone else
    assert browser.post("/api/auth/login", json={"username": "alice", "password": "alice"}).status_code == 200
    r = browser.post(f"/email-actions/{links['approve']}", data={"comment": ""})
    assert r.status_code == 200, _text(r)
    assert "已批准" in _text(r)  # dave reads Chinese
    (entry,) = [h for h in _ticket(api, ticket_id)["history"] if h["actor"] == "dave"]
    assert entry["details"]["via"] == "email"


def test_rejecting_without_a_comment_shows_the_form_again_and_changes_nothing(api, notify_stack):
    ticket_id, task = _purchase(api)
    links = _links(notify_stack, "bob", ticket_id, task)
    page = _text(_page(api, links["reject"]))
    assert "Reject this step?" in page and "Comment (required: say why)" in page
    assert "required" in _page(api, links["reject"]).get_data(as_text=True)
    before = _ticket(api, ticket_id)
    r = _confirm(api, links["reject"], "   ")
    assert r.status_code == 422
    text = _text(r)
    assert "A rejection needs a comment: say why." in text and "Confirm: reject" in text
    assert _ticket(api, ticket_id)["history"] == before["history"]
    # the form keeps what was typed; then with a reason the rejection goes through
    r = _confirm(api, links["reject"], "<b>too</b> much")
    assert r.status_code == 200 and "Rejected" in _text(r)
    assert "<b>" not in r.get_data(as_text=True)
    ticket = _ticket(api, ticket_id)
    assert ticket["status"] == "rejected"
    (entry,) = [h for h in ticket["history"] if h["actor"] == "bob"]
    assert entry["comment"] == "<b>too</b> much" and entry["details"]["via"] == "email"


def test_the_typed_comment_is_kept_when_the_form_comes_back(api, notify_stack, monkeypatch):
    ticket_id, task = _purchase(api)
    links = _links(notify_stack, "bob", ticket_id, task)
    r = _confirm(api, links["reject"], "x" * 5000)  # too long
    assert r.status_code == 422
    assert "The comment is not valid" in _text(r)
    assert ">" + "x" * 5000 + "</textarea>" in r.get_data(as_text=True)


def test_a_link_works_once_and_uses_up_its_pair(api, notify_stack):
    ticket_id, task = _purchase(api)
    links = _links(notify_stack, "bob", ticket_id, task)
    assert _confirm(api, links["approve"]).status_code == 200
    for token in (links["approve"], links["reject"]):
        for r in (_page(api, token), _confirm(api, token, "again")):
            assert r.status_code == 410
            assert "This link was used already" in _text(r)
            assert f"https://pflow.test/tickets/{ticket_id}" in r.get_data(as_text=True)
    assert len([h for h in _ticket(api, ticket_id)["history"] if h["actor"] == "bob"]) == 1


def test_an_expired_link_is_refused_and_points_to_pflow(api, notify_stack, monkeypatch):
    ticket_id, task = _purchase(api)
    links = _links(notify_stack, "bob", ticket_id, task)
    monkeypatch.setattr(notify_stack.container.email_actions(), "ttl_s", -1)  # any age is too old
    for r in (_page(api, links["approve"]), _confirm(api, links["approve"])):
        assert r.status_code == 410
        assert "This link has expired" in _text(r)
        assert f"https://pflow.test/tasks/{task}" in r.get_data(as_text=True)
    assert [s["id"] for s in _ticket(api, ticket_id)["steps"]] == [task]


def test_a_tampered_link_is_invalid(api, notify_stack):
    ticket_id, task = _purchase(api)
    token = _links(notify_stack, "bob", ticket_id, task)["approve"]
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    for r in (_page(api, tampered), _confirm(api, tampered)):
        assert r.status_code == 404
        assert "This link is not valid" in _text(r)
        assert "https://pflow.test/" in r.get_data(as_text=True)
    zh = _page(api, tampered, query_string={"lang": "zh"})
    assert "此链接无效" in _text(zh) and 'lang="zh-CN"' in zh.get_data(as_text=True)
    assert [s["id"] for s in _ticket(api, ticket_id)["steps"]] == [task]


def test_the_requester_cannot_decide_their_own_ticket_from_a_link(api, notify_stack):
    ticket_id, task = _purchase(api, requester="bob")  # a manager's own purchase: another manager decides
    links = _links(notify_stack, "bob", ticket_id, task)
    for r in (_page(api, links["approve"]), _confirm(api, links["approve"])):
        assert r.status_code == 403
        text = _text(r)
        assert "You cannot decide this step" in text and "separation of duties" in text
    assert [s["id"] for s in _ticket(api, ticket_id)["steps"]] == [task]


def test_someone_outside_the_candidate_group_is_refused(api, notify_stack):
    ticket_id, task = _purchase(api)
    links = _links(notify_stack, "sam", ticket_id, task)  # e.g. moved out of the managers since the mail
    r = _confirm(api, links["approve"])
    assert r.status_code == 403
    assert "no longer offered to you" in _text(r)
    assert f"https://pflow.test/tasks/{task}" in r.get_data(as_text=True)
    assert [s["id"] for s in _ticket(api, ticket_id)["steps"]] == [task]


def test_a_step_completed_in_the_ui_meanwhile_is_closed(api, notify_stack):
    ticket_id, task = _purchase(api)
    links = _links(notify_stack, "bob", ticket_id, task)
    r = api.post(f"/api/tasks/{task}/complete", "dave", json={"variables": {"manager_decision": "approve"}})
    assert r.status_code == 200, r.json
    for r in (_page(api, links["approve"]), _confirm(api, links["approve"])):
        assert r.status_code == 410
        assert "This step is no longer open" in _text(r)
        assert f"https://pflow.test/tickets/{ticket_id}" in r.get_data(as_text=True)
    assert not [h for h in _ticket(api, ticket_id)["history"] if h["actor"] == "bob"]


def test_a_recipient_who_is_no_longer_a_user_is_refused(api, notify_stack):
    ticket_id, task = _purchase(api)
    links = _links(notify_stack, "ghost", ticket_id, task)
    r = _confirm(api, links["approve"])
    assert r.status_code == 403 and "no longer a PFlow user" in _text(r)
    zh = _page(api, links["approve"], headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert "此链接的收件人已不是 PFlow 用户" in _text(zh)


def test_the_page_is_in_the_recipients_language_unless_asked_otherwise(api, notify_stack):
    ticket_id, task = _purchase(api)
    links = _links(notify_stack, "dave", ticket_id, task)
    zh = _page(api, links["reject"])
    assert "驳回此步骤？" in _text(zh) and "确认驳回" in _text(zh)
    en = _page(api, links["reject"], query_string={"lang": "en"})
    assert "Reject this step?" in _text(en)
    assert f'action="/email-actions/{links["reject"]}?lang=en"' in en.get_data(as_text=True)
    assert "驳回时必须填写意见" in _text(_confirm(api, links["reject"], ""))


def test_the_pages_are_not_in_the_api_document(api):
    paths = api.client.get("/api/openapi.json").json["paths"]
    assert not [p for p in paths if "email-actions" in p]


def test_both_languages_have_every_phrase():
    from pflow.entrypoints.http.email_actions import TEXT

    assert set(TEXT["en"]) == set(TEXT["zh"])
    assert all(TEXT["zh"][k] != TEXT["en"][k] for k in TEXT["en"] if k.startswith(("problem.", "refusal.")))


PROBLEMS = [("invalid", None, 404), ("expired", None, 410), ("used", None, 410), ("closed", None, 410),
            ("no_user", None, 403), ("form", None, 409), ("not_allowed", "own_ticket", 403),
            ("not_allowed", "last_editor", 403), ("not_allowed", "second_decision", 403),
            ("not_allowed", "not_a_candidate", 403)]


@pytest.mark.parametrize("problem, refusal, status", PROBLEMS)
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_problem_has_its_page_in_both_languages(memory_stack, monkeypatch, problem, refusal, status, lang):
    from pflow.entrypoints.http.email_actions import TEXT
    from pflow.service.email_actions import LinkView

    api = ApiClient(create_app(memory_stack.container))
    view = LinkView(problem, "approve", refusal=refusal, ticket_id="t-1", task_id="k-1")
    monkeypatch.setattr(memory_stack.container.email_actions(), "inspect", lambda token: view)
    for r in (_page(api, "any", query_string={"lang": lang}), _confirm(api, "any", query_string={"lang": lang})):
        assert r.status_code == status
        text = _text(r)
        assert TEXT[lang][f"problem.{problem}"] in text and TEXT[lang][f"problem.{problem}.text"] in text
        if refusal:
            assert TEXT[lang][f"refusal.{refusal}"] in text
        body = r.get_data(as_text=True)
        if problem != "no_user":
            assert "https://pflow.test/tickets/t-1" in body or "/tickets/t-1" in body
        if problem in ("form", "not_allowed", "expired"):
            assert "/tasks/k-1" in body
        assert r.headers["Cache-Control"] == "no-store" and r.headers["Referrer-Policy"] == "no-referrer"
