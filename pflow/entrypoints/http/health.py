"""Liveness and readiness probes (outside /api, no token needed)."""

from __future__ import annotations

from flask import Blueprint, jsonify

from pflow.container import readiness_checks
from pflow.domain.errors import ServiceUnavailable
from pflow.entrypoints.http.context import container

blp = Blueprint("health", __name__)


@blp.get("/healthz")
def healthz():
    return jsonify({"status": "ok"})


@blp.get("/readyz")
def readyz():
    checks: dict[str, str] = {}
    down: list[str] = []
    for name, probe in readiness_checks(container()).items():
        try:
            probe()
            checks[name] = "ok"
        except ServiceUnavailable as exc:
            checks[name] = exc.message
            down.append(name)
        except Exception as exc:  # a probe that crashes is as good as down
            checks[name] = f"{type(exc).__name__}: {exc}"
            down.append(name)
    if down:
        body = {"status": "unavailable", "checks": checks,
                "error": {"code": "service_unavailable", "message": "not ready: " + ", ".join(down) + " unavailable",
                          "details": {"unavailable": down}, "key": "service.unavailable",
                          "params": {"dependency": ", ".join(down)}}}
        return jsonify(body), 503
    return jsonify({"status": "ready", "checks": checks})
