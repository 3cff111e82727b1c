"""gunicorn's settings for the PFlow API (docs/production-server.md), read from PFlow's environment::

    gunicorn -c python:pflow.entrypoints.http.gunicorn_conf pflow.entrypoints.http.wsgi:app

- worker class ``gthread``: ``workers`` processes (PFLOW_WEB_WORKERS, default 2 x cores + 1, at most 8) of
  ``threads`` request threads each (PFLOW_WEB_THREADS, default 4);
- ``bind`` from API_HTTP_PORT (``:8080`` -> 0.0.0.0:8080, or ``host:port``);
- ``timeout``, ``graceful_timeout``, ``keepalive``, ``max_requests`` + ``max_requests_jitter`` from
  PFLOW_WEB_TIMEOUT_S, PFLOW_WEB_GRACEFUL_TIMEOUT_S, PFLOW_WEB_KEEPALIVE_S, PFLOW_WEB_MAX_REQUESTS and
  PFLOW_WEB_MAX_REQUESTS_JITTER;
- SIGHUP reloads gracefully (gunicorn's own): new workers start with the code and settings as they are now,
  the old ones finish their requests (up to graceful_timeout) and exit; SIGTERM stops the same way;
- logs: gunicorn's error log goes through PFlow's formatter (PFLOW_LOG_FORMAT); its access log is off,
  PFlow writes one ``pflow.access`` line per request itself.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

from pflow.config import ConfigError, Settings, is_local_host, parse_http_address

try:
    _settings = Settings.from_env()
    _host, _port = parse_http_address(os.environ.get("API_HTTP_PORT") or ":8080", default_host="0.0.0.0")
except ConfigError as _exc:
    sys.exit(f"PFlow: {_exc}")

# Several worker processes share one /metrics: prometheus_client's multiprocess mode, which must be chosen before
# any process imports it. An operator's PROMETHEUS_MULTIPROC_DIR wins (the Helm chart sets one on an emptyDir).
if _settings.metrics_enabled and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = os.path.join(tempfile.gettempdir(), f"pflow-metrics-{os.getpid()}")

bind = [f"[{_host}]:{_port}" if ":" in _host else f"{_host}:{_port}"]
worker_class = "gthread"
workers = _settings.web_worker_count
threads = _settings.web_threads
timeout = _settings.web_timeout_s
graceful_timeout = _settings.web_graceful_timeout_s
keepalive = _settings.web_keepalive_s
max_requests = _settings.web_max_requests
max_requests_jitter = _settings.web_max_requests_jitter if _settings.web_max_requests else 0
proc_name = "pflow-api"
# /dev/shm where it exists: a worker's heartbeat file on a slow or full disk would look like a hung worker
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# PFlow writes its own access line (pflow.access: route, user, request id); gunicorn's would double it.
accesslog = None
errorlog = "-"
loglevel = "info"
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {
        "stderr": {"()": "pflow.entrypoints.logs.handler", "log_format": _settings.log_format},
    },
    "root": {"level": "INFO", "handlers": ["stderr"]},
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": [], "propagate": True},
        "gunicorn.access": {"level": "WARNING", "handlers": [], "propagate": False},
        # quieter third parties, as `pflow serve` has them (pflow.entrypoints.runtime.configure_logging)
        "alembic": {"level": "WARNING"},
        "spiff": {"level": "WARNING"},
        "urllib3.connectionpool": {"level": "ERROR"},
    },
}


def on_starting(server) -> None:
    """In the master, once: an empty PROMETHEUS_MULTIPROC_DIR (no counters of an earlier run), the demo-user
    guard of `pflow serve`, then the schema check (or SQLite migration) and the BPMN deployment, so the
    workers only build their application."""
    metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if metrics_dir:
        path = Path(metrics_dir)
        if path.is_dir():
            shutil.rmtree(path)
        path.mkdir(parents=True, exist_ok=True)
    if _settings.demo_users_active and not is_local_host(_host):
        sys.exit(f"PFlow: refusing to serve the demo users (password = name) on {_host}, which other machines can "
                 "reach. Set PFLOW_USERS_FILE to a users file and PFLOW_DEMO_USERS=0, or bind to this machine only: "
                 f"API_HTTP_PORT=127.0.0.1:{_port}.")
    from pflow.container import build_container, shutdown
    from pflow.entrypoints.http.wsgi import PREPARED_ENV
    from pflow.entrypoints.runtime import prepare

    container = build_container(_settings)
    try:
        prepare(container)
    except ConfigError as exc:
        sys.exit(f"PFlow: {exc}")
    finally:
        shutdown(container)
    os.environ[PREPARED_ENV] = "1"
    server.log.info("PFlow API on %s: %s workers x %s threads (engine: %s)", bind[0], workers, threads,
                    _settings.workflow_engine)


def post_worker_init(worker) -> None:
    """Each worker builds its application (and its own connections) before it takes a request."""
    from pflow.entrypoints.http.wsgi import app

    app.load()


def worker_exit(server, worker) -> None:
    """A worker leaving (reload, max_requests, stop) closes its database and engine connections."""
    wsgi = sys.modules.get("pflow.entrypoints.http.wsgi")
    if wsgi is not None:
        wsgi.app.close()


def child_exit(server, worker) -> None:
    """In the master, after a worker exited: its Prometheus files are marked dead (when metrics are in use)."""
    try:
        from pflow.adapters import metrics
    except ImportError:
        return
    hook = getattr(metrics, "child_exit", None)
    if hook is not None:
        hook(server, worker)
