"""The Helm chart (deploy/helm/pflow): lints, renders valid Kubernetes manifests, and sets what it promises."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "pflow"
K8S_VERSION = "1.30.0"

# .env.example variables that only the Compose stack's own services read, not PFlow's processes.
COMPOSE_ONLY = {
    "POSTGRES_USER": "creates the bundled PostgreSQL's user; on Kubernetes it is part of DATABASE_URL",
    "POSTGRES_PASSWORD": "as POSTGRES_USER: part of DATABASE_URL",
    "POSTGRES_DB": "as POSTGRES_USER: part of DATABASE_URL",
    "RABBITMQ_DEFAULT_USER": "creates the bundled broker's user; on Kubernetes it is part of RABBITMQ_URL",
    "RABBITMQ_DEFAULT_PASS": "as RABBITMQ_DEFAULT_USER: part of RABBITMQ_URL",
    "KEYCLOAK_DB_USER": "Keycloak's database login (`sso` profile), not read by PFlow",
    "KEYCLOAK_DB_PASSWORD": "Keycloak's database login (`sso` profile), not read by PFlow",
    "KEYCLOAK_ADMIN_USER": "Keycloak's first admin (`sso` profile), not read by PFlow",
    "KEYCLOAK_ADMIN_PASSWORD": "Keycloak's first admin (`sso` profile), not read by PFlow",
    "GRAFANA_ADMIN_USER": "Grafana's first admin (`monitoring` profile), not read by PFlow",
    "GRAFANA_ADMIN_PASSWORD": "Grafana's first admin (`monitoring` profile), not read by PFlow",
}

ALL_ON = [
    "--set", "api.ingress.enabled=true", "--set", "api.ingress.className=nginx",
    "--set", "api.ingress.tlsSecretName=pflow-tls", "--set", "worker.autoscaling.enabled=true",
    "--set", "networkPolicy.egress.postgresql.cidrs={10.0.0.0/24}",
    "--set", "secrets.PFLOW_SECRET_KEY=x",
]


def _helm() -> str:
    found = shutil.which("helm") or os.path.expanduser("~/go/bin/helm")
    if not os.access(found, os.X_OK):
        if os.environ.get("PFLOW_REQUIRE_SERVICES") == "1":
            pytest.fail("helm is not installed (go install helm.sh/helm/v3/cmd/helm@v3.22.0)")
        pytest.skip("helm is not installed (go install helm.sh/helm/v3/cmd/helm@v3.22.0)")
    return found


def _render(*args: str) -> list[dict]:
    out = subprocess.run([_helm(), "template", "t", str(CHART), *args], check=True,
                         capture_output=True, text=True, timeout=30).stdout
    return [d for d in yaml.safe_load_all(out) if d]


@pytest.fixture(scope="module")
def default_docs():
    return _render()


@pytest.fixture(scope="module")
def all_on_docs():
    return _render(*ALL_ON)


def _kind(docs, kind):
    return [d for d in docs if d["kind"] == kind]


def _deployment(docs, component):
    return next(d for d in _kind(docs, "Deployment") if d["metadata"]["name"].endswith(f"-{component}"))


def test_lint_strict():
    res = subprocess.run([_helm(), "lint", "--strict", str(CHART), *ALL_ON], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


@pytest.mark.parametrize("which", ["default_docs", "all_on_docs"])
def test_every_manifest_validates_against_the_kubernetes_schema(which, request):
    docs = request.getfixturevalue(which)
    assert len(docs) >= 10
    for doc in docs:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_optional_features_render_only_when_on(default_docs, all_on_docs):
    assert not _kind(default_docs, "Ingress")
    assert [h["spec"]["metrics"][0]["type"] for h in _kind(default_docs, "HorizontalPodAutoscaler")] == ["Resource"]
    assert _kind(all_on_docs, "Ingress")[0]["spec"]["tls"][0]["secretName"] == "pflow-tls"
    types = sorted(h["spec"]["metrics"][0]["type"] for h in _kind(all_on_docs, "HorizontalPodAutoscaler"))
    assert types == ["External", "Resource"]
    # Autoscaled Deployments leave replicas to the HPA.
    assert "replicas" not in _deployment(all_on_docs, "worker")["spec"]
    assert _deployment(default_docs, "worker")["spec"]["replicas"] == 2


def test_api_probes_metrics_and_command(default_docs):
    api = _deployment(default_docs, "api")
    pod = api["spec"]["template"]
    c = pod["spec"]["containers"][0]
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c["command"][0] == "gunicorn" and c["command"][-1] == "pflow.entrypoints.http.wsgi:app"
    ann = pod["metadata"]["annotations"]
    assert ann["prometheus.io/scrape"] == "true" and ann["prometheus.io/path"] == "/metrics"
    assert _deployment(default_docs, "worker")["spec"]["template"]["spec"]["containers"][0]["command"] == ["pflow", "worker"]
    assert _deployment(default_docs, "consumer")["spec"]["template"]["spec"]["containers"][0]["command"] == ["pflow", "consume"]


def test_every_pod_runs_non_root_read_only(default_docs):
    pods = [d["spec"]["template"]["spec"] for d in default_docs if d["kind"] in ("Deployment", "Job")]
    assert len(pods) == 4
    for pod in pods:
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        c = pod["containers"][0]
        sc = c["securityContext"]
        assert sc["runAsUser"] == 10001 and sc["readOnlyRootFilesystem"] is True
        assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"]["drop"] == ["ALL"]
        assert {"name": "tmp", "mountPath": "/tmp"} in c["volumeMounts"]
        assert {"name": "tmp", "emptyDir": {}} in pod["volumes"]
    assert "USER 10001:10001" in (ROOT / "deploy" / "Dockerfile").read_text()


def test_migration_runs_as_a_hook_after_its_environment(default_docs):
    from pflow.entrypoints.cli import main

    assert "migrate" in main.commands
    job = _kind(default_docs, "Job")[0]
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == ["pflow", "migrate"]
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    for kind in ("ConfigMap", "Secret", "ServiceAccount"):
        ann = _kind(default_docs, kind)[0]["metadata"]["annotations"]
        assert "pre-install" in ann["helm.sh/hook"]
        assert int(ann["helm.sh/hook-weight"]) < int(job["metadata"]["annotations"]["helm.sh/hook-weight"])


def test_pdbs_and_network_policy(default_docs):
    assert len(_kind(default_docs, "PodDisruptionBudget")) == 3
    pols = {p["metadata"]["name"]: p["spec"] for p in _kind(default_docs, "NetworkPolicy")}
    egress_ports = {p["port"] for rule in pols["t-pflow"]["egress"] for p in rule["ports"]}
    assert egress_ports == {53, 5432, 5672, 8080}
    assert pols["t-pflow-api-ingress"]["ingress"][0]["ports"][0]["port"] == 8080


def _env_example_names() -> list[str]:
    text = (ROOT / ".env.example").read_text()
    return re.findall(r"^([A-Z][A-Z0-9_]*)=", text, re.M)


def test_every_env_example_variable_is_settable():
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    settable = set(values["config"]) | set(values["secrets"])
    names = _env_example_names()
    assert len(names) > 50
    missing = [n for n in names if n not in settable and n not in COMPOSE_ONLY]
    assert not missing, f"add to values.yaml config/secrets or COMPOSE_ONLY: {missing}"
    assert values["config"]["PFLOW_METRICS"] == "1" and values["config"]["PFLOW_LOG_FORMAT"] == "json"
    assert values["config"]["PROMETHEUS_MULTIPROC_DIR"] == "/tmp/pflow-metrics"
    assert "PFLOW_METRICS_TOKEN" in values["secrets"]
    assert not set(COMPOSE_ONLY) - set(names), "COMPOSE_ONLY names a variable .env.example no longer has"


def test_set_values_reach_the_configmap_and_secret():
    names = [n for n in _env_example_names() if n not in COMPOSE_ONLY]
    args = []
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    for n in names:
        section = "secrets" if n in values["secrets"] else "config"
        args += ["--set-string", f"{section}.{n}=v-{n.lower()}"]
    docs = _render(*args)
    env = dict(_kind(docs, "ConfigMap")[0]["data"])
    env.update(_kind(docs, "Secret")[0]["stringData"])
    for n in names:
        assert env.get(n) == f"v-{n.lower()}", n
