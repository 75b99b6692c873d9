"""Which identity a verified JWT's claims give (ZAVA_AUTH=oidc): one store, head office only from an explicit
value, and a reason for everything else."""

from __future__ import annotations

import pytest

from mcp_servers.auth.oidc import IdentityRefused, identity_from_claims
from mcp_servers.serving.http import unauthorized_reason
from zava_core.scope import Identity

STORE = Identity(head_office=False, store="seattle")
OFFICE = Identity(head_office=True)
MAP = (("zava-seattle", "seattle"), ("zava-hq", "head-office"), ("zava-sea-2", "seattle"))


@pytest.mark.parametrize(("claims", "expected"), [
    ({"zava_store": "seattle"}, STORE),
    ({"zava_store": " seattle "}, STORE),
    ({"zava_store": ["seattle"]}, STORE),
    ({"zava_store": "head-office"}, OFFICE),
])
def test_a_claim_names_one_store_or_head_office(claims, expected) -> None:
    assert identity_from_claims(claims, "zava_store") == expected


def test_head_office_only_from_the_configured_value() -> None:
    assert identity_from_claims({"zava_store": "hq"}, "zava_store", head_office_value="hq") == OFFICE
    # The default value is then an ordinary (unknown) store name, never head office.
    assert identity_from_claims({"zava_store": "head-office"}, "zava_store", head_office_value="hq") == \
        Identity(head_office=False, store="head-office")


@pytest.mark.parametrize(("claims", "reason"), [
    ({}, "no 'zava_store' claim"),
    ({"zava_store": 7}, "string or a list"),
    ({"zava_store": ["seattle", 7]}, "string or a list"),
    ({"zava_store": ["seattle", "tacoma"]}, "2 values"),
    ({"zava_store": []}, "0 values"),
    ({"zava_store": ""}, "1 values"),
])
def test_claims_without_one_identity_are_refused(claims, reason) -> None:
    with pytest.raises(IdentityRefused, match=reason):
        identity_from_claims(claims, "zava_store")


def test_role_map_translates_lists_and_ignores_other_values() -> None:
    assert identity_from_claims({"groups": ["staff", "zava-seattle"]}, "groups", role_map=MAP) == STORE
    assert identity_from_claims({"groups": ["zava-seattle", "zava-sea-2"]}, "groups", role_map=MAP) == STORE
    assert identity_from_claims({"groups": "zava-hq"}, "groups", role_map=MAP) == OFFICE
    with pytest.raises(IdentityRefused, match="2 identities"):
        identity_from_claims({"groups": ["zava-seattle", "zava-hq"]}, "groups", role_map=MAP)
    with pytest.raises(IdentityRefused, match="mapped"):
        identity_from_claims({"groups": ["staff", "seattle"]}, "groups", role_map=MAP)
    # With a map, the head-office value itself is just an unmapped group.
    with pytest.raises(IdentityRefused, match="mapped"):
        identity_from_claims({"groups": ["head-office"]}, "groups", role_map=MAP)


def test_a_refused_bearer_token_is_explained_in_the_terms_of_where_tokens_come_from() -> None:
    sent = [(b"authorization", b"Bearer eyJhbGciOi.x.y")]
    oidc_reason = unauthorized_reason(sent, issuer="https://login.example.com/tenant")
    assert "identity provider (https://login.example.com/tenant)" in oidc_reason
    assert "mcp_servers.tokens" not in oidc_reason
    assert "python -m mcp_servers.tokens issue" in unauthorized_reason(sent)
