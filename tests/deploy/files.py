"""Readers for the deployment files, shared by the tests in tests/deploy (no Docker engine needed)."""

from __future__ import annotations

import ast
import os
import re
import shutil
import textwrap
from functools import lru_cache
from pathlib import Path

import pytest
import yaml

from pflow.config import REPO_ROOT

# As tests/support.py reads it; not imported from there, so these file checks do not need the app's
# adapters to import (pflow.config is all they read).
REQUIRE_SERVICES = os.environ.get("PFLOW_REQUIRE_SERVICES") == "1"

COMPOSE_FILE = REPO_ROOT / "deploy" / "docker-compose.yml"
# Publishes the internal services on 127.0.0.1 for the local debug flow; never used on a server.
COMPOSE_DEBUG_FILE = REPO_ROOT / "deploy" / "docker-compose.debug.yml"
COMPOSE_OPERATON_FILE = REPO_ROOT / "deploy" / "docker-compose.operaton.yml"
TLS_DIR = REPO_ROOT / "deploy" / "tls"
TLS_SCRIPT = TLS_DIR / "make-self-signed.sh"
PIN_SCRIPT = REPO_ROOT / "deploy" / "pin-images.sh"
ENV_EXAMPLE = REPO_ROOT / ".env.example"
BACKEND_DOCKERFILE = REPO_ROOT / "deploy" / "Dockerfile"
FRONTEND_DOCKERFILE = REPO_ROOT / "deploy" / "frontend.Dockerfile"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"
NGINX_CONF = REPO_ROOT / "deploy" / "nginx" / "default.conf"
LIMA_YAML = REPO_ROOT / "ops" / "mac-dev" / "lima.yaml"
LIMA_HELPER = REPO_ROOT / "ops" / "mac-dev" / "pflow-vm.sh"
CONFIG_PY = REPO_ROOT / "pflow" / "config.py"
README = REPO_ROOT / "README.md"
DOCS = {"en": REPO_ROOT / "docs" / "deployment.md", "zh-CN": REPO_ROOT / "docs" / "deployment.zh-CN.md"}

# Services built from deploy/Dockerfile: they read PFlow's settings.
PFLOW_IMAGE_DOCKERFILE = "deploy/Dockerfile"


def require(what: str, available: bool, hint: str) -> None:
    """Skip (printing why) when a tool or a file from another part of the project is missing;
    under PFLOW_REQUIRE_SERVICES=1 (CI) fail instead, so the check cannot silently disappear."""
    if available:
        return
    reason = f"{what} is not available; {hint}"
    if REQUIRE_SERVICES:
        pytest.fail(f"PFLOW_REQUIRE_SERVICES=1 but {reason}", pytrace=False)
    print(f"\nSKIP: {reason}")
    pytest.skip(reason)


def require_tool(name: str, hint: str) -> str:
    path = shutil.which(name)
    require(f"`{name}`", path is not None, hint)
    return path  # type: ignore[return-value]


# --- the Compose file ---------------------------------------------------------------------------

@lru_cache(maxsize=None)
def compose() -> dict:
    """deploy/docker-compose.yml as YAML (anchors and merge keys resolved), not interpolated."""
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


def services() -> dict[str, dict]:
    return compose()["services"]


def pflow_services() -> dict[str, dict]:
    """api, worker, consumer: the services running the backend image."""
    images = {s["image"] for s in services().values()
              if isinstance(s.get("build"), dict) and s["build"].get("dockerfile") == PFLOW_IMAGE_DOCKERFILE}
    assert len(images) == 1, f"one image tag expected for {PFLOW_IMAGE_DOCKERFILE}, found {images}"
    return {name: s for name, s in services().items() if s.get("image") in images}


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


_INTERPOLATION = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


def interpolations(path: Path = COMPOSE_FILE) -> dict[str, list[tuple[str, str]]]:
    """Every ${NAME...} in a Compose file ($${...} is an escaped literal, and comment lines, such as the
    commented-out single sign-on settings, are not read by Compose): NAME -> [(operator, argument)]."""
    found: dict[str, list[tuple[str, str]]] = {}
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if not line.lstrip().startswith("#")]
    for name, operator, argument in _INTERPOLATION.findall("\n".join(lines)):
        found.setdefault(name, []).append((operator, argument))
    return found


@lru_cache(maxsize=None)
def compose_debug() -> dict:
    """deploy/docker-compose.debug.yml, the override that publishes the internal services."""
    return yaml.safe_load(COMPOSE_DEBUG_FILE.read_text(encoding="utf-8"))


def published_ports(service: dict) -> list[tuple[str, int, int]]:
    """[(host_ip or '', published, target)] from the short syntax used in the file."""
    result = []
    for entry in service.get("ports", []):
        parts = str(entry).split(":")
        if len(parts) == 3:
            ip, published, target = parts
        elif len(parts) == 2:
            ip, (published, target) = "", parts
        else:
            raise AssertionError(f"port {entry!r}: give host and container port explicitly")
        result.append((ip, int(published), int(target)))
    return result


# --- .env.example --------------------------------------------------------------------------------

_ENV_LINE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$")


def env_example() -> dict[str, str]:
    """NAME -> value for every assignment; any other non-comment line is an error."""
    values: dict[str, str] = {}
    for number, line in enumerate(ENV_EXAMPLE.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _ENV_LINE.match(line)
        assert match, f".env.example line {number}: {line!r} is not NAME=value"
        name, value = match.groups()
        assert name not in values, f".env.example sets {name} twice"
        values[name] = value
    return values


# --- pflow/config.py -----------------------------------------------------------------------------

def config_variables() -> set[str]:
    """Every environment variable pflow/config.py reads, found in its source (so new ones are seen):
    ``env.get("NAME")``, ``os.environ.get("NAME")``, ``os.getenv("NAME")``, ``env["NAME"]`` and
    helper calls ``_helper(env, "NAME", ...)``."""
    tree = ast.parse(CONFIG_PY.read_text(encoding="utf-8"))
    names: set[str] = set()

    def const(node) -> str | None:
        return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None

    def is_env(node) -> bool:
        return (isinstance(node, ast.Name) and node.id in {"env", "environ"}) or \
            (isinstance(node, ast.Attribute) and node.attr == "environ")

    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr == "get" and is_env(func.value) and node.args:
                name = const(node.args[0])
            elif isinstance(func, ast.Attribute) and func.attr == "getenv" and node.args:
                name = const(node.args[0])
            elif isinstance(func, ast.Name) and len(node.args) >= 2 and is_env(node.args[0]):
                name = const(node.args[1])
            else:
                name = None
            if name:
                names.add(name)
        elif isinstance(node, ast.Subscript) and is_env(node.value):
            name = const(node.slice)
            if name:
                names.add(name)
    return names


# --- Markdown ------------------------------------------------------------------------------------

def markdown_section(text: str, heading: str) -> str:
    """The text under a heading line (e.g. '## Configuration') up to the next heading of the same or
    a higher level."""
    level = len(heading) - len(heading.lstrip("#"))
    lines = text.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == heading)
    except StopIteration:
        raise AssertionError(f"no heading {heading!r}") from None
    body = []
    for line in lines[start + 1:]:
        stripped = line.lstrip()
        if stripped.startswith("#"):
            hashes = len(stripped) - len(stripped.lstrip("#"))
            if hashes <= level and stripped[hashes:hashes + 1] == " ":
                break
        body.append(line)
    return "\n".join(body)


def markdown_tables(text: str) -> list[list[list[str]]]:
    """Every pipe table in text (outside code fences): a list of rows of cells, header row first,
    the |---| separator row dropped."""
    tables: list[list[list[str]]] = []
    current: list[list[str]] | None = None
    in_fence = False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
        stripped = line.strip()
        if not in_fence and stripped.startswith("|") and stripped.endswith("|"):
            cells = [cell.strip() for cell in _split_row(stripped[1:-1])]
            if all(re.fullmatch(r":?-{3,}:?", c) for c in cells):
                continue
            if current is None:
                current = []
                tables.append(current)
            current.append(cells)
        else:
            current = None
    return tables


def _split_row(row: str) -> list[str]:
    # A pipe inside `code` does not end a cell.
    cells, cell, in_code = [], "", False
    for ch in row:
        if ch == "`":
            in_code = not in_code
        if ch == "|" and not in_code:
            cells.append(cell)
            cell = ""
        else:
            cell += ch
    cells.append(cell)
    return cells


def code_spans(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


def table_with_header(text: str, first_header: str) -> list[list[str]]:
    """The table whose first header cell is first_header (rows without the header)."""
    for table in markdown_tables(text):
        if table and table[0][0].strip("` ").lower() == first_header.lower():
            return table[1:]
    raise AssertionError(f"no table with first column {first_header!r}")


def fenced_blocks(text: str) -> list[str]:
    """The content of every fenced code block, including those indented inside list items (dedented)."""
    return [textwrap.dedent(m.group(2))
            for m in re.finditer(r"^([ \t]*)```[^\n]*\n(.*?)^\1```", text, re.S | re.M)]


def image_parts(reference: str) -> tuple[str, str, str]:
    """(name, tag, digest) of an image reference name[:tag][@sha256:<64 hex>]; '' for a missing part."""
    name, _, digest = reference.partition("@")
    tag = ""
    if ":" in name.rsplit("/", 1)[-1]:
        name, tag = name.rsplit(":", 1)
    return name, tag, digest


def dockerfile_from_images(path: Path) -> list[str]:
    images = []
    for line in path.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^FROM\s+(\S+)", line.strip(), re.I)
        if match:
            images.append(match.group(1))
    return images


def clean_env() -> dict[str, str]:
    """This process's environment without anything that would override the files under test."""
    drop = set(env_example()) | set(interpolations()) | config_variables() | {"COMPOSE_FILE", "COMPOSE_PROJECT_NAME"}
    return {k: v for k, v in os.environ.items() if k not in drop}
