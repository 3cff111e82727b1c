"""Serve the built single-page UI at / (client-side routes fall back to index.html)."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, send_from_directory


def ui_blueprint(ui_dir: Path) -> Blueprint:
    blp = Blueprint("ui", __name__)
    root = ui_dir.resolve()

    @blp.get("/", defaults={"path": ""})
    @blp.get("/<path:path>")
    def index(path: str):
        if path.startswith("api/") or path == "api":
            abort(404)
        candidate = (root / path).resolve()
        if path and candidate.is_file() and root in candidate.parents:
            max_age = 31536000 if path.startswith("assets/") else 0  # hashed file names under assets/
            return send_from_directory(root, path, max_age=max_age)
        if path and "." in Path(path).name:
            abort(404)  # a missing file, not a client-side route
        response = send_from_directory(root, "index.html", max_age=0)
        response.headers["Cache-Control"] = "no-cache"
        return response

    return blp
