"""HTTP access to Camunda 7's REST API: one pooled session, a time budget, retries, error bodies.

* One ``requests.Session`` per adapter, with a connection pool sized for the
  API's request threads plus the worker's fetcher, handlers and lock keeper.
* Every request has a budget of ``timeout_s`` in total: connecting, reading and
  any retry all come out of it, so a frozen engine costs a caller exactly the
  time the message states. Long polls pass their own budget (the poll plus a
  margin), so the server always answers first. ``call_budget()`` makes several
  requests (one port method) share one budget.
* Retries, while the budget lasts: a refused or timed-out *connect* once for
  every method, since nothing reached the engine; a dropped connection once and
  502/503/504 twice for idempotent methods (GET, PUT, DELETE). A read that
  timed out is not retried: it used up the budget. POSTs that are safe to
  repeat (external-task complete/failure/extendLock) are retried by the engine
  adapter, which knows how to check the outcome.
* A transport failure, a gateway status or a 5xx that is not Camunda's JSON
  error (Tomcat's HTML page while the engine stops) raises
  ``EngineUnavailable``: its ``message`` (for the log) names Camunda's URL and
  what to do, its ``public_message`` (for API clients) only that Camunda is not
  answering and why. Camunda's own errors (``{"type", "message", "code"}``)
  raise ``CamundaHttpError`` for the adapter to map per endpoint: the status
  codes are not consistent across endpoints (see deploy/camunda-dev/NOTES.md).
* Credentials: with ``auth`` (CAMUNDA_USERNAME / CAMUNDA_PASSWORD) every request,
  long polls and deployments included, sends HTTP basic authentication; the
  engine must run with REST authentication on. A 401 (credentials missing or
  refused) or 403 (a permission missing) raises ``EngineAccessDenied`` at once:
  no retry, since waiting does not fix a setting. The password is never logged
  or put into a message.
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager
from typing import Any, Iterator, Mapping

import requests
from requests.adapters import HTTPAdapter
from requests.auth import HTTPBasicAuth
from urllib3.util import Timeout

from pflow.domain.errors import EngineAccessDenied, EngineUnavailable

log = logging.getLogger(__name__)

ENGINE_NAME = "Camunda"
#: the engines that speak Camunda 7's REST API, by PFlow's name for them (WORKFLOW_ENGINE): how messages name
#: each and how to start its development engine
FLAVOURS = {
    "camunda": ("Camunda", "start it (make camunda-up) or check CAMUNDA_URL"),
    "operaton": ("Operaton", "start it (make operaton-up) or check CAMUNDA_URL"),
}
HINT = FLAVOURS["camunda"][1]
AUTH_HINT = "set CAMUNDA_USERNAME and CAMUNDA_PASSWORD to a user of that engine"
OPTIMISTIC_LOCKING = 1  # Camunda's error code for a concurrent modification
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
GATEWAY_STATUSES = (502, 503, 504)
CONNECT_RETRIES = 1
READ_RETRIES = 1
STATUS_RETRIES = 2


class CamundaHttpError(Exception):
    """Camunda answered with its JSON error body."""

    def __init__(self, method: str, path: str, status: int, body: Mapping[str, Any]):
        self.method = method
        self.path = path
        self.status = status
        self.type = str(body.get("type") or "")
        self.message = str(body.get("message") or "")
        self.code = body.get("code")
        self.details = body.get("details") or {}
        super().__init__(f"Camunda answered {status} to {method} {path}: {self.type}: {self.message}")

    @property
    def is_conflict(self) -> bool:
        return self.code == OPTIMISTIC_LOCKING


def _is_connect_failure(exc: requests.RequestException) -> bool:
    """Nothing reached the engine: safe to try again whatever the method."""
    text = str(exc)
    return (isinstance(exc, requests.ConnectTimeout) or "ConnectTimeoutError" in text
            or "Connection refused" in text or "Errno 111" in text
            or "Name or service not known" in text or "getaddrinfo" in text)


def _reason(exc: requests.RequestException, connect_timeout: float, budget: float) -> str:
    text = str(exc)
    if isinstance(exc, requests.ConnectTimeout) or "ConnectTimeoutError" in text:
        return f"no connection within {min(connect_timeout, budget):g}s"
    if isinstance(exc, requests.ReadTimeout) or "Read timed out" in text:
        return f"no answer within {budget:g}s"
    if "Connection refused" in text or "Errno 111" in text:
        return "connection refused"
    if "RemoteDisconnected" in text or "Connection aborted" in text or "reset by peer" in text:
        return "the connection was closed before Camunda answered"
    if "Name or service not known" in text or "getaddrinfo" in text or "nodename nor servname" in text:
        return "the host name does not resolve"
    return text.splitlines()[0][:300] if text else type(exc).__name__


def _query(params: Mapping[str, Any]) -> dict[str, Any]:
    """Query parameters as Camunda reads them: booleans lower-case, None left out."""
    return {k: (str(v).lower() if isinstance(v, bool) else v) for k, v in params.items() if v is not None}


class CamundaClient:
    """Thin JSON-over-HTTP client for one Camunda REST root (``…/engine-rest``)."""

    def __init__(self, base_url: str, *, timeout_s: float = 10.0, connect_timeout_s: float = 3.0,
                 pool_size: int = 20, retry_pause_s: float = 0.1, auth: tuple[str, str] | None = None,
                 flavour: str = "camunda") -> None:
        if flavour not in FLAVOURS:
            raise ValueError(f"unknown engine flavour {flavour!r} (one of {', '.join(FLAVOURS)})")
        self.base_url = base_url.rstrip("/")
        #: the engine's name in messages ("Camunda", "Operaton") and what to do when it does not answer
        self.engine_name, self.hint = FLAVOURS[flavour]
        #: the user PFlow authenticates as (None: no credentials are sent); the password stays in the session
        self.username = auth[0] if auth else None
        self.timeout_s = timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.retry_pause_s = retry_pause_s
        self.session = requests.Session()
        # No urllib3 retries: they would each start a fresh read timeout and overrun the budget.
        adapter = HTTPAdapter(pool_connections=2, pool_maxsize=pool_size, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers.update({"Accept": "application/json", "User-Agent": "pflow-camunda-adapter"})
        if auth:
            # every request of the session; UTF-8 (requests would send str as Latin-1, which Camunda on a UTF-8
            # JVM does not read back)
            self.session.auth = HTTPBasicAuth(auth[0].encode("utf-8"), auth[1].encode("utf-8"))
        self._budget = threading.local()

    def unavailable(self, reason: str, public_reason: str | None = None) -> EngineUnavailable:
        name = self.engine_name
        return EngineUnavailable(name, f"{name} is not reachable at {self.base_url}: {reason} — {self.hint}",
                                 public_message=f"{name} is not reachable: {public_reason or reason}. "
                                                "Try again in a moment.")

    def access_denied(self, status: int, method: str, path: str, detail: str = "") -> EngineAccessDenied:
        """The engine refused PFlow's credentials (401) or a permission of its user (403)."""
        if status == 403:
            who = f"user {self.username!r}" if self.username else "the anonymous user"
            problem = f"{self.engine_name} at {self.base_url} denied {who} {method} {path}" + (f" ({detail})" if detail else "")
            hint = (f"give that user the permission (or use one that has it: {AUTH_HINT})" if self.username
                    else AUTH_HINT)
        elif self.username:
            problem = (f"{self.engine_name} at {self.base_url} refused PFlow's credentials (HTTP 401, user {self.username!r}) "
                       f"on {method} {path}")
            hint = "check CAMUNDA_USERNAME and CAMUNDA_PASSWORD against that engine's users"
        else:
            problem = (f"{self.engine_name} at {self.base_url} requires credentials (HTTP 401 on {method} {path}) and PFlow "
                       "sent none")
            hint = AUTH_HINT
        return EngineAccessDenied(self.engine_name, f"{problem} — {hint}",
                                  {"status": status, "reason": "credentials_refused" if status == 401
                                   else "permission_denied"})

    @contextmanager
    def call_budget(self, seconds: float | None = None) -> Iterator[None]:
        """Requests made inside share one budget (``timeout_s`` unless given); nested budgets keep the outer one."""
        if getattr(self._budget, "deadline", None) is not None:
            yield
            return
        total = self.timeout_s if seconds is None else seconds
        self._budget.deadline, self._budget.total = time.monotonic() + total, total
        try:
            yield
        finally:
            self._budget.deadline = self._budget.total = None

    def _deadline(self, budget: float) -> tuple[float, float]:
        """(deadline, the budget to name in messages) for a request that may take ``budget`` seconds."""
        own = time.monotonic() + budget
        shared = getattr(self._budget, "deadline", None)
        if shared is not None and shared < own:
            return shared, self._budget.total
        return own, budget

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None, json: Any = None,
                data: Mapping[str, Any] | None = None, files: Any = None, read_timeout: float | None = None) -> Any:
        """The parsed JSON answer (None for 204, text for non-JSON 2xx); raises as the module docstring says.
        ``read_timeout`` replaces the budget of this one request (long polls)."""
        deadline, budget = self._deadline(read_timeout if read_timeout is not None else self.timeout_s)
        retries = {"connect": CONNECT_RETRIES, "read": READ_RETRIES if method in IDEMPOTENT else 0,
                   "status": STATUS_RETRIES if method in IDEMPOTENT else 0}
        pause = 0.0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self.unavailable(f"no answer within {budget:g}s")
            try:
                # total= bounds connect + read together: a slow connect leaves less time to wait for the answer
                timeout = Timeout(connect=min(self.connect_timeout_s, remaining), read=remaining, total=remaining)
                response = self.session.request(method, self.base_url + path, params=params, json=json, data=data,
                                                files=files, timeout=timeout)
            except requests.RequestException as exc:
                kind = "connect" if _is_connect_failure(exc) else "read"
                timed_out = isinstance(exc, requests.Timeout) and kind == "read"
                if not timed_out and retries[kind] > 0 and self._pause(pause, deadline):
                    retries[kind] -= 1
                    pause = pause * 2 or self.retry_pause_s
                    continue
                raise self.unavailable(_reason(exc, self.connect_timeout_s, budget)) from exc
            status = response.status_code
            if status in GATEWAY_STATUSES and retries["status"] > 0 and self._pause(pause, deadline):
                retries["status"] -= 1
                pause = pause * 2 or self.retry_pause_s
                response.close()
                continue
            return self._answer(method, path, response)

    @staticmethod
    def _pause(seconds: float, deadline: float) -> bool:
        """Sleep before a retry if the budget allows one after it."""
        if time.monotonic() + seconds >= deadline:
            return False
        if seconds:
            time.sleep(seconds)
        return True

    def _answer(self, method: str, path: str, response: requests.Response) -> Any:
        status = response.status_code
        if status < 300:
            if status == 204 or not response.content:
                return None
            if "json" in response.headers.get("Content-Type", ""):
                return response.json()
            return response.text
        body = None
        if "json" in response.headers.get("Content-Type", ""):
            try:
                body = response.json()
            except ValueError:
                body = None
        if status in (401, 403):
            detail = str(body.get("message") or "")[:300] if isinstance(body, dict) else ""
            raise self.access_denied(status, method, path, detail)
        if isinstance(body, dict) and "type" in body and "message" in body:
            raise CamundaHttpError(method, path, status, body)
        if status >= 500:
            raise self.unavailable(f"it answered HTTP {status} to {method} {path} without an error body "
                                   "(starting or stopping?)", f"it answered HTTP {status} without an error body")
        raise self.unavailable(f"it answered HTTP {status} to {method} {path}, which is not Camunda's REST API "
                               "(CAMUNDA_URL must be the REST root, e.g. http://localhost:8081/engine-rest)",
                               "it does not answer as Camunda's REST API")

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=_query(params))

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self.request("POST", path, json=body, **kwargs)

    def put(self, path: str, body: Any = None) -> Any:
        return self.request("PUT", path, json=body)

    def delete(self, path: str, **params: Any) -> Any:
        return self.request("DELETE", path, params=_query(params))

    def close(self) -> None:
        self.session.close()
