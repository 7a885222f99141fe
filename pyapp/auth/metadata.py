"""Authorization server metadata as the homeserver advertises it (Matrix spec v1.15,
GET /_matrix/client/v1/auth_metadata; MSC2965's unstable path before that)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

AUTH_METADATA_PATHS = (
    "/_matrix/client/v1/auth_metadata",
    "/_matrix/client/unstable/org.matrix.msc2965/auth_metadata",
)


class MetadataError(ValueError):
    """The homeserver advertises an auth server this client cannot use."""


@dataclass
class AuthMetadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    registration_endpoint: str
    revocation_endpoint: str | None = None
    account_management_uri: str | None = None
    prompt_values_supported: list[str] = field(default_factory=list)
    response_modes_supported: list[str] = field(default_factory=list)
    # RFC 9207: the server puts `iss` in every authorization response, so one without it (or
    # with another) did not come from this server.
    iss_parameter_supported: bool = False
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def supports_create(self) -> bool:
        return "create" in self.prompt_values_supported

    @property
    def response_mode(self) -> str:
        # fragment keeps the code out of every server's request log (it never leaves the browser);
        # query when the server does not list fragment.
        modes = self.response_modes_supported
        return "fragment" if not modes or "fragment" in modes else "query"


def _is_local(host: str | None) -> bool:
    return host in ("localhost", "127.0.0.1", "::1") or bool(host and host.endswith(".localhost"))


def _url(body: dict, name: str, required: bool = True) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise MetadataError(f"auth server metadata lacks {name}")
    parts = urlsplit(value)
    # Plain http is only acceptable on this machine (the demo and tests).
    if parts.scheme != "https" and not (parts.scheme == "http" and _is_local(parts.hostname)):
        raise MetadataError(f"auth server {name} must use https: {value}")
    if parts.fragment:
        raise MetadataError(f"auth server {name} must not have a fragment")
    return value


def _list(body: dict, name: str) -> list[str]:
    value = body.get(name)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise MetadataError(f"auth server metadata has an invalid {name}")
    return value


def parse_auth_metadata(body: Any) -> AuthMetadata:
    if not isinstance(body, dict):
        raise MetadataError("auth server metadata is not a JSON object")
    issuer = _url(body, "issuer")
    if urlsplit(issuer).query:
        raise MetadataError("auth server issuer must not have a query")
    response_types = _list(body, "response_types_supported")
    if "code" not in response_types:
        raise MetadataError("auth server does not offer the authorization code flow")
    # RFC 8414: a missing grant_types_supported means authorization_code and implicit only.
    grants = _list(body, "grant_types_supported") or ["authorization_code", "implicit"]
    if "authorization_code" not in grants or "refresh_token" not in grants:
        raise MetadataError("auth server does not offer authorization code and refresh tokens")
    if "S256" not in _list(body, "code_challenge_methods_supported"):
        raise MetadataError("auth server does not support PKCE with S256")
    modes = _list(body, "response_modes_supported")
    if modes and not {"fragment", "query"} & set(modes):
        raise MetadataError("auth server supports neither query nor fragment responses")
    if body.get("registration_endpoint") is None:
        raise MetadataError("auth server does not allow dynamic client registration")
    return AuthMetadata(
        issuer=issuer,
        authorization_endpoint=_url(body, "authorization_endpoint"),
        token_endpoint=_url(body, "token_endpoint"),
        registration_endpoint=_url(body, "registration_endpoint"),
        revocation_endpoint=_url(body, "revocation_endpoint", required=False),
        account_management_uri=_url(body, "account_management_uri", required=False),
        prompt_values_supported=_list(body, "prompt_values_supported"),
        response_modes_supported=modes,
        iss_parameter_supported=body.get("authorization_response_iss_parameter_supported") is True,
        raw=body,
    )


def unsupported(status: int, body: Any) -> bool:
    """Whether a metadata answer means "no OAuth here" (as opposed to a broken server)."""
    errcode = body.get("errcode") if isinstance(body, dict) else None
    return status in (404, 405) or errcode in ("M_UNRECOGNIZED", "M_NOT_FOUND")
