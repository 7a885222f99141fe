"""The authorization code flow without I/O: what to send, how to read the answers, and the
state one flow keeps between leaving for the auth server and coming back.

The pending flow (PKCE verifier, state, where to return) is stored in sessionStorage under a key
named after its state: it lives in this tab only, only until the callback (taken out before the
code is even exchanged, so a replayed callback finds nothing), and at most FLOW_TTL seconds.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit

from pyapp.client.session import SESSION_ENDED, LoginError, Session
from pyapp.client.storage import Storage, load_json, save_json
from pyapp.client.tokens import SessionExpired, Tokens

from .metadata import AuthMetadata
from .pkce import challenge_s256

SCOPE_API = "urn:matrix:client:api:*"
SCOPE_DEVICE_PREFIX = "urn:matrix:client:device:"
_UNSTABLE_API = "urn:matrix:org.matrix.msc2967.client:api:*"
_UNSTABLE_DEVICE_PREFIX = "urn:matrix:org.matrix.msc2967.client:device:"

FLOW_PREFIX = "om-chat.oauth.flow."
FLOW_TTL = 600.0
CLIENT_PREFIX = "om-chat.oauth.client."
DEVICE_KEY = "om-chat.oauth.device"
FORM = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}


class OAuthError(LoginError):
    """A sign-in that failed or was refused; the message is fit to show."""


# Messages shown to the user for each refusal; tests match on them.
MSG_STATE = ("This sign-in response does not match a sign-in started in this tab "
             "(unknown or reused state). Please sign in again.")
MSG_EXPIRED = "This sign-in took too long and has expired. Please sign in again."
MSG_ISSUER = ("The sign-in response came from an unexpected server (issuer mismatch), so it "
              "was refused. Please sign in again.")
MSG_CODE = ("The sign-in could not be completed: the authorization code was refused "
            "(already used or expired). Please sign in again.")
MSG_CANCELLED = "Sign-in was cancelled."


@dataclass
class PendingFlow:
    state: str
    verifier: str
    issuer: str
    client_id: str
    redirect_uri: str
    device_id: str
    homeserver: str
    token_endpoint: str
    revocation_endpoint: str | None
    account_management_uri: str | None
    return_to: str
    created_at: float
    # The server advertises authorization_response_iss_parameter_supported (RFC 9207).
    require_iss: bool = False

    @classmethod
    def from_json(cls, data: Any) -> "PendingFlow | None":
        if not isinstance(data, dict):
            return None
        try:
            return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})
        except TypeError:  # a required field missing or of the wrong kind
            return None


def save_flow(storage: Storage, flow: PendingFlow) -> None:
    save_json(storage, FLOW_PREFIX + flow.state, asdict(flow))


def take_flow(storage: Storage, state: str | None) -> PendingFlow | None:
    """Remove and return the flow for `state`: each flow can be completed once at most."""
    if not state or not isinstance(state, str):
        return None
    key = FLOW_PREFIX + state
    flow = PendingFlow.from_json(load_json(storage, key))
    storage.remove(key)
    return flow


def scope_for(device_id: str) -> str:
    return f"openid {SCOPE_API} {SCOPE_DEVICE_PREFIX}{device_id}"


def device_of_scope(scope: str) -> str | None:
    ids = {s[len(p):] for s in scope.split() for p in (SCOPE_DEVICE_PREFIX, _UNSTABLE_DEVICE_PREFIX)
           if s.startswith(p)}
    return ids.pop() if len(ids) == 1 else None


def registration_body(client_name: str, client_uri: str, redirect_uri: str) -> dict[str, Any]:
    """Dynamic client registration (RFC 7591) as Matrix clients do it: a public web client."""
    return {
        "client_name": client_name,
        "client_uri": client_uri,
        "redirect_uris": [redirect_uri],
        "application_type": "web",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    }


def parse_registration(status: int, body: Any) -> str:
    if status in (200, 201) and isinstance(body, dict) and isinstance(body.get("client_id"), str):
        return body["client_id"]
    detail = body.get("error_description") or body.get("error") if isinstance(body, dict) else None
    raise OAuthError(f"The sign-in server refused to register this chat ({detail or status}).")


def authorization_url(metadata: AuthMetadata, flow: PendingFlow, prompt: str | None = None,
                      login_hint: str | None = None) -> str:
    params = {
        "response_type": "code",
        "response_mode": metadata.response_mode,
        "client_id": flow.client_id,
        "redirect_uri": flow.redirect_uri,
        "scope": scope_for(flow.device_id),
        "state": flow.state,
        "code_challenge": challenge_s256(flow.verifier),
        "code_challenge_method": "S256",
    }
    if prompt == "create" and metadata.supports_create:
        params["prompt"] = "create"
    if login_hint:
        params["login_hint"] = login_hint
    sep = "&" if urlsplit(metadata.authorization_endpoint).query else "?"
    return metadata.authorization_endpoint + sep + urlencode(params)


def callback_params(url: str) -> dict[str, str]:
    """The response parameters of a redirect back to us, from the fragment or the query."""
    parts = urlsplit(url)
    params = dict(parse_qsl(parts.fragment)) if parts.fragment else {}
    if "state" not in params:
        params = dict(parse_qsl(parts.query))
    return params


def check_callback(params: Mapping[str, str], flow: PendingFlow | None, now: float) -> str:
    """The authorization code, after checking the response belongs to `flow` (taken by state)."""
    if flow is None or params.get("state") != flow.state:
        raise OAuthError(MSG_STATE)
    if now - flow.created_at > FLOW_TTL:
        raise OAuthError(MSG_EXPIRED)
    # RFC 9207: a response naming another issuer is a mix-up attack or a misconfiguration.
    iss = params.get("iss")
    if iss is None and flow.require_iss:
        raise OAuthError(MSG_ISSUER)
    if iss is not None and iss.rstrip("/") != flow.issuer.rstrip("/"):
        raise OAuthError(MSG_ISSUER)
    error = params.get("error")
    if error == "access_denied":
        raise OAuthError(MSG_CANCELLED)
    if error:
        raise OAuthError(f"Sign-in failed: {params.get('error_description') or error}.")
    code = params.get("code")
    if not code:
        raise OAuthError("The sign-in response carried no authorization code. Please sign in again.")
    return code


def safe_return_to(return_to: str | None, redirect_uri: str) -> str:
    """Where to go after the callback: only a page of our own origin (no open redirect)."""
    base = urlsplit(redirect_uri)
    target = urlsplit(return_to or "")
    if target.scheme == base.scheme and target.netloc == base.netloc:
        return return_to
    return f"{base.scheme}://{base.netloc}/"


def code_exchange_body(flow: PendingFlow, code: str) -> dict[str, str]:
    return {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": flow.redirect_uri,
        "client_id": flow.client_id,
        "code_verifier": flow.verifier,
    }


def refresh_body(client_id: str, refresh_token: str) -> dict[str, str]:
    return {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": client_id}


def revoke_body(client_id: str, token: str, hint: str) -> dict[str, str]:
    return {"token": token, "token_type_hint": hint, "client_id": client_id}


def form(body: dict[str, str]) -> str:
    return urlencode(body)


def parse_token_response(status: int, body: Any, device_id: str | None = None) -> Tokens:
    """Tokens from a token-endpoint answer. invalid_grant / invalid_client mean the refresh
    token or client is gone for good: SessionExpired (back to sign-in)."""
    if status == 200 and isinstance(body, dict) and isinstance(body.get("access_token"), str):
        scope = body.get("scope")
        if isinstance(scope, str):
            granted = set(scope.split())
            if SCOPE_API not in granted and _UNSTABLE_API not in granted:
                raise OAuthError("The sign-in server did not grant access to the chat.")
            if device_id and device_of_scope(scope) != device_id:
                raise OAuthError("The sign-in server granted a different device than requested.")
        expires = body.get("expires_in")
        return Tokens(body["access_token"], body.get("refresh_token"),
                      float(expires) if isinstance(expires, (int, float)) else None)
    error = body.get("error") if isinstance(body, dict) else None
    if error in ("invalid_grant", "invalid_client", "unauthorized_client") or status == 401:
        raise SessionExpired(SESSION_ENDED)
    raise ConnectionError(f"token endpoint answered HTTP {status} ({error or 'no error code'})")


def session_from_tokens(flow: PendingFlow, tokens: Tokens, user_id: str, now: float) -> Session:
    return Session(
        homeserver=flow.homeserver,
        user_id=user_id,
        device_id=flow.device_id,
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        expires_at=now + tokens.expires_in if tokens.expires_in else None,
        lifetime=tokens.expires_in,
        auth="oauth",
        extra={
            "issuer": flow.issuer,
            "client_id": flow.client_id,
            "token_endpoint": flow.token_endpoint,
            "revocation_endpoint": flow.revocation_endpoint,
            "account_management_uri": flow.account_management_uri,
        },
    )
