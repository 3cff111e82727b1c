"""ops/mac-dev: the Lima VM template parses, its shell scripts pass bash -n and shellcheck, and it
provisions what the documented flows need."""

from __future__ import annotations

import re
import subprocess

import pytest
import yaml

from tests.deploy import files
from tests.deploy.files import LIMA_HELPER, LIMA_YAML

MOUNT_POINT = "/mnt/lima/source/PFlow"


def lima() -> dict:
    return yaml.safe_load(LIMA_YAML.read_text(encoding="utf-8"))


def scripts() -> list[tuple[str, str]]:
    config = lima()
    found = [(f"provision[{i}]", p["script"]) for i, p in enumerate(config.get("provision", [])) if "script" in p]
    found += [(f"probes[{i}]", p["script"]) for i, p in enumerate(config.get("probes", []))]
    return found


SCRIPTS = [pytest.param(script, id=name) for name, script in scripts()] + \
          [pytest.param(LIMA_HELPER.read_text(encoding="utf-8"), id=LIMA_HELPER.name)]


def test_the_template_has_what_lima_needs():
    config = lima()
    assert {image["arch"] for image in config["images"]} == {"aarch64", "x86_64"}, "Apple Silicon and Intel"
    assert all("ubuntu-24.04" in image["location"] for image in config["images"])
    assert config["containerd"] == {"system": False, "user": False}, "Docker brings its own containerd"
    assert [p["mode"] for p in config["provision"]] == ["system"]
    assert config["mounts"] == [], "only the repository is mounted, by pflow-vm.sh"
    assert MOUNT_POINT in config["message"]


@pytest.mark.parametrize("script", SCRIPTS)
def test_scripts_parse_with_bash(script):
    assert script.startswith("#!/bin/bash") or script.startswith("#!/usr/bin/env bash")
    result = subprocess.run(["bash", "-n"], input=script, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("script", SCRIPTS)
def test_scripts_pass_shellcheck(script):
    shellcheck = files.require_tool("shellcheck", "install Debian's shellcheck (apt-get install -y shellcheck)")
    result = subprocess.run([shellcheck, "--shell=bash", "--severity=style", "-"], input=script,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_shellcheck_catches_a_bad_script():
    shellcheck = files.require_tool("shellcheck", "install Debian's shellcheck (apt-get install -y shellcheck)")
    result = subprocess.run([shellcheck, "--shell=bash", "-"], input="#!/bin/bash\nrm -rf $1/*\n",
                            capture_output=True, text=True)
    assert result.returncode != 0 and "SC2086" in result.stdout


def test_provisioning_installs_docker_compose_python_and_node_20():
    provision = lima()["provision"][0]["script"]
    assert re.search(r"apt-get install .*\bdocker\.io\b.*\bdocker-compose-v2\b", provision)
    assert re.search(r"apt-get install .*\bpython3\b.*\bpython3-venv\b", provision)
    assert re.search(r"^\s*NODE_MAJOR=20$", provision, re.M)
    assert "https://deb.nodesource.com/node_${NODE_MAJOR}.x" in provision
    assert 'usermod -aG docker "${LIMA_CIDATA_USER}"' in provision
    probe = lima()["probes"][0]["script"]
    assert "docker compose version" in probe and "(3, 11)" in probe and "'^20\\.'" in probe


def test_the_helper_mounts_the_repository_where_the_docs_say():
    helper = LIMA_HELPER.read_text(encoding="utf-8")
    assert f"MOUNT_POINT={MOUNT_POINT}" in helper
    assert '"writable\\": true' in helper
    assert LIMA_HELPER.stat().st_mode & 0o111, "pflow-vm.sh must be executable"
    for doc in files.DOCS.values():
        text = doc.read_text(encoding="utf-8")
        assert "ops/mac-dev/pflow-vm.sh start" in text and MOUNT_POINT in text, doc.name
