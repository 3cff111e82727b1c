"""deploy/nginx/default.conf: nginx accepts it (nginx -t) with a certificate made by
deploy/tls/make-self-signed.sh, and a real nginx running it redirects HTTP to HTTPS, serves the UI over
TLS as a single-page app with HSTS, and forwards the API and Keycloak, on loopback ports with stand-ins.

The file is included into a small wrapper config, as the frontend image's nginx.conf includes
conf.d/*.conf. The config reaches the API through a variable and Docker's DNS (127.0.0.11), so
`nginx -t` needs no name resolution; for the running test the upstream addresses become
127.0.0.1:<port>, the listen ports free ones, the certificate a generated one and the web root a
scratch folder (each substitution is checked)."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import socket
import ssl
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


CERT_IN_CONTAINER = ("ssl_certificate /etc/nginx/tls/tls.crt;", "ssl_certificate_key /etc/nginx/tls/tls.key;")


def make_certificate(tmp: Path, host: str = "localhost") -> tuple[Path, Path]:
    """deploy/tls/make-self-signed.sh, run from a scratch copy so it writes there, not into the repository."""
    folder = tmp / "tls"
    folder.mkdir(exist_ok=True)
    shutil.copy(files.TLS_SCRIPT, folder / "make-self-signed.sh")
    files.require_tool("openssl", "install it (apt-get install -y openssl) to make a test certificate")
    result = subprocess.run(["bash", str(folder / "make-self-signed.sh"), host, "2"], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    return folder / "tls.crt", folder / "tls.key"


def with_certificate(text: str, cert: Path, key: Path) -> str:
    for line in CERT_IN_CONTAINER:
        assert text.count(line) == 1, f"default.conf no longer contains {line!r}: update this test"
    return text.replace(CERT_IN_CONTAINER[0], f"ssl_certificate {cert};").replace(
        CERT_IN_CONTAINER[1], f"ssl_certificate_key {key};")


def test_nginx_accepts_the_config_with_a_generated_certificate(nginx, tmp_path):
    cert, key = make_certificate(tmp_path)
    server_conf = tmp_path / "pflow.conf"
    server_conf.write_text(with_certificate(NGINX_CONF.read_text(encoding="utf-8"), cert, key))
    result = nginx_test(nginx, wrapper(tmp_path, server_conf), tmp_path)
    assert result.returncode == 0, result.stderr


def test_nginx_t_catches_a_broken_config(nginx, tmp_path):
    cert, key = make_certificate(tmp_path)
    broken = tmp_path / "broken.conf"
    broken.write_text(with_certificate(NGINX_CONF.read_text(encoding="utf-8"), cert, key).replace(
        "try_files $uri $uri/ /index.html;", "try_files;"))
    result = nginx_test(nginx, wrapper(tmp_path, broken), tmp_path)
    assert result.returncode != 0 and "try_files" in result.stderr


def test_nginx_t_refuses_the_config_without_the_certificate(nginx, tmp_path):
    """What happens when deploy/tls/ is empty: nginx does not start (rather than serving plain HTTP)."""
    missing = tmp_path / "missing.conf"
    missing.write_text(with_certificate(NGINX_CONF.read_text(encoding="utf-8"), tmp_path / "none.crt",
                                        tmp_path / "none.key"))
    result = nginx_test(nginx, wrapper(tmp_path, missing), tmp_path)
    assert result.returncode != 0 and "none.crt" in result.stderr


def test_the_certificate_script_is_shellcheck_clean_and_checks_its_arguments(tmp_path):
    shellcheck = files.require_tool("shellcheck", "install Debian's shellcheck (apt-get install -y shellcheck)")
    for script in (files.TLS_SCRIPT, files.REPO_ROOT / "deploy" / "postgres" / "init" / "20-keycloak.sh"):
        result = subprocess.run([shellcheck, "--shell=bash", "--severity=style", str(script)], capture_output=True,
                                text=True, timeout=60)
        assert result.returncode == 0, result.stdout
    shutil.copy(files.TLS_SCRIPT, tmp_path / "make-self-signed.sh")
    bad = subprocess.run(["bash", str(tmp_path / "make-self-signed.sh"), "host name; rm -rf /"], capture_output=True,
                         text=True, timeout=60)
    assert bad.returncode == 2 and "HOSTNAME" in bad.stderr
    assert not (tmp_path / "tls.crt").exists()


def test_the_generated_certificate_names_the_host_and_its_key_is_private(tmp_path):
    cert, key = make_certificate(tmp_path, "pflow.example.test")
    text = subprocess.run(["openssl", "x509", "-in", str(cert), "-noout", "-text"], capture_output=True, text=True,
                          check=True).stdout
    assert "DNS:pflow.example.test, DNS:localhost, IP Address:127.0.0.1" in text
    assert key.stat().st_mode & 0o077 == 0, "the private key must not be readable by others"
    again = subprocess.run(["bash", str(cert.parent / "make-self-signed.sh")], capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and "exist already" in again.stderr  # an existing pair is kept


def test_the_config_listens_on_tls_redirects_http_and_forwards_to_the_api_service():
    text = NGINX_CONF.read_text(encoding="utf-8")
    assert "listen 8443 ssl;" in text and "listen 8080;" in text and "listen 127.0.0.1:8081;" in text
    assert "ssl_protocols TLSv1.2 TLSv1.3;" in text
    assert not any(old in text for old in ("SSLv3", "TLSv1 ", "TLSv1.1"))
    # Port 8080 (the host's 80) has one location, and it redirects.
    plain = text[text.index("listen 8080;"):text.index("}\n}", text.index("listen 8080;"))]
    assert plain.count("location") == 1 and "return 301 https://$host$request_uri;" in plain
    assert "proxy_pass" not in plain and "root" not in plain
    assert "set $pflow_api http://api:8080;" in text
    assert "set $pflow_keycloak http://keycloak:8080;" in text
    assert "resolver 127.0.0.11" in text  # Docker's embedded DNS on compose networks


class StandInApi(BaseHTTPRequestHandler):
    """Answers every request with what it received, as JSON."""

    received: list[str] = []

    def _answer(self):
        StandInApi.received.append(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = json.dumps({"method": self.command, "path": self.path,
                           "body": self.rfile.read(length).decode() if length else "",
                           "forwarded_for": self.headers.get("X-Forwarded-For"),
                           "forwarded_proto": self.headers.get("X-Forwarded-Proto"),
                           "host": self.headers.get("Host")}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PATCH = _answer

    def log_message(self, *args):
        pass


class Served(str):
    """The HTTPS base URL (what the tests request), with the plain-HTTP one and the certificate to trust."""

    http: str
    cert: Path


@pytest.fixture
def served(nginx, tmp_path):
    api = ThreadingHTTPServer(("127.0.0.1", 0), StandInApi)
    threading.Thread(target=api.serve_forever, daemon=True).start()
    StandInApi.received = []
    cert, key = make_certificate(tmp_path)

    html = tmp_path / "html"
    (html / "assets").mkdir(parents=True)
    (html / "index.html").write_text("<!doctype html><title>PFlow</title><div id=root></div>")
    (html / "index.html.gz").write_bytes(gzip.compress((html / "index.html").read_bytes()))
    (html / "assets" / "index-3f2a.js").write_text("console.log('pflow')")
    # the build's precompressed copies; this one's content differs so the test sees which file was sent
    (html / "assets" / "app-9c1d.js").write_text("console.log('identity')")
    (html / "assets" / "app-9c1d.js.gz").write_bytes(gzip.compress(b"console.log('precompressed')"))
    (html / "assets" / "app-9c1d.js.br").write_bytes(b"not for nginx")

    port, http_port, health_port = free_port(), free_port(), free_port()
    text = with_certificate(NGINX_CONF.read_text(encoding="utf-8"), cert, key)
    for old, new in [("listen 8443 ssl;", f"listen 127.0.0.1:{port} ssl;"), ("listen [::]:8443 ssl;", ""),
                     ("listen 8080;", f"listen 127.0.0.1:{http_port};"), ("listen [::]:8080;", ""),
                     ("listen 127.0.0.1:8081;", f"listen 127.0.0.1:{health_port};"),
                     ("root /usr/share/nginx/html;", f"root {html};"),
                     ("set $pflow_api http://api:8080;", f"set $pflow_api http://127.0.0.1:{api.server_port};"),
                     ("set $pflow_keycloak http://keycloak:8080;",
                      f"set $pflow_keycloak http://127.0.0.1:{api.server_port};")]:
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
        base = Served(f"https://127.0.0.1:{port}")
        base.http, base.cert = f"http://127.0.0.1:{http_port}", cert
        base.health = f"http://127.0.0.1:{health_port}"
        yield base
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
    r = requests.get(served + "/api/tickets?status=in_progress&page=2", timeout=5, verify=served.cert)
    assert r.status_code == 200
    assert r.json()["path"] == "/api/tickets?status=in_progress&page=2"
    assert r.json()["forwarded_for"] == "127.0.0.1"
    for probe in ("/healthz", "/readyz"):
        assert requests.get(served + probe, timeout=5, verify=served.cert).json()["path"] == probe
    r = requests.post(served + "/api/auth/login", json={"username": "alice", "password": "alice"}, timeout=5, verify=served.cert)
    assert (r.json()["method"], r.json()["path"]) == ("POST", "/api/auth/login")
    assert json.loads(r.json()["body"]) == {"username": "alice", "password": "alice"}


def test_client_side_routes_get_the_app_and_it_is_never_cached(served):
    for path in ("/", "/tickets/42", "/approvals"):
        r = requests.get(served + path, timeout=5, verify=served.cert)
        assert r.status_code == 200 and "<title>PFlow</title>" in r.text, path
        assert r.headers["Cache-Control"] == "no-cache", path


def test_hashed_bundles_are_cached_and_missing_ones_are_404(served):
    r = requests.get(served + "/assets/index-3f2a.js", timeout=5, verify=served.cert)
    assert r.status_code == 200 and r.text == "console.log('pflow')"
    assert r.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert requests.get(served + "/assets/index-0000.js", timeout=5, verify=served.cert).status_code == 404


def test_precompressed_bundles_go_to_clients_that_take_gzip(served):
    r = requests.get(served + "/assets/app-9c1d.js", headers={"Accept-Encoding": "gzip, br"}, timeout=5, verify=served.cert)
    assert r.status_code == 200 and r.headers["Content-Encoding"] == "gzip"
    assert r.text == "console.log('precompressed')"  # the .gz the build wrote, decoded by requests
    assert "Accept-Encoding" in r.headers["Vary"]
    assert r.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    plain = requests.get(served + "/assets/app-9c1d.js", headers={"Accept-Encoding": "identity"}, timeout=5, verify=served.cert)
    assert "Content-Encoding" not in plain.headers and plain.text == "console.log('identity')"
    assert r.headers["Content-Type"] == plain.headers["Content-Type"] != "application/gzip"  # the script's type
    for copy in ("/assets/app-9c1d.js.gz", "/assets/app-9c1d.js.br", "/index.html.gz"):
        assert requests.get(served + copy, timeout=5, verify=served.cert).status_code == 404, copy
    api = requests.get(served + "/api/exports/report.gz", timeout=5, verify=served.cert)  # the API's paths are the API's
    assert api.status_code == 200 and api.json()["path"] == "/api/exports/report.gz"


def test_oversized_requests_are_refused_before_reaching_the_api(served):
    r = requests.post(served + "/api/tickets", data=b"x" * (2 * 1024 * 1024),
                      headers={"Content-Type": "application/json"}, timeout=10, verify=served.cert)
    assert r.status_code == 413


UI_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"}


def test_the_ui_gets_the_security_headers_pflow_serve_sends(served):
    from pflow.entrypoints.http.security_headers import CONTENT_SECURITY_POLICY

    for path in ("/", "/tickets/42", "/assets/index-3f2a.js", "/assets/index-0000.js", "/assets/app-9c1d.js.gz"):
        r = requests.get(served + path, timeout=5, verify=served.cert)
        assert r.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY, path
        assert {name: r.headers.get(name) for name in UI_HEADERS} == UI_HEADERS, path


def test_nginx_adds_no_headers_of_its_own_to_the_api(served):
    """The API sends its own policy (Swagger UI's names its inline script); a second one would be combined."""
    r = requests.get(served + "/api/tickets", timeout=5, verify=served.cert)
    assert "Content-Security-Policy" not in r.headers and "X-Frame-Options" not in r.headers


# --- TLS, the redirect and HSTS ------------------------------------------------------------------------

HSTS = "max-age=31536000"


def test_plain_http_only_redirects_to_https_and_reaches_nothing(served):
    for method, path in [("GET", "/"), ("GET", "/tickets/42?tab=history"), ("GET", "/api/tickets?page=2"),
                         ("POST", "/api/auth/login"), ("GET", "/assets/index-3f2a.js"), ("GET", "/healthz")]:
        r = requests.request(method, served.http + path, allow_redirects=False, timeout=5,
                             headers={"Host": "pflow.example.test"}, json={"username": "a", "password": "b"})
        assert r.status_code == 301, (method, path, r.status_code)
        assert r.headers["Location"] == f"https://pflow.example.test{path}", (method, path)
        assert "PFlow" not in r.text and "console.log" not in r.text
    assert StandInApi.received == [], "plain HTTP must never reach the API"


def test_every_https_answer_carries_hsts(served):
    for path in ("/", "/tickets/42", "/assets/index-3f2a.js", "/assets/index-0000.js", "/api/tickets", "/healthz",
                 "/auth/realms/pflow"):
        r = requests.get(served + path, timeout=5, verify=served.cert)
        assert r.headers.get("Strict-Transport-Security") == HSTS, path


def test_the_certificate_made_by_the_script_is_trusted_for_the_host(served):
    """requests verifies the chain and the name (127.0.0.1 is in the certificate) against that one certificate."""
    assert requests.get(served + "/", timeout=5, verify=served.cert).status_code == 200
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(served + "/", timeout=5)  # the system's CAs do not know a self-signed certificate


def _handshake(url: str, cert: Path, version: ssl.TLSVersion) -> str:
    host, port = url.removeprefix("https://").split(":")
    context = ssl.create_default_context(cafile=str(cert))
    context.minimum_version = context.maximum_version = version
    with socket.create_connection((host, int(port)), timeout=5) as raw, \
            context.wrap_socket(raw, server_hostname=host) as tls:
        return tls.version()


def test_tls_1_2_and_1_3_are_served(served):
    assert _handshake(served, served.cert, ssl.TLSVersion.TLSv1_2) == "TLSv1.2"
    assert _handshake(served, served.cert, ssl.TLSVersion.TLSv1_3) == "TLSv1.3"


def test_keycloak_is_reached_under_auth_with_the_original_scheme(served):
    r = requests.get(served + "/auth/realms/pflow/.well-known/openid-configuration", timeout=5, verify=served.cert)
    assert r.status_code == 200
    assert r.json()["path"] == "/auth/realms/pflow/.well-known/openid-configuration"
    assert r.json()["forwarded_proto"] == "https"
    assert r.json()["host"] == "127.0.0.1"


def test_the_health_listener_answers_only_its_probe(served):
    assert requests.get(served.health + "/nginx-health", timeout=5).status_code == 204
    assert requests.get(served.health + "/", timeout=5).status_code == 404
    assert requests.get(served.health + "/api/tickets", timeout=5).status_code == 404
    assert StandInApi.received == []
