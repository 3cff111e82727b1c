"""The Dockerfiles, the build context, and image versions that match the ones PFlow is tested with."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tomllib
import xml.etree.ElementTree as ET

import pytest
from packaging.specifiers import SpecifierSet

from pflow.config import REPO_ROOT
from tests.deploy import files
from tests.deploy.files import BACKEND_DOCKERFILE, DOCKERIGNORE, FRONTEND_DOCKERFILE, services

DOCKERFILES = [BACKEND_DOCKERFILE, FRONTEND_DOCKERFILE]


def instructions(path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    result, pending = [], ""
    for line in path.read_text(encoding="utf-8").splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending += line.rstrip("\\").strip() + " " if line.rstrip().endswith("\\") else line.strip()
        if not line.rstrip().endswith("\\"):
            keyword, _, args = pending.partition(" ")
            result.append((keyword.upper(), args.strip()))
            pending = ""
    return result


def stages(path) -> list[list[tuple[str, str]]]:
    out: list[list[tuple[str, str]]] = []
    for keyword, args in instructions(path):
        if keyword == "FROM":
            out.append([])
        out[-1].append((keyword, args))
    return out


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_no_syntax_directive(dockerfile):
    # BuildKit would pull docker/dockerfile from Docker Hub first, which fails on offline hosts.
    assert not re.search(r"^#\s*syntax\s*=", dockerfile.read_text(encoding="utf-8"), re.M | re.I)


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_multi_stage_build(dockerfile):
    built = stages(dockerfile)
    assert len(built) >= 2
    assert any(kw == "COPY" and "--from=build" in args for kw, args in built[-1]), "the final stage copies the build"


def test_backend_image_runs_as_a_non_root_user():
    final = stages(BACKEND_DOCKERFILE)[-1]
    users = [args for kw, args in final if kw == "USER"]
    assert users, "no USER in the final stage"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}
    assert user.isdigit(), "a numeric user lets orchestrators verify runAsNonRoot"
    # The user exists in the image with that id.
    assert re.search(rf"useradd\b.*--uid {user}\b", " ".join(args for kw, args in final if kw == "RUN"))


def test_backend_image_fixes_the_paths_pflow_needs():
    env = " ".join(args for kw, args in stages(BACKEND_DOCKERFILE)[-1] if kw == "ENV")
    # Every process and ticket type of the folder the image copies; no single BPMN file named in it.
    assert "PFLOW_WORKFLOWS_DIR=/app/deploy/workflows" in env
    assert "PFLOW_BPMN_FILE" not in env
    copies = [args for kw, args in stages(BACKEND_DOCKERFILE)[-1] if kw == "COPY"]
    assert "deploy/workflows/ /app/deploy/workflows/" in copies
    for name, service in files.pflow_services().items():
        environment = files.environment(service)
        assert environment["PFLOW_WORKFLOWS_DIR"] == "/app/deploy/workflows", name
        # PFLOW_BPMN_FILE is one more file, outside that folder: empty unless the operator names one.
        assert environment["PFLOW_BPMN_FILE"] == "${PFLOW_BPMN_FILE:-}", name
    assert files.env_example()["PFLOW_BPMN_FILE"] == ""


def test_frontend_image_serves_the_build_with_the_nginx_config():
    final = stages(FRONTEND_DOCKERFILE)[-1]
    copies = [args for kw, args in final if kw == "COPY"]
    assert "deploy/nginx/default.conf /etc/nginx/conf.d/default.conf" in copies
    assert "--from=build /src/frontend/dist/ /usr/share/nginx/html/" in copies
    build = " ".join(args for kw, args in stages(FRONTEND_DOCKERFILE)[0] if kw == "RUN")
    assert "npm ci" in build and "npm run build" in build


def _pattern_regex(pattern: str) -> re.Pattern:
    """A .dockerignore pattern as Docker reads it: anchored at the context root, `**` spanning folders."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + r"\Z")


def _ignored(path: str, patterns: list[str]) -> bool:
    """Whether the file is left out of the build context (a matching folder takes its contents along)."""
    parts = path.split("/")
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        regex = _pattern_regex(pattern.lstrip("!").strip("/"))
        if any(regex.match(prefix) for prefix in prefixes):
            ignored = not negate
    return ignored


def dockerignore_patterns() -> list[str]:
    return [line.strip() for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")]


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_what_the_dockerfiles_copy_exists_and_reaches_the_build_context(dockerfile):
    patterns = dockerignore_patterns()
    for keyword, args in instructions(dockerfile):
        if keyword != "COPY" or "--from=" in args:
            continue
        *sources, _ = args.split()
        for source in sources:
            path = source.rstrip("/")
            if path.startswith("frontend/"):
                files.require("frontend/", (REPO_ROOT / "frontend" / "package.json").exists(),
                              "the React app is being added on another branch")
            assert (REPO_ROOT / path).exists(), f"{dockerfile.name}: COPY {source}: no such file in the repository"
            assert not _ignored(path, patterns), f"{dockerfile.name}: COPY {source} is excluded by .dockerignore"


def test_dockerignore_keeps_secrets_and_local_state_out():
    patterns = dockerignore_patterns()
    for path in (".env", "deploy/.env", "deploy/config/users.json", "deploy/tls/tls.key", ".venv/bin/python", ".git/config",
                 "frontend/node_modules/react/index.js", "var/pflow.db"):
        assert _ignored(path, patterns), f"{path} would be sent to the Docker build"
    for path in ("pyproject.toml", "README.md", "pflow/config.py", "deploy/workflows/ticket-process.bpmn",
                 "frontend/src/main.tsx", "frontend/package-lock.json"):
        assert not _ignored(path, patterns), f"{path} is needed by a build"


# --- versions --------------------------------------------------------------------------------------

def image_tag(service: str) -> str:
    return files.image_parts(services()[service]["image"])[1]


def test_camunda_image_is_the_version_the_tests_run():
    pom = REPO_ROOT / "deploy" / "camunda-dev" / "pom.xml"
    files.require("deploy/camunda-dev/pom.xml", pom.exists(), "the test engine's build names the Camunda version")
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    version = ET.parse(pom).getroot().find("m:properties/m:camunda.version", ns).text
    assert image_tag("camunda") == f"run-{version}"


def test_postgres_image_is_the_major_version_the_tests_run():
    script = REPO_ROOT / ".ci" / "services.sh"
    files.require(".ci/services.sh", script.exists(), "it starts the PostgreSQL the integration tests use")
    major = re.search(r"^PG_VERSION=(\d+)", script.read_text(encoding="utf-8"), re.M).group(1)
    assert image_tag("db").split("-")[0].split(".")[0] == major


def test_rabbitmq_image_is_the_major_version_the_tests_run():
    dpkg = shutil.which("dpkg-query")
    installed = subprocess.run([dpkg, "-W", "-f", "${Version}", "rabbitmq-server"], capture_output=True,
                               text=True).stdout if dpkg else ""
    files.require("the rabbitmq-server package", bool(installed), ".ci/services.sh installs it for the tests")
    assert image_tag("rabbitmq").split("-")[0] == installed.split(".")[0]


def test_python_image_satisfies_requires_python():
    requires = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["requires-python"]
    for image in files.dockerfile_from_images(BACKEND_DOCKERFILE):
        name, tag, _ = files.image_parts(image)
        assert name == "python"
        version = re.match(r"\d+\.\d+", tag).group(0)
        assert SpecifierSet(requires).contains(version + ".0"), f"{image} does not satisfy {requires}"


def test_node_image_satisfies_the_frontend_engines():
    package = REPO_ROOT / "frontend" / "package.json"
    files.require("frontend/package.json", package.exists(), "the React app is being added on another branch")
    engines = json.loads(package.read_text(encoding="utf-8")).get("engines", {}).get("node", "")
    node = [i for i in files.dockerfile_from_images(FRONTEND_DOCKERFILE) if i.startswith("node:")]
    assert len(node) == 1
    major = int(re.match(r"\d+", files.image_parts(node[0])[1]).group(0))
    wanted = re.match(r">=\s*(\d+)", engines)
    assert wanted, f"frontend/package.json engines.node {engines!r}: expected a >= range"
    assert major >= int(wanted.group(1)), f"{node[0]} is older than {engines}"


# --- what the image installs -----------------------------------------------------------------------

def _declared_distributions() -> set[str]:
    """pyproject's runtime dependencies and everything they pull in (markers evaluated, extras followed):
    exactly what deploy/Dockerfile installs."""
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    pending = [Requirement(r) for r in tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
               ["project"]["dependencies"]]
    seen: set[str] = set()
    while pending:
        requirement = pending.pop()
        name = canonicalize_name(requirement.name)
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.requires(requirement.name) or []
        except metadata.PackageNotFoundError:
            continue
        for spec in map(Requirement, requires):
            extras = {""} | set(requirement.extras)
            if spec.marker is None or any(spec.marker.evaluate({"extra": extra}) for extra in extras):
                pending.append(spec)
    return seen


def _third_party_imports() -> dict[str, str]:
    """Top-level modules imported anywhere in pflow/ that are neither stdlib nor pflow: module -> a file."""
    import ast
    import sys

    found: dict[str, str] = {}
    for path in sorted((REPO_ROOT / "pflow").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                if top != "pflow" and top not in sys.stdlib_module_names and top != "__future__":
                    found.setdefault(top, str(path.relative_to(REPO_ROOT)))
    return found


def test_the_backend_image_installs_every_package_pflow_imports():
    """The image installs pyproject's dependencies only; an import satisfied by a dev tool here would
    crash the containers."""
    from importlib import metadata

    from packaging.utils import canonicalize_name

    declared = _declared_distributions()
    providers = metadata.packages_distributions()
    missing = {}
    for module, where in _third_party_imports().items():
        dists = {canonicalize_name(d) for d in providers.get(module, [])}
        if not dists & declared:
            missing[module] = (where, sorted(dists) or "not installed")
    assert not missing, f"imported by pflow/ but not among pyproject's dependencies: {missing}"


# --- pinned by digest ------------------------------------------------------------------------------

DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
# Images PFlow builds itself (deploy/docker-compose.yml `build:`): no registry digest to pin.
LOCAL_IMAGES = {"pflow", "pflow-frontend"}
# Pulled images still without a digest, each with why. Only a digest found tied to the exact tag is
# used; deploy/pin-images.sh adds the missing ones where the registry is reachable (then remove the
# entry here: the test below fails while an entry is pinned or a new unpinned image appears).
UNPINNED = {
    "camunda/camunda-bpm-platform:run-7.24.0": "no public source tying a digest to this tag was found; "
                                               "run deploy/pin-images.sh where Docker Hub is reachable",
}


def image_references() -> dict[str, str]:
    """Every image the stack pulls or builds from -> where it is named."""
    found = {s["image"]: f"deploy/docker-compose.yml service {name}" for name, s in services().items()}
    for dockerfile in DOCKERFILES:
        for image in files.dockerfile_from_images(dockerfile):
            found[image] = f"deploy/{dockerfile.name}"
    return found


def test_every_pulled_image_is_pinned_by_digest_with_its_tag():
    unpinned = {}
    for reference, where in image_references().items():
        name, tag, digest = files.image_parts(reference)
        if name in LOCAL_IMAGES:
            assert not digest, f"{reference} ({where}) is built here"
            continue
        assert tag, f"{reference} ({where}): keep the tag next to the digest, so it says which release it is"
        if not digest:
            unpinned[reference] = where
            continue
        assert DIGEST.fullmatch(digest), f"{reference} ({where}): the digest must be sha256 with 64 hex digits"
    assert set(unpinned) == set(UNPINNED), f"not pinned by digest: {unpinned}"


def test_one_digest_per_image_everywhere():
    """The build and final stages of deploy/Dockerfile use the same python image, so the same digest."""
    digests: dict[tuple[str, str], set[str]] = {}
    for reference in image_references():
        name, tag, digest = files.image_parts(reference)
        digests.setdefault((name, tag), set()).add(digest)
    assert all(len(d) == 1 for d in digests.values()), digests


def test_the_image_reference_parser():
    d = "a" * 64
    assert files.image_parts(f"quay.io/keycloak/keycloak:26.4.7@sha256:{d}") == ("quay.io/keycloak/keycloak", "26.4.7",
                                                                                f"sha256:{d}")
    assert files.image_parts("postgres:15") == ("postgres", "15", "")
    assert files.image_parts("localhost:5000/pflow") == ("localhost:5000/pflow", "", "")


def test_pin_images_rewrites_every_reference_to_the_registry_digest(tmp_path):
    """deploy/pin-images.sh against a stand-in `crane` that answers one digest for every tag."""
    shellcheck = files.require_tool("shellcheck", "install Debian's shellcheck (apt-get install -y shellcheck)")
    lint = subprocess.run([shellcheck, "--shell=bash", "--severity=style", str(files.PIN_SCRIPT)], capture_output=True,
                          text=True, timeout=60)
    assert lint.returncode == 0, lint.stdout
    repo = tmp_path / "repo"
    (repo / "deploy").mkdir(parents=True)
    for path in (files.PIN_SCRIPT, files.COMPOSE_FILE, files.COMPOSE_OPERATON_FILE, BACKEND_DOCKERFILE,
                 FRONTEND_DOCKERFILE):
        shutil.copy(path, repo / "deploy" / path.name)
    fake = tmp_path / "bin"
    fake.mkdir()
    new = "sha256:" + "0123456789abcdef" * 4
    (fake / "crane").write_text(f'#!/bin/sh\n[ "$1" = digest ] && echo {new}\n')
    (fake / "crane").chmod(0o755)
    env = {"PATH": f"{fake}:/usr/bin:/bin"}
    check = subprocess.run(["bash", str(repo / "deploy" / "pin-images.sh"), "--check"], capture_output=True, text=True,
                           env=env, timeout=60)
    assert check.returncode == 1 and "new digest" in check.stdout
    assert (repo / "deploy" / "docker-compose.yml").read_text() == files.COMPOSE_FILE.read_text(), "--check writes nothing"
    run = subprocess.run(["bash", str(repo / "deploy" / "pin-images.sh")], capture_output=True, text=True, env=env,
                         timeout=60)
    assert run.returncode == 0, run.stderr
    compose_text = (repo / "deploy" / "docker-compose.yml").read_text()
    from_lines = [line for name in ("Dockerfile", "frontend.Dockerfile")
                  for line in (repo / "deploy" / name).read_text().splitlines() if line.startswith("FROM ")]
    for reference in image_references():
        name, tag, _ = files.image_parts(reference)
        if name in LOCAL_IMAGES:
            assert f"image: {reference}\n" in compose_text
            continue
        wanted = f"{name}:{tag}@{new}"
        assert wanted in compose_text or any(line.split()[1] == wanted for line in from_lines), wanted
    # the Operaton override's engine image too (deploy/docker-compose.operaton.yml)
    operaton_text = (repo / "deploy" / "docker-compose.operaton.yml").read_text()
    assert f"image: operaton/operaton:1.0.3@{new}\n" in operaton_text
    assert "AS build" in from_lines[0], "the rest of a FROM line is kept"
    again = subprocess.run(["bash", str(repo / "deploy" / "pin-images.sh"), "--check"], capture_output=True, text=True,
                           env=env, timeout=60)
    assert again.returncode == 0 and "new digest" not in again.stdout
