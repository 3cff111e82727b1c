"""A PostgreSQL cluster and a RabbitMQ node of the fault suite's own, in a temporary folder on free
ports, so the suite can restart them without touching the shared services other tests use.

Both are started once per test session (``tests/faults/conftest.py``) and torn down after; what
their start cost is printed in the session summary.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from tests.support import free_port

PG_BIN = Path(os.environ.get("PFLOW_FAULTS_PG_BIN", "/usr/lib/postgresql/15/bin"))
RABBITMQ_BIN = Path(os.environ.get("PFLOW_FAULTS_RABBITMQ_BIN", "/usr/lib/rabbitmq/bin"))
PG_HINT = ("the fault suite runs a PostgreSQL cluster of its own: install PostgreSQL 15 "
           "(apt-get install postgresql-15) or set PFLOW_FAULTS_PG_BIN to the folder of initdb and pg_ctl")
RABBITMQ_HINT = ("the fault suite runs a RabbitMQ node of its own: install rabbitmq-server "
                 "(.ci/services.sh does) or set PFLOW_FAULTS_RABBITMQ_BIN to the folder of rabbitmq-server")


def _wait(predicate, timeout: float, what: str, log: Path | None = None) -> float:
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
            raise RuntimeError(f"{what} did not happen within {timeout:.0f}s\n{tail}")
        time.sleep(0.05)
    return time.monotonic() - start


def _port_open(port: int) -> bool:
    import socket

    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


class PrivatePostgres:
    """``initdb`` + ``pg_ctl`` in a temp folder; trust authentication on 127.0.0.1 only."""

    def __init__(self) -> None:
        for tool in ("initdb", "pg_ctl"):
            if not (PG_BIN / tool).exists():
                raise FileNotFoundError(f"{PG_BIN / tool} is missing")
        self.root = Path(tempfile.mkdtemp(prefix="pflow-faults-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.port = free_port()
        # initdb refuses to run as root: run the cluster as the postgres system user when we are root.
        self._user = None
        if os.geteuid() == 0:
            self._user = "postgres"
            entry = pwd.getpwnam(self._user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self.startup_s = 0.0

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [str(a) for a in args]
        if self._user:
            cmd = ["runuser", "-u", self._user, "--"] + cmd
        return subprocess.run(cmd, check=check, capture_output=True, text=True, timeout=60)

    def start_cluster(self) -> None:
        started = time.monotonic()
        self._run(PG_BIN / "initdb", "-D", self.data, "-U", "pflow", "-A", "trust", "-E", "UTF8", "--no-sync")
        self.start()
        self.startup_s = time.monotonic() - started

    def start(self) -> None:
        # fsync off: the suite restarts the server, it never pulls the power; durability is not under test here.
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        self._run(PG_BIN / "pg_ctl", "-D", self.data, "-l", self.log, "-o", options, "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        """``fast`` drops every session and shuts down cleanly, as a restart by an operator does."""
        self._run(PG_BIN / "pg_ctl", "-D", self.data, "-m", mode, "-w", "-t", "60", "stop", check=False)

    def url(self, database: str) -> str:
        return f"postgresql://pflow@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        from sqlalchemy import create_engine, text

        engine = create_engine(f"postgresql+psycopg2://pflow@127.0.0.1:{self.port}/postgres",
                               isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            engine.dispose()
        return self.url(name)

    def close(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


class PrivateRabbitMQ:
    """A RabbitMQ node with its own name, ports, data and cookie (guest allowed from 127.0.0.1)."""

    def __init__(self) -> None:
        server = RABBITMQ_BIN / "rabbitmq-server"
        if not server.exists():
            raise FileNotFoundError(f"{server} is missing")
        self.root = Path(tempfile.mkdtemp(prefix="pflow-faults-rabbitmq-"))
        self.port = free_port()
        self.dist_port = free_port()
        self.node = f"pflow_faults_{os.getpid()}@localhost"
        (self.root / "home").mkdir()
        (self.root / "enabled_plugins").write_text("[].\n")
        (self.root / "rabbitmq.conf").write_text("loopback_users = none\n")
        (self.root / "env.conf").write_text("")
        self.env = {**os.environ, "HOME": str(self.root / "home"), "RABBITMQ_NODENAME": self.node,
                    "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1", "RABBITMQ_NODE_PORT": str(self.port),
                    "RABBITMQ_DIST_PORT": str(self.dist_port), "RABBITMQ_MNESIA_BASE": str(self.root / "mnesia"),
                    "RABBITMQ_LOG_BASE": str(self.root / "log"),
                    "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.root / "enabled_plugins"),
                    "RABBITMQ_CONFIG_FILE": str(self.root / "rabbitmq"),
                    "RABBITMQ_ADVANCED_CONFIG_FILE": str(self.root / "advanced.config"),
                    "RABBITMQ_CONF_ENV_FILE": str(self.root / "env.conf"),
                    "RABBITMQ_PID_FILE": str(self.root / "rabbitmq.pid")}
        self.log = self.root / "server.log"
        self.process: subprocess.Popen | None = None
        self.startup_s = 0.0

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def vhost_url(self, vhost: str) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/{vhost}"

    def start_node(self) -> None:
        started = time.monotonic()
        self.process = subprocess.Popen([str(RABBITMQ_BIN / "rabbitmq-server")], env=self.env,
                                        stdout=self.log.open("w"), stderr=subprocess.STDOUT,
                                        start_new_session=True)
        _wait(lambda: _port_open(self.port) or self.process.poll() is not None, 90, "RabbitMQ start", self.log)
        if self.process.poll() is not None:
            raise RuntimeError(f"rabbitmq-server exited with {self.process.returncode}:\n{self.log.read_text()[-3000:]}")
        self.startup_s = time.monotonic() - started

    def ctl(self, *args: str) -> str:
        run = subprocess.run([str(RABBITMQ_BIN / "rabbitmqctl"), "-n", self.node, *args], env=self.env,
                             capture_output=True, text=True, timeout=60)
        if run.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)} failed: {run.stdout}{run.stderr}")
        return run.stdout

    def add_vhost(self, vhost: str) -> str:
        self.ctl("add_vhost", vhost)
        self.ctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        return self.vhost_url(vhost)

    def stop_broker(self) -> None:
        """The broker stops (every AMQP connection is closed, the port refuses); the Erlang node stays,
        so starting it again takes a second rather than a cold boot."""
        self.ctl("stop_app")

    def start_broker(self) -> None:
        self.ctl("start_app")
        _wait(lambda: _port_open(self.port), 60, "RabbitMQ listening again", self.log)

    def close(self) -> None:
        # The node's own process only (rabbitmq-server execs the Erlang VM): never its process group,
        # which may hold an epmd that the shared RabbitMQ on this machine also registers with.
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        shutil.rmtree(self.root, ignore_errors=True)
