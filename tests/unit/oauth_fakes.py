"""A scripted auth server + homeserver behind the Transport seam, for the OAuth unit tests."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import parse_qsl, urlsplit

from pyapp.client.transport import HttpResponse

HS = "https://hs.example"
ISSUER = "https://auth.example/"
REDIRECT = "https://chat.example/oauth/callback.html"

METADATA = {
    "issuer": ISSUER,
    "authorization_endpoint": "https://auth.example/authorize",
    "token_endpoint": "https://auth.example/oauth2/token",
    "registration_endpoint": "https://auth.example/oauth2/registration",
    "revocation_endpoint": "https://auth.example/oauth2/revoke",
    "account_management_uri": "https://auth.example/account",
    "response_types_supported": ["code"],
    "response_modes_supported": ["query", "fragment"],
    "grant_types_supported": ["authorization_code", "refresh_token"],
    "code_challenge_methods_supported": ["S256"],
    "prompt_values_supported": ["create"],
}


def reply(status: int, body) -> HttpResponse:
    return HttpResponse(status, {"content-type": "application/json"}, json.dumps(body).encode())


class FakeServers:
    """Records every request; answers like Synapse + an OAuth server with rotating refresh
    tokens, where reusing a rotated refresh token is refused (invalid_grant)."""

    def __init__(self, metadata_paths=("/_matrix/client/v1/auth_metadata",)):
        self.metadata_paths = set(metadata_paths)
        self.requests: list[tuple[str, str, dict, str | None]] = []
        self.codes: dict[str, dict] = {}
        self.refresh_tokens: dict[str, str | None] = {}  # token -> its device, None once used
        self.registrations = 0
        self.refreshes = 0
        self.revoked: list[str] = []
        self.refresh_delay = 0.0
        self.counter = 0

    def issue_code(self, verifier_challenge: str, device: str, redirect_uri: str) -> str:
        self.counter += 1
        code = f"code{self.counter}"
        self.codes[code] = {"challenge": verifier_challenge, "device": device,
                            "redirect_uri": redirect_uri}
        return code

    def _tokens(self, device: str) -> dict:
        self.counter += 1
        rt = f"rt{self.counter}"
        self.refresh_tokens[rt] = device
        return {"access_token": f"at{self.counter}", "refresh_token": rt, "expires_in": 30,
                "token_type": "Bearer",
                "scope": f"urn:matrix:client:api:* urn:matrix:client:device:{device}"}

    async def request(self, method, url, headers, body=None, timeout=None) -> HttpResponse:
        self.requests.append((method, url, dict(headers), body))
        parts = urlsplit(url)
        form = dict(parse_qsl(body)) if isinstance(body, str) and "=" in body else {}
        if url.startswith(HS) and parts.path in self.metadata_paths:
            return reply(200, METADATA)
        if url.startswith(HS) and parts.path.endswith("auth_metadata"):
            return reply(404, {"errcode": "M_UNRECOGNIZED", "error": "Unrecognized request"})
        if url == METADATA["registration_endpoint"]:
            self.registrations += 1
            assert json.loads(body)["token_endpoint_auth_method"] == "none"
            return reply(201, {"client_id": f"client{self.registrations}"})
        if url == METADATA["token_endpoint"] and form.get("grant_type") == "authorization_code":
            entry = self.codes.pop(form["code"], None)
            from pyapp.auth.pkce import challenge_s256
            if entry is None or challenge_s256(form["code_verifier"]) != entry["challenge"] \
                    or form["redirect_uri"] != entry["redirect_uri"]:
                return reply(400, {"error": "invalid_grant"})
            self.last_device = entry["device"]
            return reply(200, self._tokens(entry["device"]))
        if url == METADATA["token_endpoint"] and form.get("grant_type") == "refresh_token":
            self.refreshes += 1
            if self.refresh_delay:
                await asyncio.sleep(self.refresh_delay)
            device = self.refresh_tokens.get(form["refresh_token"])
            if device is None:
                return reply(400, {"error": "invalid_grant"})
            self.refresh_tokens[form["refresh_token"]] = None
            return reply(200, self._tokens(device))
        if url == METADATA["revocation_endpoint"]:
            self.revoked.append(form["token"])
            return reply(200, {})
        if url == HS + "/_matrix/client/v3/account/whoami":
            return reply(200, {"user_id": "@alice_acme:hs.example",
                               "device_id": self.last_device})
        return reply(404, {"errcode": "M_UNRECOGNIZED"})

    last_device: str | None = None
