"""OpenID Connect single sign-on with Authlib: the authorization code flow with PKCE (Authlib's OAuth2 client),
and token validation with joserfc (Authlib's JOSE library): signature against the provider's published keys
(fetched again when a token names a key not seen yet: key rotation), issuer, audience, expiry, nonce.

The provider is found by discovery (``<issuer>/.well-known/openid-configuration``); its document and keys are
cached per process. Users and their groups come from the token's claims (``OIDC_GROUPS_CLAIM``), mapped to the
groups the processes name (``OIDC_GROUP_MAP``); members of ``OIDC_ADMIN_GROUPS`` are PFlow admins.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable
from urllib.parse import urlencode

import requests
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.errors import ExpiredTokenError, InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from pflow.config import OidcSettings
from pflow.domain.users import ADMIN, User
from pflow.ports.identity import IdentityError, IdentityProvider, IdentityProviderUnavailable, SignIn

#: the signature algorithms accepted (asymmetric only: a provider's shared secret must never sign users in)
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]
LEEWAY_S = 30  # clock difference tolerated between PFlow and the provider
DISCOVERY_TTL_S = 3600
MIN_KEY_REFRESH_S = 10  # a token naming an unknown key fetches the keys again, at most this often
MAX_NAME = 200


def _fetch_json(url: str, timeout: float = 5.0) -> dict[str, Any]:
    try:
        response = requests.get(url, timeout=timeout, headers={"Accept": "application/json"})
    except requests.RequestException as exc:
        raise IdentityProviderUnavailable(f"the identity provider is unreachable at {url}: {exc}") from None
    if response.status_code != 200:
        raise IdentityProviderUnavailable(f"the identity provider answered {response.status_code} for {url}")
    try:
        data = response.json()
    except ValueError:
        raise IdentityProviderUnavailable(f"the identity provider's answer at {url} is not JSON") from None
    if not isinstance(data, dict):
        raise IdentityProviderUnavailable(f"the identity provider's answer at {url} is not an object")
    return data


class OidcIdentityProvider(IdentityProvider):
    def __init__(self, settings: OidcSettings, fetch_json: Callable[[str], dict[str, Any]] = _fetch_json,
                 clock: Callable[[], float] = time.time, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self._fetch = fetch_json
        self._clock = clock  # wall time, for expiry
        self._monotonic = monotonic  # for caching
        self._lock = threading.Lock()
        self._discovery: tuple[float, dict[str, Any]] | None = None
        self._keys: KeySet | None = None
        self._keys_at = 0.0

    # ------------------------------------------------------------------ provider metadata and keys

    def metadata(self) -> dict[str, Any]:
        with self._lock:
            if self._discovery and self._monotonic() - self._discovery[0] < DISCOVERY_TTL_S:
                return self._discovery[1]
        data = self._fetch(self.settings.discovery_url or f"{self.settings.issuer}/.well-known/openid-configuration")
        if data.get("issuer", "").rstrip("/") != self.settings.issuer:
            raise IdentityProviderUnavailable(
                f"the provider's discovery document names issuer {data.get('issuer')!r}, not OIDC_ISSUER "
                f"{self.settings.issuer!r}")
        for required in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(data.get(required), str):
                raise IdentityProviderUnavailable(f"the provider's discovery document has no {required}")
        with self._lock:
            self._discovery = (self._monotonic(), data)
        return data

    def _key_set(self, refresh: bool = False) -> KeySet:
        with self._lock:
            if self._keys is not None and not refresh:
                return self._keys
            if self._keys is not None and self._monotonic() - self._keys_at < MIN_KEY_REFRESH_S:
                return self._keys  # fetched a moment ago: an unknown key is not worth another fetch
        try:
            keys = KeySet.import_key_set(self._fetch(self.metadata()["jwks_uri"]))
        except (ValueError, KeyError, TypeError, JoseError) as exc:
            raise IdentityProviderUnavailable(f"the provider's signing keys cannot be read: {exc}") from None
        with self._lock:
            self._keys, self._keys_at = keys, self._monotonic()
        return keys

    def _decode(self, token: str) -> dict[str, Any]:
        """The token's claims once its signature checks out against the provider's keys."""
        try:
            try:
                decoded = jwt.decode(token, self._key_set(), algorithms=ALGORITHMS)
            except InvalidKeyIdError:
                decoded = jwt.decode(token, self._key_set(refresh=True), algorithms=ALGORITHMS)  # keys rotated
        except InvalidKeyIdError:
            raise IdentityError("the token is signed with a key the provider does not publish",
                                "sso.invalid_token") from None
        except (JoseError, ValueError) as exc:
            raise IdentityError(f"the token is not valid: {exc}", "sso.invalid_token") from None
        return dict(decoded.claims)

    def _check(self, claims: dict[str, Any], audience: str, **more: dict[str, Any]) -> None:
        registry = jwt.JWTClaimsRegistry(
            leeway=LEEWAY_S, now=lambda: int(self._clock()),
            iss={"essential": True, "value": self.settings.issuer},
            aud={"essential": True, "value": audience},
            exp={"essential": True}, **more)
        try:
            registry.validate(claims)
        except ExpiredTokenError:
            raise IdentityError("the token has expired", "sso.expired") from None
        except JoseError as exc:
            raise IdentityError(f"the token is not for PFlow: {exc}", "sso.invalid_token") from None

    # ------------------------------------------------------------------ users from claims

    def user_from_claims(self, claims: dict[str, Any]) -> User:
        s = self.settings
        username = claims.get(s.username_claim) or claims.get("sub")
        if not isinstance(username, str) or not username.strip() or len(username) > MAX_NAME:
            raise IdentityError(f"the token has no usable {s.username_claim!r} claim", "sso.no_username")
        raw_groups = claims.get(s.groups_claim, [])
        if isinstance(raw_groups, str):
            raw_groups = [raw_groups]
        if not isinstance(raw_groups, list):
            raw_groups = []
        groups = frozenset(s.pflow_group(g) for g in raw_groups
                           if isinstance(g, str) and g.strip("/").strip() and len(g) <= MAX_NAME)
        roles = frozenset({ADMIN}) if groups & s.admin_groups else frozenset()
        name = claims.get("name") if isinstance(claims.get("name"), str) else None
        return User(username.strip(), (name or username).strip()[:MAX_NAME], roles, groups)

    # ------------------------------------------------------------------ the port

    def _client(self, redirect_uri: str) -> OAuth2Session:
        s = self.settings
        return OAuth2Session(
            s.client_id, s.client_secret, scope=s.scopes, redirect_uri=redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_basic" if s.client_secret else "none")

    def authorization_url(self, redirect_uri: str, state: str, nonce: str, code_verifier: str) -> str:
        url, _ = self._client(redirect_uri).create_authorization_url(
            self.metadata()["authorization_endpoint"], state=state, nonce=nonce, code_verifier=code_verifier)
        return url

    def complete(self, code: str, redirect_uri: str, code_verifier: str, nonce: str) -> SignIn:
        client = self._client(redirect_uri)
        try:
            token = client.fetch_token(self.metadata()["token_endpoint"], grant_type="authorization_code",
                                       code=code, code_verifier=code_verifier, timeout=10)
        except requests.RequestException as exc:
            raise IdentityProviderUnavailable(f"the provider's token endpoint is unreachable: {exc}") from None
        except Exception as exc:  # Authlib's OAuthError: the provider refused the code
            raise IdentityError(f"the provider refused the sign-in: {exc}", "sso.refused") from None
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise IdentityError("the provider sent no ID token (is 'openid' in OIDC_SCOPES?)", "sso.refused")
        claims = self._decode(id_token)
        self._check(claims, self.settings.client_id, nonce={"essential": True, "value": nonce})
        azp = claims.get("azp")
        if azp is not None and azp != self.settings.client_id:
            raise IdentityError(f"the ID token was issued to {azp!r}", "sso.invalid_token")
        return SignIn(self.user_from_claims(claims), id_token)

    def user_from_access_token(self, token: str) -> User:
        claims = self._decode(token)
        audience = self.settings.audience or self.settings.client_id
        self._check(claims, audience)
        if str(claims.get("typ", "Bearer")).lower() not in ("bearer", "at+jwt", "jwt"):
            raise IdentityError(f"a {claims.get('typ')} token is not an access token", "sso.invalid_token")
        return self.user_from_claims(claims)

    def logout_url(self, id_token_hint: str | None, post_logout_redirect_uri: str) -> str | None:
        try:
            endpoint = self.metadata().get("end_session_endpoint")
        except IdentityProviderUnavailable:
            return None
        if not isinstance(endpoint, str):
            return None
        params = {"post_logout_redirect_uri": post_logout_redirect_uri, "client_id": self.settings.client_id}
        if id_token_hint:
            params["id_token_hint"] = id_token_hint
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(params)}"
