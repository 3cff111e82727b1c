"""PFLOW_SECRET_KEY: the key tokens, session cookies and e-mail links are signed with, the same in every
process (API, consumer); the embedded default makes one and keeps it under the data dir."""

from __future__ import annotations

import os
import secrets

from pflow.adapters.database.engine import create_private_dir
from pflow.config import ConfigError, Settings

MIN_SECRET_KEY_BYTES = 32
#: keys shown as examples in the docs (README, docs/, .env.example): anyone could sign tokens with them
EXAMPLE_SECRET_KEYS = frozenset({"dev-secret", "local-debug-secret", "change-me", "changeme", "secret"})
MAKE_KEY_HINT = 'make one with `python -c "import secrets; print(secrets.token_urlsafe(48))"`'


def check_secret_key(key: str) -> None:
    """Refuse a signing key that is short or documented as an example (whoever knows it can forge any token)."""
    if key.strip() in EXAMPLE_SECRET_KEYS:
        raise ConfigError("PFLOW_SECRET_KEY is an example from the documentation; anyone who read it can forge "
                          f"tokens. Set a random key of at least {MIN_SECRET_KEY_BYTES} bytes: {MAKE_KEY_HINT}.")
    if len(key.encode()) < MIN_SECRET_KEY_BYTES:
        raise ConfigError(f"PFLOW_SECRET_KEY is {len(key.encode())} bytes long; it must be at least "
                          f"{MIN_SECRET_KEY_BYTES} random bytes: {MAKE_KEY_HINT}.")


def resolve_secret_key(settings: Settings) -> str:
    """PFLOW_SECRET_KEY (long and not a documented example outside the embedded default); the embedded default
    generates one if none is given and keeps it under the data dir."""
    if settings.secret_key:
        if not settings.is_embedded_default:
            check_secret_key(settings.secret_key)
        return settings.secret_key
    if not settings.is_embedded_default:
        raise ConfigError("PFLOW_SECRET_KEY is not set. Every API process must sign tokens with the same secret: "
                          f"set it to a random key of at least {MIN_SECRET_KEY_BYTES} bytes: {MAKE_KEY_HINT}.")
    path = settings.data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    create_private_dir(path.parent)
    key = secrets.token_hex(32)
    # Written to a private temporary file, then linked into place: several processes starting at once (gunicorn's
    # workers) agree on the one key that was linked first, and none ever reads a half-written file.
    draft = path.with_name(f".secret_key.{os.getpid()}.{secrets.token_hex(4)}")
    try:
        with os.fdopen(os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
            out.write(key)
        os.chmod(draft, 0o600)
        try:
            os.link(draft, path)
        except FileExistsError:
            return path.read_text().strip()
    finally:
        draft.unlink(missing_ok=True)
    return key
