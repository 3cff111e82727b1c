"""Access to the container and the current user from inside a request."""

from __future__ import annotations

from flask import current_app, g

from pflow.domain.users import User


def container():
    return current_app.extensions["pflow.container"]


def current_user() -> User:
    return g.user
