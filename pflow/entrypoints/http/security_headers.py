"""Security headers on every answer: the API's, Swagger UI's and the web UI's.

The web UI loads only its own bundles (script-src 'self'); bpmn-js and diagram-js set style attributes
and inject <style> elements while they draw, so styles allow 'unsafe-inline' (styles cannot run code);
small assets Vite inlines are data: URLs. Swagger UI (/api/docs) has one inline bootstrap script: the
page's policy allows exactly that script by its hash. API answers are never stored by caches
(Cache-Control: no-store) except Swagger UI's static files, which carry their own cache header."""

from __future__ import annotations

import base64
import hashlib
import re

from flask import Flask, Response, request

BASE_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self' 'unsafe-inline'",
    "img-src": "'self' data: blob:",
    "font-src": "'self' data:",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
}

STATIC_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}

DOCS_PATH = "/api/docs"
DOCS_ASSETS = "/api/docs/assets/"
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.S)


def policy(**changes: str) -> str:
    return "; ".join(f"{name} {value}" for name, value in {**BASE_POLICY, **changes}.items())


CONTENT_SECURITY_POLICY = policy()


def _script_hashes(body: bytes) -> str:
    return " ".join("'sha256-" + base64.b64encode(hashlib.sha256(script).digest()).decode() + "'"
                    for script in _INLINE_SCRIPT.findall(body))


def add_security_headers(response: Response) -> Response:
    path = request.path
    csp = CONTENT_SECURITY_POLICY
    if path.rstrip("/") == DOCS_PATH and response.mimetype == "text/html" and not response.direct_passthrough:
        hashes = _script_hashes(response.get_data())
        csp = policy(**{"script-src": f"'self' {hashes}".strip()})
    response.headers["Content-Security-Policy"] = csp
    for name, value in STATIC_HEADERS.items():
        response.headers.setdefault(name, value)
    if (path == "/api" or path.startswith("/api/")) and not path.startswith(DOCS_ASSETS):
        response.headers["Cache-Control"] = "no-store"
    return response


def install(app: Flask) -> None:
    app.after_request(add_security_headers)
