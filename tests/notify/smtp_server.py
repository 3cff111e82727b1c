"""A real SMTP server for tests (aiosmtpd in a thread, on 127.0.0.1): it keeps every message it accepted,
parsed, and can be stopped and started again on the same port to play an outage. Optional STARTTLS with a
self-signed certificate (``client_context()`` trusts it) and optional AUTH with one username/password.

    with SmtpServer(starttls=True, auth=("pflow", "secret")) as server:
        SmtpMailer("127.0.0.1", server.port, ..., context=server.client_context())
        server.wait_for(1)

or the ``smtp_server`` fixture (a plain one) imported into a test module. ``delay_s`` makes it slow.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import email
import email.policy
import ssl
import tempfile
import threading
import time
from dataclasses import dataclass
from email.message import EmailMessage as MimeMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.support import free_port


@dataclass
class Received:
    """One message the server accepted."""

    mail_from: str
    rcpt_tos: list[str]
    message: MimeMessage
    peer: object = None
    authenticated_as: str | None = None
    tls: bool = False

    @property
    def to(self) -> str:
        return self.rcpt_tos[0]

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])

    @property
    def language(self) -> str:
        return str(self.message["Content-Language"])

    def part(self, subtype: str) -> str:
        """The decoded text of the ``text/<subtype>`` part ("plain" or "html")."""
        body = self.message.get_body(preferencelist=(subtype,))
        if body is None or body.get_content_subtype() != subtype:
            raise AssertionError(f"no text/{subtype} part in {self.message_id}")
        return body.get_content()

    @property
    def text(self) -> str:
        return self.part("plain")

    @property
    def html(self) -> str:
        return self.part("html")


class _Handler:
    def __init__(self, server: "SmtpServer") -> None:
        self._server = server

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        if self._server.delay_s:  # a slow server: the client waits this long for the answer to its message
            await asyncio.sleep(self._server.delay_s)
        message = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        user = None
        if session.auth_data is not None:
            user = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else str(session.auth_data)
        self._server._add(Received(mail_from=envelope.mail_from, rcpt_tos=list(envelope.rcpt_tos), message=message,
                                   peer=session.peer, authenticated_as=user, tls=session.ssl is not None))
        return "250 Message accepted for delivery"


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 / localhost and its key, made with ``cryptography``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import ipaddress

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = _dt.datetime.now(_dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _dt.timedelta(minutes=5)).not_valid_after(now + _dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


class SmtpServer:
    """A real SMTP listener on 127.0.0.1:``port`` (a free one by default)."""

    def __init__(self, port: int | None = None, *, starttls: bool = False,
                 auth: tuple[str, str] | None = None, hostname: str = "127.0.0.1") -> None:
        self.hostname = hostname
        self.port = port or free_port()
        self.auth = auth
        self.starttls = starttls
        self._lock = threading.Lock()
        self._received: list[Received] = []
        self.auth_failures = 0
        self.delay_s = 0.0  # how long each message takes to be accepted (a slow server)
        self._controller: Controller | None = None
        self._dir = tempfile.TemporaryDirectory(prefix="pflow-smtp-")
        self.cert_path: Path | None = None
        self._server_context: ssl.SSLContext | None = None
        if starttls:
            self.cert_path, key_path = _self_signed(Path(self._dir.name))
            self._server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self._server_context.load_cert_chain(self.cert_path, key_path)

    # --- what a client needs

    def client_context(self) -> ssl.SSLContext:
        """An SSL context that verifies the server's self-signed certificate (as a real client would)."""
        if self.cert_path is None:
            raise RuntimeError("this server has no TLS")
        return ssl.create_default_context(cafile=str(self.cert_path))

    # --- life cycle

    def _authenticator(self, server, session, envelope, mechanism, auth_data):
        if isinstance(auth_data, LoginPassword) and self.auth is not None \
                and (auth_data.login.decode(), auth_data.password.decode()) == self.auth:
            return AuthResult(success=True, auth_data=auth_data)
        with self._lock:
            self.auth_failures += 1
        return AuthResult(success=False, handled=False)

    def start(self) -> "SmtpServer":
        if self._controller is not None:
            return self
        kwargs: dict = {}
        if self._server_context is not None:
            kwargs.update(tls_context=self._server_context, require_starttls=True)
        if self.auth is not None:
            kwargs.update(authenticator=self._authenticator, auth_required=True,
                          auth_require_tls=self._server_context is not None)
        controller = Controller(_Handler(self), hostname=self.hostname, port=self.port, ready_timeout=5.0,
                                server_hostname="localhost", **kwargs)
        deadline = time.monotonic() + 5
        while True:  # the port of the last run may take a moment to be free again
            try:
                controller.start()
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self._controller = controller
        return self

    def stop(self) -> None:
        """Close the listener: a client connecting now is refused (the SMTP server is down)."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def running(self) -> bool:
        return self._controller is not None

    def close(self) -> None:
        self.stop()
        self._dir.cleanup()

    def __enter__(self) -> "SmtpServer":
        return self.start()

    def __exit__(self, *_exc) -> None:
        self.close()

    # --- what it received

    def _add(self, received: Received) -> None:
        with self._lock:
            self._received.append(received)

    @property
    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    def to(self, address: str) -> list[Received]:
        return [r for r in self.received if address in r.rcpt_tos]

    def clear(self) -> None:
        with self._lock:
            self._received.clear()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """Wait until at least ``count`` messages arrived; returns them all."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.received
            if len(got) >= count:
                return got
            if time.monotonic() > deadline:
                raise AssertionError(f"the SMTP server received {len(got)} messages within {timeout}s, "
                                     f"expected {count}: {[r.to for r in got]}")
            time.sleep(0.02)


def message_ids(received: list[Received]) -> list[str]:
    return [r.message_id for r in received]


@pytest.fixture
def smtp_server():
    """A plain SMTP server on a free port for one test (import it into a test module or conftest to use it)."""
    server = SmtpServer().start()
    yield server
    server.close()


__all__ = ["SmtpServer", "Received", "message_ids", "smtp_server"]
