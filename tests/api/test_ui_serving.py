"""The built UI as `pflow serve` sends it: precompressed copies by Accept-Encoding, hashed bundles cached
for good, index.html and client-side routes revalidated, nothing outside the build."""

from __future__ import annotations

import gzip
import mimetypes
import os

import pytest

from pflow.entrypoints.http import create_app
from tests.support import build_stack

JS = b"export const answer = 42;\n" * 100
CSS = b"body { color: #123456; }\n" * 100
HTML = b"<!doctype html><title>PFlow</title><div id=root></div>" + b"<!-- padding -->" * 100
IMMUTABLE = "public, max-age=31536000, immutable"


@pytest.fixture
def ui(tmp_path):
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    files = {"index.html": HTML, "assets/index-3f2a9c.js": JS, "assets/index-77aa01.css": CSS,
             "assets/tiny-0b1c2d.js": b"1", "favicon.svg": b"<svg xmlns='http://www.w3.org/2000/svg'/>"}
    for name, body in files.items():
        (dist / name).write_bytes(body)
    # brotli copies stand in as marked bytes: the server sends them as they are, it never decodes them
    for name in ("index.html", "assets/index-3f2a9c.js"):
        (dist / f"{name}.br").write_bytes(b"BR:" + files[name][:20])
        (dist / f"{name}.gz").write_bytes(gzip.compress(files[name]))
    (dist / "assets/index-77aa01.css.gz").write_bytes(gzip.compress(CSS))  # below brotli's gain: gzip only
    (tmp_path / "secret.txt").write_text("outside the build")
    os.symlink(tmp_path / "secret.txt", dist / "assets" / "link-000000.js")
    stack = build_stack("memory", tmp_path, ui_dir=dist)
    yield create_app(stack.container).test_client(use_cookies=False)
    stack.close()


def get(client, path, encoding=None, **headers):
    if encoding is not None:
        headers["Accept-Encoding"] = encoding
    return client.get(path, headers=headers)


def test_brotli_is_preferred_when_the_client_takes_it(ui):
    r = get(ui, "/assets/index-3f2a9c.js", "gzip, deflate, br")
    assert r.status_code == 200
    assert r.headers["Content-Encoding"] == "br" and r.data == b"BR:" + JS[:20]
    assert r.headers["Content-Type"].startswith(mimetypes.guess_type("x.js")[0])
    assert "Accept-Encoding" in r.headers["Vary"]
    assert r.headers["Cache-Control"] == IMMUTABLE
    assert get(ui, "/assets/index-3f2a9c.js", "*").headers["Content-Encoding"] == "br"


def test_gzip_when_brotli_is_not_taken_or_weighed_lower(ui):
    for accept in ("gzip", "gzip, deflate", "br;q=0, gzip", "br;q=0.4, gzip;q=0.9"):
        r = get(ui, "/assets/index-3f2a9c.js", accept)
        assert r.headers.get("Content-Encoding") == "gzip", accept
        assert gzip.decompress(r.data) == JS, accept
        assert "Accept-Encoding" in r.headers["Vary"] and r.headers["Cache-Control"] == IMMUTABLE
    css = get(ui, "/assets/index-77aa01.css", "br, gzip")  # no brotli copy: the gzip one
    assert css.headers["Content-Encoding"] == "gzip" and gzip.decompress(css.data) == CSS
    assert css.headers["Content-Type"].startswith("text/css")


def test_the_file_itself_without_an_accepted_encoding(ui):
    for accept in (None, "", "identity", "deflate", "br;q=0, gzip;q=0"):
        r = get(ui, "/assets/index-3f2a9c.js", accept)
        assert r.status_code == 200 and "Content-Encoding" not in r.headers, accept
        assert r.data == JS and "Accept-Encoding" in r.headers["Vary"], accept
    css = get(ui, "/assets/index-77aa01.css", "br")
    assert "Content-Encoding" not in css.headers and css.data == CSS
    tiny = get(ui, "/assets/tiny-0b1c2d.js", "br, gzip")  # too small to compress: no copies, no Vary
    assert tiny.data == b"1" and "Content-Encoding" not in tiny.headers and "Vary" not in tiny.headers
    assert tiny.headers["Cache-Control"] == IMMUTABLE


def test_a_compressed_copy_revalidates_under_its_own_etag(ui):
    first = get(ui, "/assets/index-3f2a9c.js", "br")
    plain = get(ui, "/assets/index-3f2a9c.js")
    assert first.headers["ETag"] != plain.headers["ETag"]
    again = get(ui, "/assets/index-3f2a9c.js", "br", **{"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304


def test_index_html_and_client_side_routes_are_never_cached(ui):
    for path in ("/", "/tickets/42", "/admin/incidents", "/index.html"):
        r = get(ui, path, "br, gzip")
        assert r.status_code == 200, path
        assert r.headers["Cache-Control"] == "no-cache", path
        assert r.headers["Content-Type"].startswith("text/html"), path
        assert r.headers["Content-Encoding"] == "br" and r.data == b"BR:" + HTML[:20], path
        assert "Accept-Encoding" in r.headers["Vary"], path
    r = get(ui, "/tickets/42", "gzip")
    assert gzip.decompress(r.data) == HTML and r.headers["Cache-Control"] == "no-cache"
    assert get(ui, "/tickets/42").data == HTML
    icon = get(ui, "/favicon.svg", "br, gzip")  # beside index.html, not hashed: revalidated
    assert icon.status_code == 200 and icon.headers["Cache-Control"] == "no-cache"


def test_missing_files_are_404_not_the_app(ui):
    for path in ("/assets/index-000000.js", "/assets/index-000000", "/favicon.ico", "/assets/"):
        r = get(ui, path, "br, gzip")
        assert r.status_code == 404, path
        assert b"<title>PFlow</title>" not in r.data, path
    api = get(ui, "/api/nothing-here")  # the API's own answer (401 without a token), never the app
    assert api.status_code == 401 and api.is_json and "error" in api.json


def test_compressed_copies_are_not_files_of_their_own(ui):
    for path in ("/assets/index-3f2a9c.js.br", "/assets/index-3f2a9c.js.gz", "/index.html.gz"):
        assert get(ui, path, "br, gzip").status_code == 404, path


def test_nothing_outside_the_build_is_sent(ui):
    for path in ("/../secret.txt", "/assets/../../secret.txt", "/%2e%2e/secret.txt", "/assets/%2e%2e/%2e%2e/secret.txt",
                 "/..%2fsecret.txt", "/assets/link-000000.js"):
        r = get(ui, path, "br, gzip")
        assert b"outside the build" not in r.data, path
        assert r.status_code == 404, (path, r.status_code)
