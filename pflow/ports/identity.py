"""Single sign-on: an OpenID Connect provider that signs users in and vouches for their groups."""

from __future__ import annotations

import abc
from dataclasses import dataclass

from pflow.domain.users import User


class IdentityError(Exception):
    """The provider's answer cannot be trusted (bad signature, wrong issuer or audience, expired, replayed), or
    the provider said no. ``key`` names the reason for the UI (``sso.*``); the message is for logs."""

    def __init__(self, message: str, key: str = "sso.failed") -> None:
        super().__init__(message)
        self.key = key


class IdentityProviderUnavailable(IdentityError):
    """The provider cannot be reached (its discovery document, keys or token endpoint)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "sso.unavailable")


@dataclass(frozen=True)
class SignIn:
    """What a completed authorization-code flow yields: the user and the ID token (kept for logout)."""

    user: User
    id_token: str


class IdentityProvider(abc.ABC):
    @abc.abstractmethod
    def authorization_url(self, redirect_uri: str, state: str, nonce: str, code_verifier: str) -> str:
        """Where to send the browser to sign in (authorization code flow with PKCE, S256)."""

    @abc.abstractmethod
    def complete(self, code: str, redirect_uri: str, code_verifier: str, nonce: str) -> SignIn:
        """Exchange the code for tokens and validate the ID token (signature, issuer, audience, expiry,
        nonce); the user with the groups the provider lists."""

    @abc.abstractmethod
    def user_from_access_token(self, token: str) -> User:
        """The user an access token the provider issued names (signature, issuer, audience, expiry checked);
        IdentityError when it is not one to accept."""

    @abc.abstractmethod
    def logout_url(self, id_token_hint: str | None, post_logout_redirect_uri: str) -> str | None:
        """Where to send the browser to end the provider's session too (RP-initiated logout), if it offers it."""
