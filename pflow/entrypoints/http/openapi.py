"""The API's OpenAPI document as a file.

The UI's client types are generated from a committed copy (frontend/openapi.json), so the UI builds
without Python; `pflow openapi --output frontend/openapi.json` writes it again after the API changes,
and a test fails while the copy and the served document differ.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pflow.config import REPO_ROOT, Settings

#: the committed copy the UI's types are generated from
UI_SPEC = REPO_ROOT / "frontend" / "openapi.json"
REGENERATE = "pflow openapi --output frontend/openapi.json"


def openapi_document() -> dict[str, Any]:
    """The document /api/openapi.json serves, read from an app on in-memory adapters.

    The document depends on the code only (schemas, routes, version), not on the configured stack, so
    nothing is opened, written or deployed to get it.
    """
    from pflow.container import build_container
    from pflow.entrypoints.http.app import create_app

    settings = Settings(workflow_engine="memory", database_url="memory://", rabbitmq_url="memory://",
                        secret_key="openapi-document", ui_dir=Path("/nonexistent"))
    app = create_app(build_container(settings))
    response = app.test_client().get("/api/openapi.json")
    if response.status_code != 200:  # pragma: no cover - the route is public
        raise RuntimeError(f"/api/openapi.json answered {response.status_code}")
    return response.get_json()


def render(document: dict[str, Any]) -> str:
    """Deterministic text: sorted keys, two-space indent, UTF-8 kept as is, one final newline."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
