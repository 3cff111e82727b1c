"""Sending through an SMTP server with the standard library's ``smtplib`` (TLS on connect, STARTTLS, or
plain for a local relay; optional authentication). One connection per message: a server that went away
between two mails costs nothing, and the delivery sender's retries cover one that is down."""

from __future__ import annotations

import smtplib
import socket
import ssl
from email.message import EmailMessage as MimeMessage
from email.utils import formataddr, formatdate, parseaddr

from pflow.ports.outbound import DeliveryFailed, EmailMessage, Mailer

SECURITY = ("none", "starttls", "tls")


class SmtpMailer(Mailer):
    def __init__(self, host: str, port: int, *, sender: str, security: str = "starttls",
                 username: str | None = None, password: str | None = None, timeout_s: float = 10.0,
                 context: ssl.SSLContext | None = None) -> None:
        if security not in SECURITY:
            raise ValueError(f"security {security!r} is not one of {', '.join(SECURITY)}")
        self.host, self.port, self.security = host, port, security
        self.sender = sender
        self._username, self._password = username, password
        self._timeout = timeout_s
        self._context = context or ssl.create_default_context()

    def _mime(self, message: EmailMessage) -> MimeMessage:
        mime = MimeMessage()
        name, address = parseaddr(self.sender)
        mime["From"] = formataddr((name or "PFlow", address or self.sender))
        mime["To"] = message.to
        mime["Subject"] = message.subject
        mime["Date"] = formatdate(localtime=False)
        mime["Message-ID"] = message.message_id
        mime["Auto-Submitted"] = "auto-generated"
        for key, value in (message.headers or {}).items():
            mime[key] = value
        mime.set_content(message.text)
        mime.add_alternative(message.html, subtype="html")
        # after the parts: making the message multipart moves every Content-* header into its first part
        mime["Content-Language"] = "zh-CN" if message.language == "zh" else "en"
        return mime

    def send(self, message: EmailMessage) -> None:
        mime = self._mime(message)
        where = f"the SMTP server {self.host}:{self.port}"
        try:
            if self.security == "tls":
                client: smtplib.SMTP = smtplib.SMTP_SSL(self.host, self.port, timeout=self._timeout,
                                                        context=self._context)
            else:
                client = smtplib.SMTP(self.host, self.port, timeout=self._timeout)
            with client:
                if self.security == "starttls":
                    client.starttls(context=self._context)
                if self._username:
                    client.login(self._username, self._password or "")
                refused = client.send_message(mime, from_addr=parseaddr(self.sender)[1] or self.sender,
                                              to_addrs=[message.to])
            if refused:
                raise DeliveryFailed(f"{where} refused {', '.join(refused)}")
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryFailed(f"{where} refused the login (check SMTP_USERNAME / SMTP_PASSWORD): "
                                 f"{exc.smtp_code}") from None
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryFailed(f"{where} refused the recipient {', '.join(exc.recipients)}") from None
        except smtplib.SMTPNotSupportedError:
            raise DeliveryFailed(f"{where} does not offer STARTTLS (set SMTP_SECURITY=none for a local relay, "
                                 "or tls for port 465)") from None
        except (smtplib.SMTPException, OSError, socket.timeout, ssl.SSLError) as exc:
            raise DeliveryFailed(f"{where} is not reachable or failed: {exc}") from None
