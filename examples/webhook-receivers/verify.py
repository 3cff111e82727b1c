"""Receiving PFlow's webhook calls in Python (standard library only).

    WEBHOOK_SECRET=<the endpoint's secret> python verify.py      # listens on http://127.0.0.1:9000/

Every call carries X-PFlow-Signature (``sha256=<hex>``: HMAC-SHA256 of ``<timestamp>.<body>`` with the
endpoint's secret), X-PFlow-Timestamp (Unix seconds), X-PFlow-Event (the event type) and X-PFlow-Delivery
(the delivery id, the same on every attempt of one delivery: use it to drop a repeat).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REPLAY_WINDOW_S = 300  # refuse signatures older (or newer) than five minutes


def verify(secret: str, body: bytes, timestamp: str, signature: str, *, now: float | None = None,
           window_s: int = REPLAY_WINDOW_S) -> bool:
    """True when ``signature`` (the X-PFlow-Signature header) signs exactly ``body`` (the raw request body,
    before any JSON parsing) at ``timestamp`` (X-PFlow-Timestamp), and that time is within the window."""
    try:
        age = abs((time.time() if now is None else now) - int(timestamp))
    except (TypeError, ValueError):
        return False
    if age > window_s:
        return False
    expected = "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature or "")


class Receiver(BaseHTTPRequestHandler):
    secret = os.environ.get("WEBHOOK_SECRET", "")
    seen: set[str] = set()  # delivery ids already handled (keep them in your database in real use)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if not verify(self.secret, body, self.headers.get("X-PFlow-Timestamp", ""),
                      self.headers.get("X-PFlow-Signature", "")):
            self.send_response(401)
            self.end_headers()
            return
        delivery = self.headers.get("X-PFlow-Delivery", "")
        if delivery not in self.seen:
            self.seen.add(delivery)
            event = json.loads(body)
            print(f"{self.headers.get('X-PFlow-Event')} {event.get('ticket_id')} {event.get('event_id')}", flush=True)
        self.send_response(204)  # any 2xx tells PFlow the delivery arrived; anything else is retried
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


if __name__ == "__main__":
    if not Receiver.secret:
        raise SystemExit("set WEBHOOK_SECRET to the endpoint's secret")
    port = int(os.environ.get("PORT", "9000"))
    server = ThreadingHTTPServer(("127.0.0.1", port), Receiver)
    print(f"listening on http://127.0.0.1:{server.server_address[1]}/", flush=True)
    server.serve_forever()
