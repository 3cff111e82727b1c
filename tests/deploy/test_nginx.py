"""deploy/nginx/default.conf: nginx accepts it (nginx -t), and a real nginx running it serves the UI
as a single-page app and forwards the API, on loopback ports with a stand-in API.

The file is included into a small wrapper config, as the frontend image's nginx.conf includes
conf.d/*.conf. The config reaches the API through a variable and Docker's DNS (127.0.0.11), so
`nginx -t` needs no name resolution; for the running test the API address becomes 127.0.0.1:<port>,
the listen port a free one and the web root a scratch folder (each substitution is checked)."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import socket
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from tests.deploy import files
from tests.deploy.files import NGINX_CONF
from tests.support import free_port, wait_until


@pytest.fixture(scope="module")
def nginx() -> str:
    path = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    files.require("`nginx`", path is not None, "install it (apt-get install -y nginx) to check deploy/nginx/default.conf")
    return path


def wrapper(tmp: Path, server_conf: Path) -> Path:
    for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (tmp / name).mkdir(exist_ok=True)
    mime = "include /etc/nginx/mime.types;" if Path("/etc/nginx/mime.types").exists() else ""
    # Running as root, workers would switch to `nobody`, who cannot read pytest's private tmp dirs.
    user = "user root;" if os.geteuid() == 0 else ""
    conf = tmp / "nginx.conf"
    conf.write_text(f"""
{user}
daemon off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log;
events {{ worker_connections 64; }}
http {{
    {mime}
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    include {server_conf};
}}
""")
    return conf


def nginx_test(nginx: str, conf: Path, tmp: Path) -> subprocess.CompletedProcess:
    return subprocess.run([nginx, "-t", "-q", "-p", str(tmp), "-e", str(tmp / "error.log"), "-c", str(conf)],
                          capture_output=True, text=True, timeout=30)


def test_nginx_accepts_the_config(nginx, tmp_path):
    result = nginx_test(nginx, wrapper(tmp_path, NGINX_CONF), tmp_path)
    assert result.returncode == 0, result.stderr


def test_nginx_t_catches_a_broken_config(nginx, tmp_path):
    broken = tmp_path / "broken.conf"
    broken.write_text(NGINX_CONF.read_text(encoding="utf-8").replace("try_files $uri $uri/ /index.html;",
                                                                     "try_files;"))
    result = nginx_test(nginx, wrapper(tmp_path, broken), tmp_path)
    assert result.returncode != 0 and "try_files" in result.stderr


def test_the_config_serves_on_5173_and_forwards_to_the_api_service():
    text = NGINX_CONF.read_text(encoding="utf-8")
    assert "listen 5173;" in text
    assert "set $pflow_api http://api:8080;" in text
    assert "resolver 127.0.0.11" in text  # Docker's embedded DNS on compose networks


class StandInApi(BaseHTTPRequestHandler):
    """Answers every request with what it received, as JSON."""

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = json.dumps({"method": self.command, "path": self.path,
                           "body": self.rfile.read(length).decode() if length else "",
                           "forwarded_for": self.headers.get("X-Forwarded-For"),
                           "host": self.headers.get("Host")}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PATCH = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def served(nginx, tmp_path):
    api = ThreadingHTTPServer(("127.0.0.1", 0), StandInApi)
    threading.Thread(target=api.serve_forever, daemon=True).start()

    html = tmp_path / "html"
    (html / "assets").mkdir(parents=True)
    (html / "index.html").write_text("<!doctype html><title>PFlow</title><div id=root></div>")
    (html / "index.html.gz").write_bytes(gzip.compress((html / "index.html").read_bytes()))
    (html / "assets" / "index-3f2a.js").write_text("console.log('pflow')")
    # the build's precompressed copies; this one's content differs so the test sees which file was sent
    (html / "assets" / "app-9c1d.js").write_text("console.log('identity')")
    (html / "assets" / "app-9c1d.js.gz").write_bytes(gzip.compress(b"console.log('precompressed')"))
    (html / "assets" / "app-9c1d.js.br").write_bytes(b"not for nginx")

    port = free_port()
    text = NGINX_CONF.read_text(encoding="utf-8")
    for old, new in [("listen 5173;", f"listen 127.0.0.1:{port};"), ("listen [::]:5173;", ""),
                     ("root /usr/share/nginx/html;", f"root {html};"),
                     ("set $pflow_api http://api:8080;", f"set $pflow_api http://127.0.0.1:{api.server_port};")]:
        assert text.count(old) == 1, f"default.conf no longer contains {old!r}: update this test"
        text = text.replace(old, new)
    server_conf = tmp_path / "pflow.conf"
    server_conf.write_text(text)
    conf = wrapper(tmp_path, server_conf)
    process = subprocess.Popen([nginx, "-p", str(tmp_path), "-e", str(tmp_path / "error.log"), "-c", str(conf)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def listening():
        assert process.poll() is None, f"nginx exited:\n{process.stdout.read()}"
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0

    try:
        wait_until(listening, timeout=10, message="nginx did not start listening")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        api.shutdown()
        api.server_close()


def test_the_api_and_the_health_probes_are_forwarded_unchanged(served):
    r = requests.get(served + "/api/tickets?status=in_progress&page=2", timeout=5)
    assert r.status_code == 200
    assert r.json()["path"] == "/api/tickets?status=in_progress&page=2"
    assert r.json()["forwarded_for"] == "127.0.0.1"
    for probe in ("/healthz", "/readyz"):
        assert requests.get(served + probe, timeout=5).json()["path"] == probe
    r = requests.post(served + "/api/auth/login", json={"username": "alice", "password": "alice"}, timeout=5)
    assert (r.json()["method"], r.json()["path"]) == ("POST", "/api/auth/login")
    assert json.loads(r.json()["body"]) == {"username": "alice", "password": "alice"}


def test_client_side_routes_get_the_app_and_it_is_never_cached(served):
    for path in ("/", "/tickets/42", "/approvals"):
        r = requests.get(served + path, timeout=5)
        assert r.status_code == 200 and "<title>PFlow</title>" in r.text, path
        assert r.headers["Cache-Control"] == "no-cache", path


def test_hashed_bundles_are_cached_and_missing_ones_are_404(served):
    r = requests.get(served + "/assets/index-3f2a.js", timeout=5)
    assert r.status_code == 200 and r.text == "console.log('pflow')"
    assert r.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert requests.get(served + "/assets/index-0000.js", timeout=5).status_code == 404


def test_precompressed_bundles_go_to_clients_that_take_gzip(served):
    r = requests.get(served + "/assets/app-9c1d.js", headers={"Accept-Encoding": "gzip, br"}, timeout=5)
    assert r.status_code == 200 and r.headers["Content-Encoding"] == "gzip"
    assert r.text == "console.log('precompressed')"  # the .gz the build wrote, decoded by requests
    assert "Accept-Encoding" in r.headers["Vary"]
    assert r.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    plain = requests.get(served + "/assets/app-9c1d.js", headers={"Accept-Encoding": "identity"}, timeout=5)
    assert "Content-Encoding" not in plain.headers and plain.text == "console.log('identity')"
    assert r.headers["Content-Type"] == plain.headers["Content-Type"] != "application/gzip"  # the script's type
    for copy in ("/assets/app-9c1d.js.gz", "/assets/app-9c1d.js.br", "/index.html.gz"):
        assert requests.get(served + copy, timeout=5).status_code == 404, copy
    api = requests.get(served + "/api/exports/report.gz", timeout=5)  # the API's paths are the API's
    assert api.status_code == 200 and api.json()["path"] == "/api/exports/report.gz"


def test_oversized_requests_are_refused_before_reaching_the_api(served):
    r = requests.post(served + "/api/tickets", data=b"x" * (2 * 1024 * 1024),
                      headers={"Content-Type": "application/json"}, timeout=10)
    assert r.status_code == 413


UI_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"}


def test_the_ui_gets_the_security_headers_pflow_serve_sends(served):
    from pflow.entrypoints.http.security_headers import CONTENT_SECURITY_POLICY

    for path in ("/", "/tickets/42", "/assets/index-3f2a.js", "/assets/index-0000.js", "/assets/app-9c1d.js.gz"):
        r = requests.get(served + path, timeout=5)
        assert r.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY, path
        assert {name: r.headers.get(name) for name in UI_HEADERS} == UI_HEADERS, path


def test_nginx_adds_no_headers_of_its_own_to_the_api(served):
    """The API sends its own policy (Swagger UI's names its inline script); a second one would be combined."""
    r = requests.get(served + "/api/tickets", timeout=5)
    assert "Content-Security-Policy" not in r.headers and "X-Frame-Options" not in r.headers
