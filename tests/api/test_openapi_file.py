"""frontend/openapi.json, the copy of the API's document the UI's types are generated from, is the
document the API serves, written the way `pflow openapi` writes it."""

from __future__ import annotations

import json

from click.testing import CliRunner

from pflow.entrypoints.cli import main
from pflow.entrypoints.http import create_app
from pflow.entrypoints.http.openapi import REGENERATE, UI_SPEC, openapi_document, render


def served(stack) -> dict:
    response = create_app(stack.container).test_client(use_cookies=False).get("/api/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def stale_copy_message(committed: str, live: str) -> str | None:
    """None when the copy is the served document; otherwise what differs and how to write it again."""
    if committed == live:
        return None
    old, new = json.loads(committed), json.loads(live)
    o, n = old.get("components", {}).get("schemas", {}), new["components"]["schemas"]
    schemas = sorted(name for name in set(o) | set(n) if o.get(name) != n.get(name))
    paths = sorted(p for p in set(old.get("paths", {})) | set(new["paths"])
                   if old.get("paths", {}).get(p) != new["paths"].get(p))
    return (f"frontend/openapi.json differs from the API's document (schemas {schemas}, paths {paths}): "
            f"run `{REGENERATE}`, then `npm --prefix frontend run build`, and commit both")


def test_the_committed_spec_is_the_document_the_api_serves(memory_stack):
    assert UI_SPEC.exists(), f"{UI_SPEC} is missing: run `{REGENERATE}`"
    message = stale_copy_message(UI_SPEC.read_text(encoding="utf-8"), render(served(memory_stack)))
    assert message is None, message


def test_the_document_does_not_depend_on_the_stack_it_is_read_from(memory_stack):
    assert openapi_document() == served(memory_stack)


def test_pflow_openapi_writes_sorted_deterministic_json(tmp_path):
    out = tmp_path / "openapi.json"
    result = CliRunner().invoke(main, ["openapi", "--output", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    document = json.loads(text)
    assert text == json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    assert list(document) == sorted(document) and document["openapi"] == "3.0.3"
    again = CliRunner().invoke(main, ["openapi", "--output", str(out)])
    assert again.exit_code == 0 and "up to date" in again.output
    printed = CliRunner().invoke(main, ["openapi"])
    assert printed.exit_code == 0 and printed.output == text


def test_a_stale_copy_is_named_with_the_command_that_regenerates_it(memory_stack):
    live = served(memory_stack)
    stale = json.loads(render(live))
    stale["components"]["schemas"]["TicketInput"]["properties"]["title"]["maxLength"] = 250
    message = stale_copy_message(render(stale), render(live))
    assert message is not None and "['TicketInput']" in message and REGENERATE in message
    unsorted = json.dumps(live, indent=2) + "\n"  # the same document, keys not sorted: written by hand
    assert stale_copy_message(unsorted, render(live)) is not None
