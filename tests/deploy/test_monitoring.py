"""deploy/monitoring (docs/metrics.md): the Compose `monitoring` profile loads, promtool accepts the alert rules
and the Prometheus config, the Grafana files parse, and every metric the alerts and the dashboard query is one
PFlow exports (read from a real /metrics scrape)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from pflow.config import REPO_ROOT
from pflow.entrypoints.http import create_app
from tests.deploy import files
from tests.deploy.test_compose import compose_v1, copy_compose_dir, resolved, write_env  # noqa: F401
from tests.support import build_stack

MONITORING = REPO_ROOT / "deploy" / "monitoring"
DASHBOARD = MONITORING / "grafana" / "dashboards" / "pflow.json"
TOKEN_FILE = "/tmp/pflow-metrics-token"
# metrics of Prometheus itself that the rules and the dashboard may use
PROMETHEUS_OWN = {"up"}


def promtool() -> str:
    """promtool from PATH or Go's bin folder (.ci/run builds it there when missing)."""
    found = shutil.which("promtool")
    if found is None:
        gopath = os.environ.get("GOPATH") or str(Path.home() / "go")
        candidate = Path(gopath) / "bin" / "promtool"
        found = str(candidate) if candidate.is_file() else None
    files.require("`promtool`", found is not None, "build it: go install github.com/prometheus/prometheus/cmd/"
                  "promtool@v0.54.1 (or see .ci/run)")
    return found  # type: ignore[return-value]


def test_promtool_accepts_the_alert_rules():
    result = subprocess.run([promtool(), "check", "rules", str(MONITORING / "alerts.yml")], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_rejects_a_broken_rule(tmp_path):
    rules = yaml.safe_load((MONITORING / "alerts.yml").read_text())
    rules["groups"][0]["rules"][0]["expr"] = "sum(rate(pflow_relay_published_total[5m]"
    broken = tmp_path / "alerts.yml"
    broken.write_text(yaml.safe_dump(rules))
    assert subprocess.run([promtool(), "check", "rules", str(broken)], capture_output=True, timeout=60).returncode != 0


def test_promtool_accepts_the_prometheus_config(tmp_path):
    """Checked in a copy whose token file exists (the prometheus service writes it at start)."""
    text = (MONITORING / "prometheus.yml").read_text()
    assert text.count(f"credentials_file: {TOKEN_FILE}") == 3  # api, worker, consumer
    token = tmp_path / "token"
    token.write_text("metrics-token-0123456789abcdef")
    (tmp_path / "prometheus.yml").write_text(text.replace(TOKEN_FILE, str(token)))
    shutil.copy(MONITORING / "alerts.yml", tmp_path / "alerts.yml")
    result = subprocess.run([promtool(), "check", "config", str(tmp_path / "prometheus.yml")], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_the_prometheus_service_writes_the_token_file_prometheus_reads():
    service = files.services()["prometheus"]
    assert TOKEN_FILE in " ".join(service["command"])
    assert "PFLOW_METRICS_TOKEN" in service["environment"]
    mounts = service["volumes"]
    assert "./monitoring/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in mounts
    assert "./monitoring/alerts.yml:/etc/prometheus/alerts.yml:ro" in mounts
    config = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    targets = [t for job in config["scrape_configs"] for c in job.get("static_configs", []) for t in c["targets"]]
    assert "api:8080" in targets
    names = {n for job in config["scrape_configs"] for c in job.get("dns_sd_configs", []) for n in c["names"]}
    assert names == {"worker", "consumer"}
    for name in ("worker", "consumer"):
        env = files.services()[name]["environment"]
        assert str(env["PFLOW_METRICS_PORT"]) == "9100" and "9100" in files.services()[name]["expose"]


def test_the_monitoring_profile_loads(compose_v1, tmp_path):  # noqa: F811
    compose_file = copy_compose_dir(tmp_path)
    env = write_env(compose_file.parent / ".env")
    project = resolved(compose_v1 + ["--profile", "monitoring"], False, compose_file, env, compose_file.parent)
    assert {"prometheus", "grafana"} <= set(project["services"])
    grafana = project["services"]["grafana"]["environment"]
    assert grafana["GF_SECURITY_ADMIN_PASSWORD"] == "grafana-pass-2d8b"
    assert project["services"]["api"]["environment"]["PFLOW_METRICS_TOKEN"] == "metrics-token-8e2a61f0c4d7"
    assert not project["services"]["prometheus"].get("ports") and not project["services"]["grafana"].get("ports")


def test_grafana_provisioning_points_at_prometheus_and_the_dashboards():
    datasources = yaml.safe_load((MONITORING / "grafana/provisioning/datasources/prometheus.yml").read_text())
    (source,) = datasources["datasources"]
    assert source["type"] == "prometheus" and source["url"] == "http://prometheus:9090"
    providers = yaml.safe_load((MONITORING / "grafana/provisioning/dashboards/pflow.yml").read_text())
    assert providers["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
    assert "./monitoring/grafana/dashboards:/var/lib/grafana/dashboards:ro" in files.services()["grafana"]["volumes"]
    dashboard = json.loads(DASHBOARD.read_text())
    uids = {t["datasource"]["uid"] for p in dashboard["panels"] for t in p["targets"]}
    assert uids == {source["uid"]}


def queried_names() -> dict[str, set[str]]:
    """Every metric name the alert rules and the dashboard use, by file."""
    rules = yaml.safe_load((MONITORING / "alerts.yml").read_text())
    alert_exprs = [r["expr"] for g in rules["groups"] for r in g["rules"]]
    dashboard = json.loads(DASHBOARD.read_text())
    panel_exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]

    def names(exprs):
        found = set()
        for expr in exprs:
            expr = re.sub(r"\{[^}]*\}", "{}", expr)  # label matchers are not metric names
            found |= {m for m in re.findall(r"\b(pflow_[a-z0-9_]+|up)\b", expr)}
        return found

    return {"alerts.yml": names(alert_exprs), "pflow.json": names(panel_exprs)}


def exported_names(tmp_path) -> set[str]:
    stack = build_stack("memory", tmp_path)
    try:
        text = create_app(stack.container).test_client().get("/metrics").get_data(as_text=True)
    finally:
        stack.close()
    suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_count", "_sum"], "gauge": [""]}
    # (the parser reads a counter's `_created` timestamp as a family of its own: not a metric to chart)
    return {family.name + suffix for family in text_string_to_metric_families(text)
            if not family.name.endswith("_created") for suffix in suffixes.get(family.type, [""])}


def test_every_metric_the_alerts_and_the_dashboard_use_is_exported(tmp_path):
    exported = exported_names(tmp_path)
    assert {"pflow_tickets", "pflow_worker_tasks_completed_total", "pflow_engine_call_duration_seconds_bucket"} \
        <= exported
    used = queried_names()
    assert len(used["alerts.yml"]) >= 6 and len(used["pflow.json"]) >= 15
    for where, names in used.items():
        missing = names - exported - PROMETHEUS_OWN
        assert not missing, f"{where} queries metrics PFlow does not export: {sorted(missing)}"


def test_the_dashboard_covers_every_pflow_metric(tmp_path):
    exported = {n for n in exported_names(tmp_path) if n.startswith("pflow_")}
    families = {re.sub(r"_(bucket|count|sum)$", "", n) for n in exported}
    used = {re.sub(r"_(bucket|count|sum)$", "", n) for n in queried_names()["pflow.json"]}
    assert families - used == set(), "add a panel for these"
