"""HTTP access to Camunda 7's REST API: one pooled session, timeouts, retries, error bodies.

* One ``requests.Session`` per adapter, with a connection pool sized for the
  API's request threads plus the worker's fetcher, handlers and lock keeper.
* Every call has a timeout: ``(connect, read)``; long polls pass their own read
  timeout (the poll plus a margin), so the server always answers first.
* Retries with backoff (urllib3's ``Retry``) for idempotent methods only (GET,
  PUT, DELETE): read errors and 502/503/504. A refused or timed-out *connect*
  is retried once for every method, since nothing reached the engine. POSTs
  that are safe to repeat (external-task complete/failure/extendLock) are
  retried by the engine adapter, which knows how to check the outcome.
* A transport failure, a gateway status or a 5xx that is not Camunda's JSON
  error (Tomcat's HTML page while the engine stops) raises
  ``EngineUnavailable`` naming Camunda, its URL and what to do. Camunda's own
  errors (``{"type", "message", "code"}``) raise ``CamundaHttpError`` for the
  adapter to map per endpoint: the status codes are not consistent across
  endpoints (see deploy/camunda-dev/NOTES.md).
"""

from __future__ import annotations

import logging
from typing import Any, Mapping

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from pflow.domain.errors import EngineUnavailable

log = logging.getLogger(__name__)

ENGINE_NAME = "Camunda"
HINT = "start it (make camunda-up) or check CAMUNDA_URL"
OPTIMISTIC_LOCKING = 1  # Camunda's error code for a concurrent modification


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


def _reason(exc: requests.RequestException, connect_timeout: float, read_timeout: float | None) -> str:
    text = str(exc)
    # After urllib3's retries a timeout arrives wrapped in a ConnectionError: look at the text too.
    if isinstance(exc, requests.ConnectTimeout) or "ConnectTimeoutError" in text:
        return f"no connection within {connect_timeout:g}s"
    if isinstance(exc, requests.ReadTimeout) or "Read timed out" in text:
        return f"no answer within {read_timeout:g}s" if read_timeout else "no answer in time"
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
                 pool_size: int = 20) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.connect_timeout_s = connect_timeout_s
        retry = Retry(total=3, connect=1, read=1, status=2, other=0, redirect=0, backoff_factor=0.2,
                      status_forcelist=(502, 503, 504), allowed_methods=Retry.DEFAULT_ALLOWED_METHODS,
                      raise_on_status=False, respect_retry_after_header=False)
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=2, pool_maxsize=pool_size, max_retries=retry)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers.update({"Accept": "application/json", "User-Agent": "pflow-camunda-adapter"})

    def unavailable(self, reason: str) -> EngineUnavailable:
        return EngineUnavailable(ENGINE_NAME, f"Camunda is not reachable at {self.base_url}: {reason} — {HINT}",
                                 details={"url": self.base_url})

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None, json: Any = None,
                data: Mapping[str, Any] | None = None, files: Any = None, read_timeout: float | None = None) -> Any:
        """The parsed JSON answer (None for 204, text for non-JSON 2xx); raises as the module docstring says."""
        read = read_timeout if read_timeout is not None else self.timeout_s
        try:
            response = self.session.request(method, self.base_url + path, params=params, json=json, data=data,
                                            files=files, timeout=(self.connect_timeout_s, read))
        except requests.RequestException as exc:
            raise self.unavailable(_reason(exc, self.connect_timeout_s, read)) from exc
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
        if isinstance(body, dict) and "type" in body and "message" in body:
            raise CamundaHttpError(method, path, status, body)
        if status >= 500:
            raise self.unavailable(f"it answered HTTP {status} to {method} {path} without an error body "
                                   "(starting or stopping?)")
        raise self.unavailable(f"it answered HTTP {status} to {method} {path}, which is not Camunda's REST API "
                               "(CAMUNDA_URL must be the REST root, e.g. http://localhost:8081/engine-rest)")

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
