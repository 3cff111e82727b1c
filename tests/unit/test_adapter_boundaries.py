"""The adapters stay apart: no adapter package imports another one.

Shared infrastructure lives in packages every adapter may use: ``adapters.database`` (engine
creation, the SQLite writer lock, error translation, migrations) and ``adapters.bpmn`` (the BPMN
reader both engines use). One deliberate exception: the in-memory process engine *is* the embedded
engine on an in-memory database, so ``memory`` may import ``spiff``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pflow.adapters

ADAPTERS = Path(pflow.adapters.__file__).parent
SHARED = {"database", "bpmn"}
ALLOWED = {("memory", "spiff")}


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def _package_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[:2] != ["pflow", "adapters"] or len(parts) < 3:
        return None
    return parts[2]


def test_no_adapter_imports_another():
    crossings = []
    for path in sorted(ADAPTERS.rglob("*.py")):
        own = path.relative_to(ADAPTERS).parts[0]
        if own.endswith(".py"):
            continue  # single-module adapters (catalog, users, oidc…) import no package below
        for module in _imports(path):
            other = _package_of(module)
            if other is None or other == own or other in SHARED or (own, other) in ALLOWED:
                continue
            if (ADAPTERS / other).is_dir() or (ADAPTERS / f"{other}.py").exists():
                crossings.append(f"{path.relative_to(ADAPTERS)} imports {module}")
    assert crossings == []


def test_shared_packages_import_no_adapter():
    for shared in SHARED:
        for path in (ADAPTERS / shared).rglob("*.py"):
            for module in _imports(path):
                other = _package_of(module)
                assert other in (None, shared), f"{path.relative_to(ADAPTERS)} imports {module}"


PFLOW = ADAPTERS.parent


def test_the_composition_root_and_the_runtime_import_no_entrypoint():
    # container.py wires adapters, services and the runtime loops; the entrypoints (CLI, HTTP, gunicorn) sit above
    # it, so it never imports them, and neither does what it wires.
    offenders = []
    for path in [PFLOW / "container.py", *sorted((PFLOW / "runtime").rglob("*.py"))]:
        offenders += [f"{path.relative_to(PFLOW)} imports {m}" for m in _imports(path)
                      if m == "pflow.entrypoints" or m.startswith("pflow.entrypoints.")]
    assert offenders == []


def test_the_runtime_loops_depend_on_ports_not_adapters():
    for path in sorted((PFLOW / "runtime").rglob("*.py")):
        assert not [m for m in _imports(path) if m.startswith("pflow.adapters")], path.name


def test_the_container_keeps_no_second_copy_of_the_settings():
    from dependency_injector import providers

    from pflow.container import Container

    copies = [name for name, provider in Container.providers.items() if isinstance(provider, providers.Configuration)]
    assert copies == []


def test_tracing_below_the_adapters_uses_only_opentelemetrys_api():
    # pflow/tracing.py is shared by the service and the runtime: the API (no-op until a provider is installed),
    # never the SDK or an exporter, which only pflow/adapters/tracing.py loads
    for module in _imports(PFLOW / "tracing.py"):
        assert not module.startswith(("opentelemetry.sdk", "opentelemetry.exporter", "opentelemetry.instrumentation",
                                      "pflow.adapters")), module
    for path in sorted((PFLOW / "domain").rglob("*.py")):
        assert not [m for m in _imports(path) if m.startswith(("opentelemetry", "pflow.tracing"))], path.name
