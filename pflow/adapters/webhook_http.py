"""Webhook calls over HTTP with requests (a pooled session; redirects are not followed: an endpoint answers
itself)."""

from __future__ import annotations

import time
from typing import Mapping

import requests

from pflow.ports.outbound import DeliveryFailed, HttpResult, WebhookTransport


class RequestsWebhookTransport(WebhookTransport):
    def __init__(self) -> None:
        self._session = requests.Session()

    def post(self, url: str, body: bytes, headers: Mapping[str, str], timeout_s: float) -> HttpResult:
        started = time.monotonic()
        try:
            response = self._session.post(url, data=body, headers=dict(headers), timeout=(min(5.0, timeout_s),
                                                                                          timeout_s),
                                          allow_redirects=False)
        except requests.Timeout:
            raise DeliveryFailed(f"no answer from {url} within {timeout_s:g} s") from None
        except requests.RequestException as exc:
            raise DeliveryFailed(f"{url} is not reachable: {type(exc).__name__}") from None
        return HttpResult(response.status_code, int((time.monotonic() - started) * 1000), response.text[:500])

    def close(self) -> None:
        self._session.close()
