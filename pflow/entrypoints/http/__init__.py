"""The HTTP API (Flask + flask-smorest)."""

from pflow.entrypoints.http.app import create_app

__all__ = ["create_app"]
