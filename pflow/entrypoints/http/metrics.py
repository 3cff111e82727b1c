"""``/metrics``: Prometheus's text format (docs/metrics.md), outside /api and its OpenAPI document.

PFLOW_METRICS=0 turns it off (404); with PFLOW_METRICS_TOKEN set it wants ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import hmac
import time

from flask import Blueprint, Flask, Response, abort, g, request

from pflow.adapters import metrics
from pflow.entrypoints.http.context import container

blp = Blueprint("metrics", __name__)


@blp.get("/metrics")
def scrape():
    c = container()
    settings = c.settings()
    if not settings.metrics_enabled:
        abort(404)
    if settings.metrics_token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(),
                                                                 settings.metrics_token.encode()):
            return Response("metrics need Authorization: Bearer <PFLOW_METRICS_TOKEN>\n", status=401,
                            mimetype="text/plain", headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    body, content_type = metrics.scrape(c.metrics_store())
    return Response(body, headers={"Content-Type": content_type, "Cache-Control": "no-store"})


def install_request_metrics(app: Flask) -> None:
    """Time every request, labelled by its URL rule (never the raw path: ids would make endless series)."""

    @app.before_request
    def _start() -> None:
        g.pflow_metrics_start = time.perf_counter()

    @app.after_request
    def _observe(response):
        start = g.pop("pflow_metrics_start", None)
        if start is not None:
            rule = request.url_rule.rule if request.url_rule is not None else "unmatched"
            metrics.observe_request(rule, request.method, response.status_code, time.perf_counter() - start)
        return response
