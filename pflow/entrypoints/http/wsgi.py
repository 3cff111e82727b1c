"""The API as a WSGI application for gunicorn (docs/production-server.md)::

    gunicorn -c python:pflow.entrypoints.http.gunicorn_conf pflow.entrypoints.http.wsgi:app

API only, as `pflow serve` runs on Camunda with PFLOW_SERVE_WORKER=0: no worker, relay, timers, reminders,
consumer or deliveries in these processes; `pflow worker` and `pflow consume` run them as their own processes
(the Compose services `worker` and `consumer`). Each gunicorn worker builds its own container (connections
are never shared across a fork), with its database pool sized to PFLOW_WEB_THREADS. The schema check or
migration and the BPMN deployment run once, in gunicorn's master before the workers start
(``gunicorn_conf.on_starting``); imported elsewhere, this module runs them itself.
"""

from __future__ import annotations

import os
import threading

from pflow.adapters import tracing
from pflow.config import Settings
from pflow.container import build_container, shutdown
from pflow.entrypoints.runtime import prepare

#: set by gunicorn_conf.on_starting once the master has prepared the database and deployed the processes
PREPARED_ENV = "PFLOW_GUNICORN_PREPARED"


def web_settings(env=None) -> Settings:
    """The settings of an API process under gunicorn: its request threads are PFLOW_WEB_THREADS, which also
    size its database pool (Settings.database_pool_size) and its engine connection pool."""
    settings = Settings.from_env(env)
    return settings.replace(http_threads=settings.web_threads)


def create_wsgi_app():
    from pflow.entrypoints.http import create_app

    settings = web_settings()
    tracing.configure(settings, "pflow-api")  # before the container makes its database engines, to trace them
    container = build_container(settings)
    try:
        if os.environ.get(PREPARED_ENV) != "1":
            prepare(container)
        application = create_app(container)
    except BaseException:
        shutdown(container)
        raise
    application.config["PFLOW_CONTAINER"] = container
    return application


class LazyApp:
    """The WSGI callable; the Flask application (and its container) is built in the process that serves,
    never in gunicorn's master, which imports this module but must hold no connections across the fork:
    ``load`` runs in each worker after the fork (gunicorn_conf.post_worker_init), or at the first request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.application = None

    def load(self):
        with self._lock:
            if self.application is None:
                self.application = create_wsgi_app()
            return self.application

    def close(self) -> None:
        """Close this process's database and engine connections (gunicorn_conf.worker_exit)."""
        with self._lock:
            application, self.application = self.application, None
        if application is not None:
            shutdown(application.config["PFLOW_CONTAINER"])
        tracing.flush()

    def __call__(self, environ, start_response):
        application = self.application or self.load()
        return application(environ, start_response)


app = LazyApp()
