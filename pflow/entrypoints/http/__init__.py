"""The HTTP API (Flask + flask-smorest).

``create_app`` is loaded on first use, so importing a module of this package (``gunicorn_conf`` above all)
does not import the application, the container and prometheus_client before that module ran: gunicorn's
config chooses prometheus_client's multiprocess mode, which only works if it is chosen first.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from pflow.entrypoints.http.app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
