"""The signing key: a short key or one the docs show as an example is refused outside the embedded default
(whoever knows it can forge an admin token); the embedded default generates one and keeps it."""

import re
from pathlib import Path

import pytest

from pflow.config import ConfigError, Settings
from pflow.entrypoints.http.app import EXAMPLE_SECRET_KEYS, resolve_secret_key

ROOT = Path(__file__).resolve().parents[2]
GOOD = "k" * 8 + "0123456789abcdefghijklmnopqrstuvwxyz"


def camunda(tmp_path, key):
    return Settings(workflow_engine="camunda", secret_key=key, data_dir=tmp_path)


@pytest.mark.parametrize("key", ["a", "x" * 31])
def test_a_short_key_is_refused_with_how_to_make_one(tmp_path, key):
    with pytest.raises(ConfigError, match=r"at least 32 .*secrets\.token_urlsafe\(48\)"):
        resolve_secret_key(camunda(tmp_path, key))


def documented_example_keys() -> set[str]:
    found = set()
    for path in [ROOT / "README.md", ROOT / "README.zh-CN.md", ROOT / ".env.example", *sorted((ROOT / "docs").glob("*.md"))]:
        for value in re.findall(r"PFLOW_SECRET_KEY[=:]\s*([^\s`$|]+)", path.read_text(encoding="utf-8")):
            value = value.strip("'\"")
            if value and not value.startswith(("${", "$(", "(", "#")):
                found.add(value)
    return found


def test_every_example_key_in_the_docs_is_refused(tmp_path):
    assert documented_example_keys() <= EXAMPLE_SECRET_KEYS
    for key in EXAMPLE_SECRET_KEYS:
        with pytest.raises(ConfigError, match="example"):
            resolve_secret_key(camunda(tmp_path, key))


def test_a_long_random_key_is_used(tmp_path):
    assert resolve_secret_key(camunda(tmp_path, GOOD)) == GOOD


def test_no_key_outside_the_embedded_default_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="not set"):
        resolve_secret_key(camunda(tmp_path, None))


def test_the_embedded_default_generates_a_key_and_keeps_it(tmp_path):
    settings = Settings(workflow_engine="embedded", secret_key=None, data_dir=tmp_path)
    key = resolve_secret_key(settings)
    assert len(key.encode()) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
    assert resolve_secret_key(settings) == key


def test_a_token_ttl_above_a_day_is_refused_at_start():
    with pytest.raises(ConfigError, match="PFLOW_TOKEN_TTL='86401' must be at most 86400"):
        Settings.from_env({"PFLOW_TOKEN_TTL": "86401"})
    assert Settings.from_env({"PFLOW_TOKEN_TTL": "86400"}).token_ttl_s == 86400


def test_processes_starting_together_agree_on_one_generated_key(tmp_path):
    # gunicorn starts its workers at once on a fresh data dir: each must sign with the same key, or a token
    # issued by one worker is refused by the next.
    import threading

    settings = Settings(data_dir=tmp_path / "var")
    assert settings.is_embedded_default
    start, keys = threading.Barrier(8), []

    def resolve():
        start.wait()
        keys.append(resolve_secret_key(settings))

    threads = [threading.Thread(target=resolve) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(keys) == 8 and len(set(keys)) == 1
    assert (tmp_path / "var" / "secret_key").read_text().strip() == keys[0]
    assert sorted(p.name for p in (tmp_path / "var").iterdir()) == ["secret_key"]  # no draft left behind
