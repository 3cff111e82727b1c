"""Configuration, read once from the environment.

Variable names follow the system PFlow replaces (DATABASE_URL, CAMUNDA_URL,
CAMUNDA_USERNAME, CAMUNDA_PASSWORD, CAMUNDA_PROCESS_KEY, RABBITMQ_URL, RABBITMQ_TICKET_EXCHANGE,
RABBITMQ_TICKET_QUEUE, API_HTTP_PORT) plus PFlow's own ``WORKFLOW_ENGINE`` and
``PFLOW_*`` settings. The README's configuration table lists every one.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Mapping

from pflow.domain.durations import check_duration

REPO_ROOT = Path(__file__).resolve().parent.parent
ENGINES = ("memory", "embedded", "camunda", "operaton")
#: engines PFlow reaches over Camunda 7's REST API (CAMUNDA_URL): Camunda 7 and its open fork Operaton
REST_ENGINES = ("camunda", "operaton")


class ConfigError(ValueError):
    """A setting is missing or wrong; the message names the variable and what to do."""


def _bool(env: Mapping[str, str], name: str, default: bool | None) -> bool | None:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean (use 1 or 0)")


MAX_TOKEN_TTL_S = 24 * 3600  # a stolen token is good for at most a day


LOG_FORMATS = ("text", "json")


def _log_format(env: Mapping[str, str]) -> str:
    raw = env.get("PFLOW_LOG_FORMAT") or "text"
    value = raw.strip().lower()
    if value not in LOG_FORMATS:
        raise ConfigError(f"PFLOW_LOG_FORMAT={raw!r} is not one of {', '.join(LOG_FORMATS)} (text: one readable "
                          "line per record; json: one JSON object per line, for log collectors)")
    return value


def log_format_from_env(env: Mapping[str, str] | None = None) -> str:
    """PFLOW_LOG_FORMAT alone, for setting up logging before the rest of the settings are read."""
    return _log_format(os.environ if env is None else env)


def default_web_workers(cores: int | None = None) -> int:
    """gunicorn worker processes when PFLOW_WEB_WORKERS is unset: 2 x cores + 1, at most MAX_DEFAULT_WEB_WORKERS."""
    cores = cores if cores is not None else (os.cpu_count() or 1)
    return min(2 * cores + 1, MAX_DEFAULT_WEB_WORKERS)


#: the default worker count stops here, so a large host does not open more database connections than
#: PostgreSQL allows (docs/production-server.md); PFLOW_WEB_WORKERS may go higher deliberately
MAX_DEFAULT_WEB_WORKERS = 8


def _duration(env: Mapping[str, str], name: str, default: str) -> str:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return check_duration(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an ISO 8601 duration (e.g. PT4H, PT30M, P1D)") from None


def _int(env: Mapping[str, str], name: str, default: int | None, minimum: int = 0,
         maximum: int | None = None) -> int | None:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number") from None
    if value < minimum:
        raise ConfigError(f"{name}={raw!r} must be at least {minimum}")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{name}={raw!r} must be at most {maximum}")
    return value


def _camunda_credentials(env: Mapping[str, str]) -> dict[str, str | None]:
    """CAMUNDA_USERNAME and CAMUNDA_PASSWORD: both (basic authentication on every REST call) or neither."""
    username, password = env.get("CAMUNDA_USERNAME") or None, env.get("CAMUNDA_PASSWORD") or None
    if username is not None and not username.strip():
        raise ConfigError("CAMUNDA_USERNAME is blank; set it to the Camunda user PFlow calls the REST API as")
    if username and ":" in username:
        raise ConfigError("CAMUNDA_USERNAME must not contain ':' (HTTP basic authentication cannot carry it)")
    if username and not password:
        raise ConfigError("CAMUNDA_PASSWORD is not set but CAMUNDA_USERNAME is: set both (the Camunda user PFlow "
                          "calls the REST API as, and its password) or neither")
    if password and not username:
        raise ConfigError("CAMUNDA_USERNAME is not set but CAMUNDA_PASSWORD is: set both (the Camunda user PFlow "
                          "calls the REST API as, and its password) or neither")
    return {"camunda_username": username, "camunda_password": password}


def _engine_rest_credentials(env: Mapping[str, str]) -> dict[str, str | None]:
    """PFLOW_ENGINE_REST_USERNAME and PFLOW_ENGINE_REST_PASSWORD: both (the embedded engine answers Camunda's
    external-task REST under /engine-rest, behind HTTP basic authentication) or neither (it does not)."""
    username = env.get("PFLOW_ENGINE_REST_USERNAME") or None
    password = env.get("PFLOW_ENGINE_REST_PASSWORD") or None
    if username is not None and not username.strip():
        raise ConfigError("PFLOW_ENGINE_REST_USERNAME is blank; set it to the user external-task workers send")
    if username and ":" in username:
        raise ConfigError("PFLOW_ENGINE_REST_USERNAME must not contain ':' (HTTP basic authentication cannot "
                          "carry it)")
    if bool(username) != bool(password):
        missing, given = (("PFLOW_ENGINE_REST_PASSWORD", "PFLOW_ENGINE_REST_USERNAME") if username
                          else ("PFLOW_ENGINE_REST_USERNAME", "PFLOW_ENGINE_REST_PASSWORD"))
        raise ConfigError(f"{missing} is not set but {given} is: set both (the user and password external-task "
                          "workers authenticate with at /engine-rest) or neither (no /engine-rest)")
    return {"engine_rest_username": username, "engine_rest_password": password}


SMTP_SECURITY = ("starttls", "tls", "none")


def _smtp(env: Mapping[str, str]) -> dict[str, object]:
    """SMTP_HOST (e-mail is off without it), SMTP_PORT, SMTP_SECURITY, SMTP_USERNAME + SMTP_PASSWORD (both or
    neither), SMTP_FROM, SMTP_TIMEOUT_S."""
    host = (env.get("SMTP_HOST") or "").strip() or None
    port = _int(env, "SMTP_PORT", None, minimum=1, maximum=65535)
    security = (env.get("SMTP_SECURITY") or "").strip().lower()
    if security and security not in SMTP_SECURITY:
        raise ConfigError(f"SMTP_SECURITY={security!r} is not one of {', '.join(SMTP_SECURITY)} (starttls: "
                          "port 587; tls: TLS from the start, port 465; none: a local relay without TLS)")
    if not security:
        security = "tls" if port == 465 else "starttls" if port in (None, 587) else "none"
    username = env.get("SMTP_USERNAME") or None
    password = env.get("SMTP_PASSWORD") or None
    if bool(username) != bool(password):
        missing = "SMTP_PASSWORD" if username else "SMTP_USERNAME"
        raise ConfigError(f"{missing} is not set: SMTP authentication needs both SMTP_USERNAME and SMTP_PASSWORD, "
                          "or neither (a server that takes mail without a login)")
    sender = (env.get("SMTP_FROM") or "").strip() or Settings.smtp_from
    if "@" not in sender or any(c in sender for c in "\r\n"):
        raise ConfigError(f"SMTP_FROM={sender!r} is not a sender address (e.g. PFlow <pflow@example.com>)")
    return {"smtp_host": host, "smtp_port": port or (465 if security == "tls" else 587 if security == "starttls"
                                                      else 25),
            "smtp_security": security, "smtp_username": username, "smtp_password": password, "smtp_from": sender,
            "smtp_timeout_s": _int(env, "SMTP_TIMEOUT_S", Settings.smtp_timeout_s, minimum=1)}


def _public_url(env: Mapping[str, str]) -> str | None:
    raw = (env.get("PFLOW_PUBLIC_URL") or "").strip().rstrip("/")
    if raw and not (raw.startswith("http://") or raw.startswith("https://")):
        raise ConfigError(f"PFLOW_PUBLIC_URL={raw!r} must start with http:// or https:// (the address people "
                          "open PFlow at, e.g. https://pflow.example.com)")
    return raw or None


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...], default: str) -> str:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    if raw.lower() not in choices:
        raise ConfigError(f"{name}={raw!r} is not one of {', '.join(choices)}")
    return raw.lower()


def _tracing_endpoint(env: Mapping[str, str]) -> str | None:
    raw = (env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or "").strip()
    if not raw:
        return None
    if not re.match(r"https?://[^/\s]+", raw):
        raise ConfigError(f"OTEL_EXPORTER_OTLP_ENDPOINT={raw!r} is not an http(s) URL; give the collector's OTLP/HTTP "
                          "address, e.g. http://otel-collector:4318")
    return raw


def _metrics_token(env: Mapping[str, str]) -> str | None:
    """PFLOW_METRICS_TOKEN: the bearer token Prometheus sends to /metrics (unset: /metrics is open)."""
    raw = env.get("PFLOW_METRICS_TOKEN")
    if raw is None or raw == "":
        return None
    if raw != raw.strip() or any(c.isspace() for c in raw):
        raise ConfigError("PFLOW_METRICS_TOKEN must not contain spaces or line breaks (it is sent as "
                          "`Authorization: Bearer <token>`)")
    if not raw.isascii() or not raw.isprintable():
        raise ConfigError("PFLOW_METRICS_TOKEN must be printable ASCII (it is sent in an HTTP header)")
    if len(raw) < 16:
        raise ConfigError("PFLOW_METRICS_TOKEN is shorter than 16 characters; use a long random token "
                          "(e.g. `openssl rand -hex 32`)")
    return raw


LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def is_local_host(host: str) -> bool:
    """Only this machine can reach a server bound to it (loopback)."""
    return host in LOCAL_HOSTS or host.startswith("127.")


def parse_http_address(raw: str, default_host: str = "0.0.0.0") -> tuple[str, int]:
    """``:8080``, ``8080`` or ``0.0.0.0:8080`` -> (host, port). No host means ``default_host``
    (all interfaces, except for the embedded default, which passes 127.0.0.1)."""
    raw = raw.strip()
    host, _, port = raw.rpartition(":") if ":" in raw else ("", "", raw)
    try:
        number = int(port)
    except ValueError:
        raise ConfigError(f"API_HTTP_PORT={raw!r} is not a port (use 8080 or :8080)") from None
    if not 0 < number < 65536:
        raise ConfigError(f"API_HTTP_PORT={raw!r} is out of range")
    return host or default_host, number


def normalise_database_url(url: str) -> str:
    """Accept the libpq-style ``postgres://`` URLs the old system used."""
    if url.startswith("postgres://"):
        return "postgresql+psycopg2://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        return "postgresql+psycopg2://" + url[len("postgresql://"):]
    return url


def default_database_url(data_dir: Path) -> str:
    """The embedded default: a SQLite file under the data directory (WAL mode)."""
    return f"sqlite:///{data_dir / 'pflow.db'}"


def default_events_url(data_dir: Path) -> str:
    """The embedded default event transport: a durable local store next to the database, so
    events survive a restart without a broker (kombu's SQLAlchemy transport, see docs/events.md)."""
    return f"sqla+sqlite:///{data_dir / 'events.db'}"


@dataclass(frozen=True)
class OidcSettings:
    """Single sign-on with an OpenID Connect provider (Keycloak, Entra ID, Okta, Google, ...): OIDC_* variables."""

    issuer: str
    client_id: str
    client_secret: str | None = None
    #: the claim that lists the user's groups, and how the provider's group names map to the groups processes name
    groups_claim: str = "groups"
    group_map: tuple[tuple[str, str], ...] = ()
    #: provider groups (after mapping) whose members are PFlow admins
    admin_groups: frozenset[str] = frozenset({"admins"})
    username_claim: str = "preferred_username"
    scopes: str = "openid profile email"
    #: the audience an access token sent as a bearer token must name (default: the client id)
    audience: str | None = None
    #: where the provider sends the browser back; default: this server's /api/auth/oidc/callback
    redirect_uri: str | None = None
    #: the name the login page shows on its button
    name: str = "single sign-on"
    #: where PFlow reads the discovery document, when it reaches the provider by another address than browsers
    #: do (Compose: Keycloak on the internal network); default: <issuer>/.well-known/openid-configuration
    discovery_url: str | None = None

    def pflow_group(self, provider_group: str) -> str:
        name = provider_group.lstrip("/")
        return dict(self.group_map).get(name, name)


def _oidc_from_env(env: Mapping[str, str]) -> OidcSettings | None:
    issuer = (env.get("OIDC_ISSUER") or "").strip().rstrip("/")
    client_id = (env.get("OIDC_CLIENT_ID") or "").strip()
    if not issuer and not client_id:
        return None
    if not issuer or not client_id:
        missing = "OIDC_ISSUER" if not issuer else "OIDC_CLIENT_ID"
        raise ConfigError(f"{missing} is not set: single sign-on needs both OIDC_ISSUER and OIDC_CLIENT_ID")
    if not issuer.startswith(("https://", "http://")):
        raise ConfigError(f"OIDC_ISSUER={issuer!r} is not a URL (the provider's issuer, e.g. "
                          "https://sso.example.com/realms/pflow)")
    pairs = []
    for item in filter(None, (p.strip() for p in (env.get("OIDC_GROUP_MAP") or "").split(","))):
        source, sep, target = (x.strip() for x in item.partition("="))
        if not sep or not source or not target:
            raise ConfigError(f"OIDC_GROUP_MAP entry {item!r} is not 'provider-group=pflow-group'")
        pairs.append((source.lstrip("/"), target))
    admins = frozenset(filter(None, (g.strip() for g in (env.get("OIDC_ADMIN_GROUPS") or "admins").split(","))))
    return OidcSettings(
        issuer=issuer, client_id=client_id, client_secret=env.get("OIDC_CLIENT_SECRET") or None,
        groups_claim=(env.get("OIDC_GROUPS_CLAIM") or "groups").strip(), group_map=tuple(pairs),
        admin_groups=admins, username_claim=(env.get("OIDC_USERNAME_CLAIM") or "preferred_username").strip(),
        scopes=env.get("OIDC_SCOPES") or "openid profile email", audience=env.get("OIDC_AUDIENCE") or None,
        redirect_uri=env.get("OIDC_REDIRECT_URI") or None, name=env.get("OIDC_PROVIDER_NAME") or "single sign-on",
        discovery_url=env.get("OIDC_DISCOVERY_URL") or None)


@dataclass(frozen=True)
class Settings:
    workflow_engine: str = "embedded"
    database_url: str = default_database_url(REPO_ROOT / "var")
    camunda_url: str = "http://localhost:8081/engine-rest"
    #: HTTP basic authentication on Camunda's REST API (both or neither); the password never shows in a repr
    camunda_username: str | None = None
    camunda_password: str | None = field(default=None, repr=False)
    camunda_process_key: str = "ticket_approval"
    camunda_timeout_s: int = 10  # read timeout of every Camunda REST call except long polls
    camunda_max_poll_ms: int = 2_000  # longest single fetchAndLock long poll (Camunda's asyncResponseTimeout)
    #: the embedded engine's Camunda 7 external-task REST under /engine-rest, for workers written with Camunda's
    #: clients: on with both (HTTP basic authentication), off with neither; the password never shows in a repr
    engine_rest_username: str | None = None
    engine_rest_password: str | None = field(default=None, repr=False)
    #: longest fetchAndLock long poll at /engine-rest (a client's asyncResponseTimeout is cut to it); each waiting
    #: poll holds one of the http_threads
    engine_rest_max_wait_ms: int = 60_000
    engine_max_calls: int = 4  # engine calls at once per process for requests and handlers (a bulkhead)
    #: when every engine call place is held by a call running longer than this, one more call answers 503;
    #: None: 500 ms for a server engine (Camunda/Operaton), 2 000 ms for the embedded one, whose calls also
    #: queue behind each other for the database file's writer lock
    engine_wait_ms: int | None = None
    rabbitmq_url: str = default_events_url(REPO_ROOT / "var")
    rabbitmq_exchange: str = "ticket.events"
    rabbitmq_queue: str = "ticket.events.queue"
    #: RABBITMQ_QUEUE_TYPE: `classic`, or `quorum` (replicated over a RabbitMQ cluster; docs/kubernetes.md)
    rabbitmq_queue_type: str = "classic"
    http_host: str = "127.0.0.1"  # the embedded default; from_env: all interfaces for a server engine
    http_port: int = 8080
    data_dir: Path = REPO_ROOT / "var"
    secret_key: str | None = None
    token_ttl_s: int = 8 * 3600
    login_max_failures: int = 5  # failed logins per username within login_window_s before a lockout
    login_address_max_failures: int = 20  # the same per client address (several users may share one)
    login_window_s: int = 15 * 60
    login_lockout_s: int = 15 * 60
    proxy_hops: int = 0  # reverse proxies in front of the API that append to X-Forwarded-For (nginx in Compose: 1)
    users_file: Path | None = None
    oidc: OidcSettings | None = None  # single sign-on (OIDC_ISSUER, OIDC_CLIENT_ID, ...); None: local users only
    demo_users: bool | None = None  # PFLOW_DEMO_USERS; None (unset): only the embedded default on localhost
    separation_of_duties: bool = True
    access_log: bool = True  # PFLOW_ACCESS_LOG: one `pflow.access` line per HTTP request
    workflows_dir: Path = REPO_ROOT / "deploy" / "workflows"  # every *.bpmn and *.type.yaml there
    bpmn_file: Path | None = None  # one more BPMN file deployed at start-up, outside workflows_dir
    provisioning_topic: str = "ticket-processing"  # the topic of PFlow's built-in provisioning step
    ui_dir: Path = REPO_ROOT / "frontend" / "dist"
    worker_id: str | None = None
    worker_concurrency: int = 4
    worker_lock_ms: int = 30_000
    worker_retry_backoff_ms: int = 1_000
    provisioning_retries: int = 3
    provisioning_fail_marker: str | None = None
    run_worker_in_serve: bool = True
    http_threads: int = 8
    log_format: str = "text"  # PFLOW_LOG_FORMAT: text or json (one object per line)
    # --- gunicorn (deploy/Dockerfile, docs/production-server.md); `pflow serve` uses http_threads instead
    web_workers: int | None = None  # PFLOW_WEB_WORKERS; None: default_web_workers() (2 x cores + 1, capped)
    web_threads: int = 4  # PFLOW_WEB_THREADS: request threads per gunicorn worker process (gthread)
    web_timeout_s: int = 60  # PFLOW_WEB_TIMEOUT_S: a worker silent this long is killed and replaced
    web_graceful_timeout_s: int = 30  # PFLOW_WEB_GRACEFUL_TIMEOUT_S: time to finish requests on stop or reload
    web_keepalive_s: int = 5  # PFLOW_WEB_KEEPALIVE_S: idle keep-alive connections are closed after this
    web_max_requests: int = 1000  # PFLOW_WEB_MAX_REQUESTS: a worker is replaced after this many; 0: never
    web_max_requests_jitter: int = 100  # PFLOW_WEB_MAX_REQUESTS_JITTER: random extra, so workers do not restart together
    #: database connections kept open per process (PFLOW_DB_POOL_SIZE); None: the request threads + 2
    db_pool_size: int | None = None
    db_max_overflow: int = 2  # PFLOW_DB_MAX_OVERFLOW: connections opened beyond the pool at a peak
    run_consumer_in_serve: bool = True
    run_relay_in_worker: bool = True
    outbox_retention_days: int = 7  # sent events kept in the outbox; 0 keeps them forever
    reconcile_interval_s: int = 60  # how often serve/worker compare in-flight tickets with the engine; 0: never
    timer_interval_s: int = 1  # how often serve/worker fire the embedded engine's due timers; 0: never
    remind_before: str = "PT4H"  # PFLOW_REMIND_BEFORE: a step's reminder goes out this long before it is due
    reminder_interval_s: int = 60  # how often serve/worker look for steps to remind of; 0: never
    task_handlers: str | None = None  # PFLOW_TASK_HANDLERS: extra "module:factory" handler factories
    # --- e-mail (docs/notifications.md): off without SMTP_HOST; the password never shows in a repr
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_security: str = "starttls"  # SMTP_SECURITY: starttls | tls (TLS on connect, port 465) | none (local relay)
    smtp_username: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    smtp_from: str = "PFlow <pflow@localhost>"  # the sender of every e-mail
    smtp_timeout_s: int = 10
    #: the address people open PFlow at, for the links in e-mails and chat messages; None: http://<host>:<port>
    public_url: str | None = None
    email_link_ttl: str = "P3D"  # PFLOW_EMAIL_LINK_TTL: how long an e-mail's approve/reject links work
    digest_hour: int = 8  # PFLOW_DIGEST_HOUR: the hour (UTC) the daily digest e-mails go out
    webhook_disable_after: int = 20  # an endpoint is disabled after this many failed deliveries in a row
    delivery_retry_base_s: int = 5  # the first retry of a failed e-mail or webhook call waits this long, doubling
    delivery_retry_max_s: int = 900  # ...up to this long between attempts
    delivery_max_attempts: int = 100  # ...and gives up after this many attempts (about a day at the defaults)
    #: PFLOW_METRICS: Prometheus metrics at /metrics (docs/metrics.md); off: /metrics answers 404
    metrics_enabled: bool = True
    #: PFLOW_METRICS_TOKEN: when set, /metrics wants `Authorization: Bearer <token>`; never shows in a repr
    metrics_token: str | None = field(default=None, repr=False)
    #: PFLOW_METRICS_PORT: `pflow worker` and `pflow consume` serve their own /metrics on this port; None: they do not
    metrics_port: int | None = None
    delivery_lease_s: int = 60  # PFLOW_DELIVERY_LEASE_S: a sender that died holding deliveries leaves them due again after this long
    #: OTEL_EXPORTER_OTLP_ENDPOINT: where spans go (OTLP over HTTP, docs/tracing.md); None: no tracing
    tracing_endpoint: str | None = None
    #: OTEL_SERVICE_NAME: the service name on the spans; None: pflow-api, pflow-worker, pflow-consumer, ...
    tracing_service_name: str | None = None

    def __post_init__(self) -> None:
        if bool(self.camunda_username) != bool(self.camunda_password):
            missing = "camunda_password" if self.camunda_username else "camunda_username"
            raise ConfigError(f"{missing} is not set: Camunda credentials need both camunda_username and "
                              "camunda_password (CAMUNDA_USERNAME / CAMUNDA_PASSWORD), or neither")

        if bool(self.engine_rest_username) != bool(self.engine_rest_password):
            missing = "engine_rest_password" if self.engine_rest_username else "engine_rest_username"
            raise ConfigError(f"{missing} is not set: the external-task REST needs both engine_rest_username and "
                              "engine_rest_password (PFLOW_ENGINE_REST_USERNAME / PFLOW_ENGINE_REST_PASSWORD), "
                              "or neither")

    @property
    def tracing_enabled(self) -> bool:
        """Spans are exported (OTEL_EXPORTER_OTLP_ENDPOINT is set)."""
        return self.tracing_endpoint is not None

    @property
    def engine_rest_auth(self) -> tuple[str, str] | None:
        """(user, password) external-task workers authenticate with at /engine-rest; None: /engine-rest is off."""
        if self.engine_rest_username and self.engine_rest_password:
            return self.engine_rest_username, self.engine_rest_password
        return None

    @property
    def camunda_auth(self) -> tuple[str, str] | None:
        """(user, password) for Camunda's REST API, or None to send no credentials."""
        if self.camunda_username and self.camunda_password:
            return self.camunda_username, self.camunda_password
        return None

    @property
    def is_embedded_default(self) -> bool:
        """The one-process demo setup (memory or embedded engine), where demo users are fine."""
        return self.workflow_engine in ("memory", "embedded")

    @property
    def demo_users_active(self) -> bool:
        """Whether the demo accounts (password = name) log in: never with a users file; else as
        PFLOW_DEMO_USERS says; unset, only for the embedded default bound to this machine."""
        if self.users_file is not None:
            return False
        if self.demo_users is not None:
            return self.demo_users
        return self.is_embedded_default and is_local_host(self.http_host)

    @property
    def email_enabled(self) -> bool:
        return bool(self.smtp_host)

    @property
    def base_url(self) -> str:
        """PFLOW_PUBLIC_URL, else this server's own address."""
        if self.public_url:
            return self.public_url
        host = "localhost" if self.http_host in ("0.0.0.0", "::", "127.0.0.1") else self.http_host
        return f"http://{host}:{self.http_port}"

    @property
    def web_worker_count(self) -> int:
        """gunicorn worker processes: PFLOW_WEB_WORKERS, else 2 x cores + 1 (at most MAX_DEFAULT_WEB_WORKERS)."""
        return self.web_workers if self.web_workers is not None else default_web_workers()

    @property
    def database_pool_size(self) -> int:
        """Connections kept per process: PFLOW_DB_POOL_SIZE, else one per request thread (http_threads; under
        gunicorn the wsgi module sets it to PFLOW_WEB_THREADS) + 2 for the engine's and the relay's own."""
        return self.db_pool_size if self.db_pool_size is not None else self.http_threads + 2

    @property
    def engine_pool_size(self) -> int:
        """HTTP connections to Camunda/Operaton kept per process: one per thread that calls it (request threads
        or worker slots, whichever is more) + 2 for the reconciler and the health check."""
        return max(self.http_threads, self.worker_concurrency) + 2

    @property
    def engine_wait_s(self) -> float:
        """``engine_wait_ms`` in seconds, with the engine's own default when unset."""
        if self.engine_wait_ms is not None:
            return self.engine_wait_ms / 1000
        return 2.0 if self.is_embedded_default else 0.5

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides) -> "Settings":
        env = os.environ if env is None else env
        engine = (env.get("WORKFLOW_ENGINE") or cls.workflow_engine).strip().lower()
        if engine not in ENGINES:
            raise ConfigError(f"WORKFLOW_ENGINE={engine!r} is not one of {', '.join(ENGINES)}")
        host, port = parse_http_address(env.get("API_HTTP_PORT") or ":8080",
                                        default_host="127.0.0.1" if engine in ("memory", "embedded") else "0.0.0.0")
        data_dir = Path(env.get("PFLOW_DATA_DIR") or cls.data_dir)
        users_file = env.get("PFLOW_USERS_FILE")
        values = dict(
            workflow_engine=engine,
            database_url=normalise_database_url(env.get("DATABASE_URL") or default_database_url(data_dir)),
            camunda_url=(env.get("CAMUNDA_URL") or cls.camunda_url).rstrip("/"),
            **_camunda_credentials(env),
            camunda_process_key=env.get("CAMUNDA_PROCESS_KEY") or cls.camunda_process_key,
            rabbitmq_url=env.get("RABBITMQ_URL") or default_events_url(data_dir),
            rabbitmq_exchange=env.get("RABBITMQ_TICKET_EXCHANGE") or cls.rabbitmq_exchange,
            rabbitmq_queue=env.get("RABBITMQ_TICKET_QUEUE") or cls.rabbitmq_queue,
            rabbitmq_queue_type=_choice(env, "RABBITMQ_QUEUE_TYPE", ("classic", "quorum"), cls.rabbitmq_queue_type),
            http_host=host,
            http_port=port,
            data_dir=data_dir,
            secret_key=env.get("PFLOW_SECRET_KEY") or None,
            token_ttl_s=_int(env, "PFLOW_TOKEN_TTL", cls.token_ttl_s, minimum=60,
                             maximum=MAX_TOKEN_TTL_S),
            login_max_failures=_int(env, "PFLOW_LOGIN_MAX_FAILURES", cls.login_max_failures, minimum=1),
            login_address_max_failures=_int(env, "PFLOW_LOGIN_ADDRESS_MAX_FAILURES", cls.login_address_max_failures,
                                            minimum=1),
            login_window_s=_int(env, "PFLOW_LOGIN_WINDOW_S", cls.login_window_s, minimum=1),
            login_lockout_s=_int(env, "PFLOW_LOGIN_LOCKOUT_S", cls.login_lockout_s, minimum=1),
            proxy_hops=_int(env, "PFLOW_PROXY_HOPS", cls.proxy_hops),
            users_file=Path(users_file) if users_file else None,
            oidc=_oidc_from_env(env),
            demo_users=_bool(env, "PFLOW_DEMO_USERS", None),
            separation_of_duties=_bool(env, "PFLOW_SEPARATION_OF_DUTIES", True),
            access_log=_bool(env, "PFLOW_ACCESS_LOG", True),
            workflows_dir=Path(env.get("PFLOW_WORKFLOWS_DIR") or cls.workflows_dir),
            bpmn_file=Path(env["PFLOW_BPMN_FILE"]) if env.get("PFLOW_BPMN_FILE") else None,
            provisioning_topic=env.get("PFLOW_PROVISIONING_TOPIC") or cls.provisioning_topic,
            ui_dir=Path(env.get("PFLOW_UI_DIR") or cls.ui_dir),
            worker_id=env.get("PFLOW_WORKER_ID") or None,
            worker_concurrency=_int(env, "PFLOW_WORKER_CONCURRENCY", cls.worker_concurrency, minimum=1),
            worker_lock_ms=_int(env, "PFLOW_WORKER_LOCK_MS", cls.worker_lock_ms, minimum=1000),
            worker_retry_backoff_ms=_int(env, "PFLOW_WORKER_RETRY_BACKOFF_MS", cls.worker_retry_backoff_ms),
            provisioning_retries=_int(env, "PFLOW_PROVISIONING_RETRIES", cls.provisioning_retries, minimum=1),
            provisioning_fail_marker=env.get("PFLOW_PROVISIONING_FAIL_MARKER") or None,
            run_worker_in_serve=_bool(env, "PFLOW_SERVE_WORKER", engine not in REST_ENGINES),
            http_threads=_int(env, "PFLOW_HTTP_THREADS", cls.http_threads, minimum=1),
            log_format=_log_format(env),
            web_workers=_int(env, "PFLOW_WEB_WORKERS", cls.web_workers, minimum=1, maximum=256),
            web_threads=_int(env, "PFLOW_WEB_THREADS", cls.web_threads, minimum=1, maximum=256),
            web_timeout_s=_int(env, "PFLOW_WEB_TIMEOUT_S", cls.web_timeout_s, minimum=1),
            web_graceful_timeout_s=_int(env, "PFLOW_WEB_GRACEFUL_TIMEOUT_S", cls.web_graceful_timeout_s, minimum=1),
            web_keepalive_s=_int(env, "PFLOW_WEB_KEEPALIVE_S", cls.web_keepalive_s, maximum=300),
            web_max_requests=_int(env, "PFLOW_WEB_MAX_REQUESTS", cls.web_max_requests),
            web_max_requests_jitter=_int(env, "PFLOW_WEB_MAX_REQUESTS_JITTER", cls.web_max_requests_jitter),
            db_pool_size=_int(env, "PFLOW_DB_POOL_SIZE", cls.db_pool_size, minimum=1),
            db_max_overflow=_int(env, "PFLOW_DB_MAX_OVERFLOW", cls.db_max_overflow),
            run_consumer_in_serve=_bool(env, "PFLOW_SERVE_CONSUMER", engine not in REST_ENGINES),
            run_relay_in_worker=_bool(env, "PFLOW_WORKER_RELAY", True),
            outbox_retention_days=_int(env, "PFLOW_OUTBOX_RETENTION_DAYS", cls.outbox_retention_days),
            reconcile_interval_s=_int(env, "PFLOW_RECONCILE_INTERVAL_S", cls.reconcile_interval_s),
            timer_interval_s=_int(env, "PFLOW_TIMER_INTERVAL_S", cls.timer_interval_s),
            remind_before=_duration(env, "PFLOW_REMIND_BEFORE", cls.remind_before),
            reminder_interval_s=_int(env, "PFLOW_REMINDER_INTERVAL_S", cls.reminder_interval_s),
            task_handlers=env.get("PFLOW_TASK_HANDLERS") or None,
            camunda_timeout_s=_int(env, "PFLOW_CAMUNDA_TIMEOUT_S", cls.camunda_timeout_s, minimum=1),
            camunda_max_poll_ms=_int(env, "PFLOW_CAMUNDA_MAX_POLL_MS", cls.camunda_max_poll_ms, minimum=100),
            **_engine_rest_credentials(env),
            engine_rest_max_wait_ms=_int(env, "PFLOW_ENGINE_REST_MAX_WAIT_MS", cls.engine_rest_max_wait_ms,
                                         minimum=0, maximum=300_000),
            engine_max_calls=_int(env, "PFLOW_ENGINE_MAX_CALLS", cls.engine_max_calls, minimum=1),
            engine_wait_ms=_int(env, "PFLOW_ENGINE_WAIT_MS", cls.engine_wait_ms),
            **_smtp(env),
            public_url=_public_url(env),
            email_link_ttl=_duration(env, "PFLOW_EMAIL_LINK_TTL", cls.email_link_ttl),
            digest_hour=_int(env, "PFLOW_DIGEST_HOUR", cls.digest_hour, maximum=23),
            webhook_disable_after=_int(env, "PFLOW_WEBHOOK_DISABLE_AFTER", cls.webhook_disable_after, minimum=1),
            delivery_retry_base_s=_int(env, "PFLOW_DELIVERY_RETRY_BASE_S", cls.delivery_retry_base_s, minimum=1),
            delivery_retry_max_s=_int(env, "PFLOW_DELIVERY_RETRY_MAX_S", cls.delivery_retry_max_s, minimum=1),
            delivery_max_attempts=_int(env, "PFLOW_DELIVERY_MAX_ATTEMPTS", cls.delivery_max_attempts, minimum=1),
            delivery_lease_s=_int(env, "PFLOW_DELIVERY_LEASE_S", cls.delivery_lease_s, minimum=1),
            metrics_enabled=_bool(env, "PFLOW_METRICS", True),
            metrics_token=_metrics_token(env),
            metrics_port=_int(env, "PFLOW_METRICS_PORT", None, minimum=1, maximum=65535),
            tracing_endpoint=_tracing_endpoint(env),
            tracing_service_name=(env.get("OTEL_SERVICE_NAME") or "").strip() or None,
        )
        values.update(overrides)
        return cls(**values)

    def replace(self, **changes) -> "Settings":
        return type(self)(**{**{f.name: getattr(self, f.name) for f in fields(self)}, **changes})
