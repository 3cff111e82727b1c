"""Notification preferences over the API: what each person receives in the app and by e-mail, over the defaults
admins set, followed by the real event path (outbox -> consumer -> deliveries -> sender, a recording mailer)."""

from __future__ import annotations

import pytest
from dependency_injector import providers

from pflow.adapters.memory.outbound import RecordingMailer
from pflow.entrypoints.http import create_app
from tests.conftest import ApiClient
from tests.support import STACKS, build_stack

KINDS = {"new_task", "decision", "reminder", "failure"}
ALL_ON = {"in_app": dict.fromkeys(KINDS, True), "email": dict.fromkeys(KINDS, True)}


@pytest.fixture(params=STACKS)
def mail_stack(request, tmp_path):
    stack = build_stack(request.param, tmp_path, smtp_host="smtp.test", smtp_security="none", smtp_port=25,
                        public_url="https://pflow.example.org")
    stack.mailer = RecordingMailer()
    stack.container.mailer.override(providers.Object(stack.mailer))
    yield stack
    stack.close()


@pytest.fixture
def mapi(mail_stack):
    return ApiClient(create_app(mail_stack.container))


def flush(stack) -> None:
    stack.deliver_events()
    sender = stack.container.delivery_sender()
    while sender.send_due():
        pass


def submit_purchase(api, title="Monitors") -> str:
    r = api.post("/api/tickets", "alice", json={"type": "purchase_request", "title": title,
                                                "fields": {"amount": 900, "supplier": "ACME"}})
    assert r.status_code == 201, r.json
    assert api.post(f"/api/tickets/{r.json['id']}/submit", "alice").status_code == 200
    return r.json["id"]


def mailed(stack, ticket_title: str) -> set[str]:
    return {m.to.split("@")[0] for m in stack.mailer.sent if ticket_title in m.subject}


def in_app_kinds(api, user: str, ticket_id: str) -> list[str]:
    return [n["kind"] for n in api.get("/api/notifications?page_size=100", user).json["items"]
            if n["ticket_id"] == ticket_id]


def test_everyone_starts_with_everything_on(mapi):
    r = mapi.get("/api/me/preferences", "bob")
    assert r.status_code == 200, r.json
    assert r.json == {"channels": ALL_ON, "digest": False,
                      "own": {"channels": {"in_app": {}, "email": {}}, "digest": None},
                      "email": "bob@example.com", "email_enabled": True}
    assert mapi.get("/api/me/preferences").status_code == 401


def test_switching_email_off_for_new_tasks_stops_the_mail_but_not_the_in_app_note(mail_stack, mapi):
    r = mapi.put("/api/me/preferences", "bob", json={"channels": {"email": {"new_task": False}}})
    assert r.status_code == 200, r.json
    assert r.json["channels"]["email"] == {**dict.fromkeys(KINDS, True), "new_task": False}
    assert r.json["own"] == {"channels": {"in_app": {}, "email": {"new_task": False}}, "digest": None}
    assert mapi.get("/api/me/preferences", "bob").json == r.json
    ticket_id = submit_purchase(mapi)
    flush(mail_stack)
    assert mailed(mail_stack, "Monitors") == {"dave", "frank"}  # the other managers
    assert "task.created" in in_app_kinds(mapi, "bob", ticket_id)


def test_switching_in_app_off_hides_the_notification(mail_stack, mapi):
    r = mapi.put("/api/me/preferences", "bob", json={"channels": {"in_app": {"new_task": False}}})
    assert r.status_code == 200, r.json
    ticket_id = submit_purchase(mapi)
    flush(mail_stack)
    assert "task.created" not in in_app_kinds(mapi, "bob", ticket_id)
    assert "task.created" in in_app_kinds(mapi, "dave", ticket_id)
    assert "bob" in mailed(mail_stack, "Monitors")  # still by e-mail


def test_the_admins_defaults_apply_to_whoever_chose_nothing(mail_stack, mapi):
    assert mapi.get("/api/admin/preferences", "carol").json == {"channels": ALL_ON, "digest": False}
    r = mapi.put("/api/admin/preferences", "carol", json={"channels": {"email": {"new_task": False}}})
    assert r.status_code == 200, r.json
    assert r.json == {"channels": {**ALL_ON, "email": {**ALL_ON["email"], "new_task": False}}, "digest": False}
    assert mapi.get("/api/admin/preferences", "carol").json == r.json
    # dave chose new-task e-mails himself: his choice wins over the default
    assert mapi.put("/api/me/preferences", "dave", json={"channels": {"email": {"new_task": True}}}).status_code == 200
    bob = mapi.get("/api/me/preferences", "bob").json
    assert bob["channels"]["email"]["new_task"] is False and bob["own"]["channels"]["email"] == {}
    submit_purchase(mapi)
    flush(mail_stack)
    assert mailed(mail_stack, "Monitors") == {"dave"}


def test_a_digest_default_holds_the_mails_of_those_who_chose_nothing(mail_stack, mapi):
    assert mapi.put("/api/admin/preferences", "carol", json={"digest": True}).json["digest"] is True
    assert mapi.put("/api/me/preferences", "frank", json={"digest": False}).status_code == 200
    assert mapi.get("/api/me/preferences", "bob").json["digest"] is True
    submit_purchase(mapi)
    flush(mail_stack)
    assert mailed(mail_stack, "Monitors") == {"frank"}  # bob's and dave's wait for the day's digest


@pytest.mark.parametrize(("body", "fields"), [
    ({"channels": {"email": {"bogus": True}}}, {"channels.email.bogus"}),
    ({"channels": {"sms": {"new_task": True}}}, {"channels.sms"}),
    ({"channels": {"email": {"new_task": "no"}}}, {"channels.email.new_task"}),
    ({"channels": {"in_app": {"decision": 0}}}, {"channels.in_app.decision"}),
    ({"channels": {"email": []}}, {"channels.email"}),
    ({"channels": []}, {"channels"}),
    ({"digest": "daily"}, {"digest"}),
    ({"colour": "red"}, {"colour"}),
])
def test_a_bad_body_is_refused_naming_the_field(mapi, body, fields):
    for path, user in (("/api/me/preferences", "bob"), ("/api/admin/preferences", "carol")):
        r = mapi.put(path, user, json=body)
        assert r.status_code == 422, (path, r.json)
        assert set(r.json["error"]["fields"]) == fields, (path, r.json)
    assert mapi.get("/api/me/preferences", "bob").json["own"] == {"channels": {"in_app": {}, "email": {}},
                                                                   "digest": None}
    assert mapi.put("/api/me/preferences", "bob").status_code == 422  # no body


def test_unknown_kinds_are_keyed_for_the_ui(mapi):
    r = mapi.put("/api/me/preferences", "bob", json={"channels": {"email": {"bogus": True}}})
    assert r.json["error"]["fields"]["channels.email.bogus"] == [{"key": "field.unknown", "params": {}}]


def test_only_admins_see_and_set_the_defaults(mapi):
    for user in ("alice", "bob"):
        for r in (mapi.get("/api/admin/preferences", user),
                  mapi.put("/api/admin/preferences", user, json={"digest": True})):
            assert r.status_code == 403 and r.json["error"]["key"] == "auth.admins_only"
    assert mapi.get("/api/admin/preferences", "carol").json["digest"] is False


def test_preferences_without_email(tmp_path):
    stack = build_stack("memory", tmp_path)  # no SMTP_HOST: e-mail off
    try:
        api = ApiClient(create_app(stack.container))
        mine = api.get("/api/me/preferences", "alice").json
        assert mine["email_enabled"] is False and mine["email"] == "alice@example.com"
    finally:
        stack.close()
