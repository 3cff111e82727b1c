"""The MIME message SmtpMailer hands to the SMTP server: its headers survive building the parts."""

from __future__ import annotations

from pflow.adapters.mail.smtp import SmtpMailer
from pflow.ports.outbound import EmailMessage


def _mime(language: str):
    mailer = SmtpMailer("smtp.test", 25, sender="PFlow <pflow@example.com>", security="none")
    return mailer._mime(EmailMessage(to="dave@example.com", subject="待办", text="plain", html="<p>html</p>",
                                     message_id="<1@pflow>", language=language,
                                     headers={"X-PFlow-Kind": "task.created"}))


def test_the_language_and_pflow_headers_are_on_the_message():
    zh, en = _mime("zh"), _mime("en")
    assert zh["Content-Language"] == "zh-CN" and en["Content-Language"] == "en"
    assert zh["X-PFlow-Kind"] == "task.created" and zh["Auto-Submitted"] == "auto-generated"
    assert zh.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in zh.iter_parts()] == ["text/plain", "text/html"]
