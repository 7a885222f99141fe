"""OAuth 2.0 login, refresh and logout against the homeserver's auth server, with the I/O
through pyapp.client.transport.Transport (fetch in the browser, aiohttp under CPython).

Storage: `storage` is the origin's persistent storage (localStorage: session, cached client id,
device id); `flow_storage` holds only the pending flow (sessionStorage in the browser).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any, Callable
from urllib.parse import urlsplit

from pyapp.client.session import SESSION_ENDED, LoginError, Session
from pyapp.client.storage import Storage, load_json, save_json
from pyapp.client.tokens import SessionExpired, Tokens
from pyapp.client.transport import NETWORK_ERRORS, HttpResponse, Transport

from . import flow as F
from .metadata import AUTH_METADATA_PATHS, AuthMetadata, MetadataError, parse_auth_metadata, unsupported
from .pkce import new_device_id, new_state, new_verifier

def _json(response: HttpResponse) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


class OAuthClient:
    def __init__(
        self,
        transport: Transport,
        storage: Storage,
        flow_storage: Storage,
        *,
        homeserver: str,
        redirect_uri: str,
        client_name: str = "Community chat",
        client_uri: str | None = None,
        clock: Callable[[], float] = time.time,
        known_client: dict | None = None,
    ):
        self.transport = transport
        self.storage = storage
        self.flow_storage = flow_storage
        self.homeserver = homeserver.rstrip("/")
        self.redirect_uri = redirect_uri
        self.client_name = client_name
        parts = urlsplit(redirect_uri)
        self.client_uri = client_uri or f"{parts.scheme}://{parts.netloc}/"
        self.clock = clock
        # The deployment's own, pre-registered client ({"client_id", "redirect_uris"}, from
        # /config.json): used when it lists our redirect URI, so the auth server knows this is
        # its own chat (no consent screen). Elsewhere (another origin embedding the chat) the
        # chat registers itself like any Matrix client.
        self.known_client = known_client
        self.metadata: AuthMetadata | None = None
        # Pauses before re-sending a refresh whose answer was lost (seconds).
        self.refresh_retry_delays: tuple[float, ...] = (0.5, 2.0)

    # -- discovery and registration ------------------------------------------------------
    async def discover(self) -> AuthMetadata | None:
        """The homeserver's auth server, or None when it has none (use password login)."""
        for path in AUTH_METADATA_PATHS:
            try:
                r = await self.transport.request("GET", self.homeserver + path,
                                                 {"Accept": "application/json"}, None, 15)
            except NETWORK_ERRORS as e:
                raise LoginError(f"Can't reach the homeserver at {self.homeserver}. "
                                 "Check your connection and try again.") from e
            body = _json(r)
            if r.status == 200:
                try:
                    self.metadata = parse_auth_metadata(body)
                except MetadataError as e:
                    raise F.OAuthError(f"This homeserver's sign-in server can't be used: {e}.") from e
                return self.metadata
            if not unsupported(r.status, body):
                raise LoginError(f"The homeserver had a problem ({r.status}); try again.")
        return None

    def _client_key(self, issuer: str) -> str:
        return F.CLIENT_PREFIX + issuer

    async def client_id(self, metadata: AuthMetadata) -> str:
        """The deployment's own client id for this redirect URI, else registered once per
        issuer and redirect URI, then reused from storage."""
        known = self.known_client
        if isinstance(known, dict) and isinstance(known.get("client_id"), str) \
                and self.redirect_uri in (known.get("redirect_uris") or ()):
            return known["client_id"]
        cached = load_json(self.storage, self._client_key(metadata.issuer))
        if isinstance(cached, dict) and cached.get("redirect_uri") == self.redirect_uri \
                and isinstance(cached.get("client_id"), str):
            return cached["client_id"]
        body = F.registration_body(self.client_name, self.client_uri, self.redirect_uri)
        try:
            r = await self.transport.request(
                "POST", metadata.registration_endpoint,
                {"Content-Type": "application/json", "Accept": "application/json"},
                json.dumps(body), 30)
        except NETWORK_ERRORS as e:
            raise LoginError("Can't reach the sign-in server. Try again.") from e
        client_id = F.parse_registration(r.status, _json(r))
        save_json(self.storage, self._client_key(metadata.issuer),
                  {"client_id": client_id, "redirect_uri": self.redirect_uri})
        return client_id

    def forget_client(self, issuer: str) -> None:
        self.storage.remove(self._client_key(issuer))

    def device_id(self) -> str:
        """The device this browser signs in as; kept across logins so read state and keys
        survive a re-login."""
        stored = self.storage.get(F.DEVICE_KEY)
        if stored and 1 <= len(stored) <= 255:
            return stored
        device = new_device_id()
        self.storage.set(F.DEVICE_KEY, device)
        return device

    # -- login ----------------------------------------------------------------------------
    async def begin(self, return_to: str, prompt: str | None = None,
                    login_hint: str | None = None) -> str:
        """Start a flow; returns the URL to send the browser to."""
        metadata = self.metadata or await self.discover()
        if metadata is None:
            raise LoginError("This homeserver does not offer OAuth sign-in.")
        client_id = await self.client_id(metadata)
        pending = F.PendingFlow(
            state=new_state(), verifier=new_verifier(), issuer=metadata.issuer,
            client_id=client_id, redirect_uri=self.redirect_uri, device_id=self.device_id(),
            homeserver=self.homeserver, token_endpoint=metadata.token_endpoint,
            revocation_endpoint=metadata.revocation_endpoint,
            account_management_uri=metadata.account_management_uri,
            return_to=F.safe_return_to(return_to, self.redirect_uri),
            created_at=self.clock(),
            require_iss=metadata.iss_parameter_supported,
        )
        F.save_flow(self.flow_storage, pending)
        return F.authorization_url(metadata, pending, prompt=prompt, login_hint=login_hint)

    async def complete(self, params: dict[str, str]) -> tuple[Session, str]:
        """Finish the flow the callback `params` answer: (session, page to return to).
        Raises OAuthError with a message for the user."""
        pending = F.take_flow(self.flow_storage, params.get("state"))
        code = F.check_callback(params, pending, self.clock())
        try:
            r = await self.transport.request(
                "POST", pending.token_endpoint, dict(F.FORM),
                F.form(F.code_exchange_body(pending, code)), 30)
        except NETWORK_ERRORS as e:
            raise F.OAuthError("Can't reach the sign-in server to finish signing in. "
                               "Please sign in again.") from e
        if r.status == 401 and (_json(r) or {}).get("error") == "invalid_client":
            # The auth server forgot our registration (e.g. it restarted): register anew next time.
            self.forget_client(pending.issuer)
        try:
            tokens = F.parse_token_response(r.status, _json(r), pending.device_id)
        except SessionExpired as e:
            raise F.OAuthError(F.MSG_CODE) from e
        except ConnectionError as e:
            raise F.OAuthError(f"The sign-in server had a problem ({r.status}). "
                               "Please sign in again.") from e
        user_id = await self._whoami(pending, tokens.access_token)
        session = F.session_from_tokens(pending, tokens, user_id, self.clock())
        return session, pending.return_to

    async def _whoami(self, pending: F.PendingFlow, access_token: str) -> str:
        try:
            r = await self.transport.request(
                "GET", self.homeserver + "/_matrix/client/v3/account/whoami",
                {"Authorization": f"Bearer {access_token}", "Accept": "application/json"}, None, 30)
        except NETWORK_ERRORS as e:
            raise F.OAuthError("Can't reach the homeserver to finish signing in.") from e
        body = _json(r)
        if r.status != 200 or not isinstance(body, dict) or not isinstance(body.get("user_id"), str):
            raise F.OAuthError(f"The homeserver did not accept the new sign-in ({r.status}).")
        if body.get("device_id") not in (None, pending.device_id):
            raise F.OAuthError("The homeserver assigned a different device than requested.")
        return body["user_id"]

    # -- refresh and logout ---------------------------------------------------------------
    async def refresh(self, session: Session) -> Tokens:
        """The TokenManager's Refresher for OAuth sessions."""
        extra = session.extra or {}
        if not session.refresh_token or not extra.get("token_endpoint"):
            raise SessionExpired(SESSION_ENDED)
        # A lost answer (timeout, dropped connection) may mean the server did rotate the token:
        # the retry sends the same old token again, which the auth server accepts until the new
        # one is first used (MAS's grace), so the session survives. Still failing: the error
        # propagates, the session keeps the old token and the caller retries later.
        body = F.form(F.refresh_body(extra["client_id"], session.refresh_token))
        for attempt, delay in enumerate((*self.refresh_retry_delays, None)):
            try:
                r = await self.transport.request(
                    "POST", extra["token_endpoint"], dict(F.FORM), body, 30)
            except NETWORK_ERRORS:
                if delay is None:
                    raise
                await asyncio.sleep(delay)
                continue
            if r.status >= 500 and delay is not None:
                await asyncio.sleep(delay)
                continue
            return F.parse_token_response(r.status, _json(r), session.device_id)
        raise AssertionError("unreachable")

    async def revoke(self, session: Session) -> bool:
        """Logout: revoke the refresh token (the auth server then ends the grant, every token of
        it, and the device in the homeserver) and the access token. True if the server agreed."""
        extra = session.extra or {}
        endpoint, client_id = extra.get("revocation_endpoint"), extra.get("client_id")
        if not endpoint or not client_id:
            return False
        ok = True
        pairs = [(session.refresh_token, "refresh_token"), (session.access_token, "access_token")]
        for token, hint in pairs:
            if not token:
                continue
            try:
                r = await self.transport.request(
                    "POST", endpoint, dict(F.FORM), F.form(F.revoke_body(client_id, token, hint)), 15)
                ok = ok and r.status == 200
            except NETWORK_ERRORS:
                ok = False
        return ok
