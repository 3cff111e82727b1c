"""The OIDC adapter's token checks, against a provider played by a local key set: signature, issuer, audience,
expiry, token type, algorithm; key rotation; users and groups from claims. The same adapter is tested against a
real Keycloak in tests/integration/test_keycloak.py."""

from __future__ import annotations

import time

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, OctKey, RSAKey

from pflow.adapters.oidc import OidcIdentityProvider
from pflow.config import ConfigError, OidcSettings, Settings
from pflow.ports.identity import IdentityError, IdentityProviderUnavailable

ISSUER = "https://sso.example.test/realms/pflow"


class FakeProvider:
    """The provider's discovery document and published keys; counts fetches."""

    def __init__(self):
        self.keys = [RSAKey.generate_key(2048, parameters={"kid": "k1", "alg": "RS256", "use": "sig"}, private=True)]
        self.fetches: list[str] = []
        self.issuer = ISSUER

    def fetch(self, url):
        self.fetches.append(url)
        if url.endswith("/.well-known/openid-configuration"):
            return {"issuer": self.issuer, "authorization_endpoint": f"{ISSUER}/auth",
                    "token_endpoint": f"{ISSUER}/token", "jwks_uri": f"{ISSUER}/certs",
                    "end_session_endpoint": f"{ISSUER}/logout"}
        if url.endswith("/certs"):
            return KeySet(self.keys).as_dict(private=False)
        raise AssertionError(url)

    def token(self, key=None, **claims):
        key = key or self.keys[0]
        now = int(time.time())
        body = {"iss": ISSUER, "aud": "pflow", "azp": "pflow", "exp": now + 300, "iat": now, "typ": "Bearer",
                "preferred_username": "noah", "name": "Noah Approver", "groups": ["approvers", "finance"]}
        body.update(claims)
        body = {k: v for k, v in body.items() if v is not None}
        return jwt.encode({"alg": "RS256", "kid": key.kid}, body, key)


@pytest.fixture
def idp():
    return FakeProvider()


def adapter(idp, monotonic=time.monotonic, **settings):
    values = dict(issuer=ISSUER, client_id="pflow", group_map=(("approvers", "managers"),))
    values.update(settings)
    return OidcIdentityProvider(OidcSettings(**values), fetch_json=idp.fetch, monotonic=monotonic)


def test_an_access_token_names_the_user_with_mapped_groups(idp):
    user = adapter(idp).user_from_access_token(idp.token())
    assert user.username == "noah" and user.display_name == "Noah Approver"
    assert user.groups == {"managers", "finance"}  # approvers -> managers (OIDC_GROUP_MAP)
    assert user.is_manager and not user.is_admin


def test_members_of_an_admin_group_are_admins_and_a_group_path_is_a_name(idp):
    user = adapter(idp).user_from_access_token(idp.token(groups=["/admins"]))
    assert user.is_admin and "admins" in user.groups


def test_a_configured_groups_claim_is_read(idp):
    user = adapter(idp, groups_claim="roles").user_from_access_token(idp.token(groups=None, roles=["finance"]))
    assert user.groups == {"finance"}


@pytest.mark.parametrize("claims, why", [
    ({"iss": "https://evil.example.test/realms/pflow"}, "another issuer"),
    ({"aud": "another-app"}, "another audience"),
    ({"exp": int(time.time()) - 120}, "expired"),
    ({"exp": None}, "no expiry"),
    ({"typ": "ID"}, "an ID token is not an access token"),
    ({"preferred_username": None, "sub": None}, "no username"),
])
def test_tokens_not_for_pflow_are_refused(idp, claims, why):
    with pytest.raises(IdentityError):
        adapter(idp).user_from_access_token(idp.token(**claims))


def test_an_expired_token_says_so(idp):
    with pytest.raises(IdentityError) as refused:
        adapter(idp).user_from_access_token(idp.token(exp=int(time.time()) - 120))
    assert refused.value.key == "sso.expired"


def test_a_token_signed_by_someone_else_is_refused(idp):
    foreign = RSAKey.generate_key(2048, parameters={"kid": "k1"}, private=True)  # same kid, other key
    with pytest.raises(IdentityError) as refused:
        adapter(idp).user_from_access_token(idp.token(key=foreign))
    assert refused.value.key == "sso.invalid_token"


def test_a_shared_secret_signature_is_refused(idp):
    secret = OctKey.generate_key(256, parameters={"kid": "k1"})
    forged = jwt.encode({"alg": "HS256", "kid": "k1"}, {"iss": ISSUER, "aud": "pflow", "exp": int(time.time()) + 60,
                                                          "preferred_username": "ada", "groups": ["admins"]}, secret)
    with pytest.raises(IdentityError):
        adapter(idp).user_from_access_token(forged)


def test_rotated_keys_are_fetched_again_once(idp):
    now = [1000.0]
    oidc = adapter(idp, monotonic=lambda: now[0])
    assert oidc.user_from_access_token(idp.token()).username == "noah"
    certs = [u for u in idp.fetches if u.endswith("/certs")]
    assert len(certs) == 1
    # the provider rotates: a new key signs, the old one is withdrawn
    new = RSAKey.generate_key(2048, parameters={"kid": "k2", "alg": "RS256", "use": "sig"}, private=True)
    idp.keys = [new]
    now[0] += 60
    assert oidc.user_from_access_token(idp.token(key=new)).username == "noah"
    assert len([u for u in idp.fetches if u.endswith("/certs")]) == 2
    # a token naming an unknown key does not make every request fetch the keys again
    stranger = RSAKey.generate_key(2048, parameters={"kid": "k3"}, private=True)
    for _ in range(5):
        with pytest.raises(IdentityError):
            oidc.user_from_access_token(idp.token(key=stranger))
    assert len([u for u in idp.fetches if u.endswith("/certs")]) == 2


def test_a_discovery_document_for_another_issuer_is_not_trusted(idp):
    idp.issuer = "https://evil.example.test/realms/pflow"
    with pytest.raises(IdentityProviderUnavailable):
        adapter(idp).user_from_access_token(idp.token())


def test_the_discovery_document_may_come_from_an_internal_address_but_must_name_the_issuer(idp):
    internal = "http://keycloak:8080/realms/pflow/.well-known/openid-configuration"
    asked = []

    def fetch(url):
        asked.append(url)
        return idp.fetch(f"{ISSUER}/.well-known/openid-configuration" if url == internal else url)

    oidc = OidcIdentityProvider(OidcSettings(issuer=ISSUER, client_id="pflow", discovery_url=internal), fetch_json=fetch)
    assert oidc.user_from_access_token(idp.token()).username == "noah"
    assert asked[0] == internal
    idp.issuer = "https://elsewhere.example.test"  # what the internal address serves must still be the issuer's
    with pytest.raises(IdentityProviderUnavailable):
        OidcIdentityProvider(OidcSettings(issuer=ISSUER, client_id="pflow", discovery_url=internal),
                             fetch_json=fetch).user_from_access_token(idp.token())


def test_the_authorization_url_uses_pkce_and_a_nonce(idp):
    url = adapter(idp).authorization_url("https://pflow.test/api/auth/oidc/callback", "st", "no", "v" * 48)
    assert url.startswith(f"{ISSUER}/auth?")
    for part in ("response_type=code", "client_id=pflow", "state=st", "nonce=no", "code_challenge_method=S256",
                 "code_challenge=", "scope=openid"):
        assert part in url
    assert "v" * 48 not in url  # the verifier itself never leaves PFlow


def test_logout_url_names_the_id_token_and_where_to_come_back(idp):
    url = adapter(idp).logout_url("the.id.token", "https://pflow.test/login")
    assert url.startswith(f"{ISSUER}/logout?")
    assert "id_token_hint=the.id.token" in url and "post_logout_redirect_uri=https%3A%2F%2Fpflow.test%2Flogin" in url


def test_settings_from_the_environment():
    settings = Settings.from_env({"OIDC_ISSUER": ISSUER + "/", "OIDC_CLIENT_ID": "pflow",
                                  "OIDC_GROUP_MAP": "approvers=managers, /fin=finance",
                                  "OIDC_ADMIN_GROUPS": "ops,admins"})
    assert settings.oidc.issuer == ISSUER
    assert settings.oidc.pflow_group("/fin") == "finance" and settings.oidc.pflow_group("legal") == "legal"
    assert settings.oidc.admin_groups == {"ops", "admins"}
    assert Settings.from_env({}).oidc is None


@pytest.mark.parametrize("env, names", [
    ({"OIDC_ISSUER": ISSUER}, "OIDC_CLIENT_ID"),
    ({"OIDC_CLIENT_ID": "pflow"}, "OIDC_ISSUER"),
    ({"OIDC_ISSUER": "sso.example.test", "OIDC_CLIENT_ID": "pflow"}, "OIDC_ISSUER"),
    ({"OIDC_ISSUER": ISSUER, "OIDC_CLIENT_ID": "pflow", "OIDC_GROUP_MAP": "approvers"}, "OIDC_GROUP_MAP"),
])
def test_incomplete_settings_say_what_to_set(env, names):
    with pytest.raises(ConfigError, match=names):
        Settings.from_env(env)


@pytest.mark.parametrize("target, expected", [
    ("/tasks", "/tasks"), ("/tickets/abc?x=1", "/tickets/abc?x=1"), (None, "/"), ("", "/"),
    ("https://evil.example.test/", "/"), ("//evil.example.test/", "/"), ("/\\evil.example.test", "/"),
    ("/\t/evil.example.test", "/"), ("/\n/evil.example.test", "/"), ("/ /evil", "/"), ("tasks", "/"),
])
def test_after_sign_in_the_browser_goes_only_to_a_path_of_pflow(target, expected):
    from pflow.entrypoints.http.sso import _local_path

    assert _local_path(target) == expected
