"""Serve the built single-page UI at / (client-side routes fall back to index.html).

The build writes brotli (``.br``) and gzip (``.gz``) copies of its larger files next to them
(vite-plugin-compression2); a request whose Accept-Encoding allows one gets it, with the original's
Content-Type, ``Content-Encoding`` and ``Vary: Accept-Encoding``. Bundles under ``assets/`` have content
hashes in their names and are cached for good; everything else (index.html, which names the current
bundles, and what sits beside it) is revalidated on every use.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from flask import Blueprint, Response, abort, request, send_file

#: hashed file names (Vite's assets/): a new build gets new names, so an old one never changes
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
#: precompressed copies, in the order preferred when the client accepts several equally
ENCODINGS = (("br", ".br"), ("gzip", ".gz"))


def _encoding(available: list[tuple[str, Path]]) -> tuple[str, Path] | None:
    """The copy the request's Accept-Encoding prefers (highest q; br before gzip on a tie), if any."""
    accept = request.accept_encodings
    best, best_q = None, 0.0
    for name, path in available:
        q = accept.quality(name)
        if q > best_q:
            best, best_q = (name, path), q
    return best


def send_built_file(root: Path, relative: str, cache_control: str) -> Response:
    """``root/relative`` (a file inside root), or the compressed copy of it the client accepts."""
    original = root / relative
    mimetype = mimetypes.guess_type(original.name)[0] or "application/octet-stream"
    variants = [(name, original.with_name(original.name + suffix)) for name, suffix in ENCODINGS]
    available = [(name, path) for name, path in variants if path.is_file()]
    chosen = _encoding(available)
    response = send_file(chosen[1] if chosen else original, mimetype=mimetype, conditional=True, etag=True,
                         max_age=None)
    if chosen:
        response.headers["Content-Encoding"] = chosen[0]
    if available:
        response.vary.add("Accept-Encoding")
    response.headers["Cache-Control"] = cache_control
    return response


def ui_blueprint(ui_dir: Path) -> Blueprint:
    blp = Blueprint("ui", __name__)
    root = ui_dir.resolve()

    @blp.get("/", defaults={"path": ""})
    @blp.get("/<path:path>")
    def index(path: str):
        if path.startswith("api/") or path == "api":
            abort(404)
        candidate = (root / path).resolve()
        if path and root not in candidate.parents:
            abort(404)  # outside the build (../, an absolute path, a link pointing out)
        if path and candidate.is_file():
            if any(candidate.name.endswith(suffix) and candidate.with_suffix("").is_file() for _, suffix in ENCODINGS):
                abort(404)  # a compressed copy is sent under its original's name, with Content-Encoding
            relative = candidate.relative_to(root).as_posix()
            cache = IMMUTABLE if relative.startswith("assets/") else REVALIDATE
            return send_built_file(root, relative, cache)
        if path and (path.startswith("assets/") or "." in Path(path).name):
            abort(404)  # a missing file, not a client-side route
        return send_built_file(root, "index.html", REVALIDATE)

    return blp
