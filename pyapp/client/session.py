"""A logged-in Matrix session: what it holds, how it is stored, how password login makes one.

Tokens live in the page's storage (localStorage in the browser) under one key, so a reload
restores the session without logging in again and every tab of the origin sees the newest
tokens after a refresh (see pyapp.client.tokens for why that matters).
"""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass, field
from typing import Any, AsyncContextManager, Awaitable, Callable

from .storage import Storage, load_json, save_json

SESSION_KEY = "om-chat.session"
OAUTH, PASSWORD = "oauth", "password"  # Session.auth: how the session is refreshed and ended
SESSION_ENDED = "Your session has ended. Please sign in again."


@dataclass
class Session:
    homeserver: str
    user_id: str
    device_id: str
    access_token: str
    refresh_token: str | None = None
    expires_at: float | None = None  # epoch seconds; None: the token does not expire
    lifetime: float | None = None  # seconds the current access token was issued for
    auth: str = PASSWORD  # PASSWORD or OAUTH: which refresh endpoint applies
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. OAuth issuer and client id

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> "Session | None":
        if not isinstance(data, dict):
            return None
        try:
            return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})
        except TypeError:
            return None


class SessionStore:
    def __init__(self, storage: Storage, key: str = SESSION_KEY):
        self.storage = storage
        self.key = key

    def load(self) -> Session | None:
        session = Session.from_json(load_json(self.storage, self.key))
        if session is None or not session.access_token or not session.user_id:
            return None
        return session

    def save(self, session: Session) -> None:
        save_json(self.storage, self.key, session.to_json())

    def clear(self) -> None:
        self.storage.remove(self.key)


# -- what a login method tells the chat service (ChatService.on_auth) ---------------------
@dataclass
class AuthMethod:
    """How sessions made by one login method are refreshed and ended (pyapp.auth adds OAuth)."""
    name: str
    refresh: Callable[[Session], Awaitable[Any]] | None = None  # -> tokens.Tokens
    logout: Callable[[Session], Awaitable[Any]] | None = None
    lock: Callable[[], AsyncContextManager] | None = None  # serialises refreshes across tabs


@dataclass
class SessionAdopted:
    """A login finished: store this session and start syncing."""
    session: Session


@dataclass
class TokensChanged:
    """The session's tokens were renewed (here or by another tab)."""
    session: Session


@dataclass
class SessionEnded:
    """The tokens are gone for good: back to sign-in."""
    message: str = SESSION_ENDED


AuthEvent = AuthMethod | SessionAdopted | TokensChanged | SessionEnded


class LoginError(Exception):
    """A login the user can correct or retry; the message is fit to show."""


def password_login_body(user: str, password: str, device_id: str | None = None) -> dict:
    body: dict[str, Any] = {
        "type": "m.login.password",
        "identifier": {"type": "m.id.user", "user": user},
        "password": password,
        # Ask for a refresh token so access tokens can be short-lived (Matrix v1.3+).
        "refresh_token": True,
        "initial_device_display_name": "Community chat (web)",
    }
    if device_id:
        body["device_id"] = device_id
    return body


def session_from_login(homeserver: str, body: dict[str, Any], now: float) -> Session:
    expires_in_ms = body.get("expires_in_ms")
    return Session(
        homeserver=homeserver,
        user_id=body["user_id"],
        device_id=body["device_id"],
        access_token=body["access_token"],
        refresh_token=body.get("refresh_token"),
        expires_at=now + expires_in_ms / 1000 if expires_in_ms else None,
        lifetime=expires_in_ms / 1000 if expires_in_ms else None,
    )


def login_error_message(status: int, body: Any) -> str:
    errcode = body.get("errcode") if isinstance(body, dict) else None
    if errcode == "M_FORBIDDEN" or status == 403:
        return "Wrong username or password."
    if errcode == "M_USER_DEACTIVATED":
        return "This account has been deactivated."
    if errcode == "M_LIMIT_EXCEEDED" or status == 429:
        wait = (body.get("retry_after_ms") or 0) / 1000 if isinstance(body, dict) else 0
        return f"Too many attempts; try again in {max(1, round(wait))} s."
    if status == 404:
        return "This homeserver does not offer password login."
    if status >= 500:
        return f"The homeserver had a problem ({status}); try again."
    message = body.get("error") if isinstance(body, dict) else None
    return message or f"Login failed ({status})."


def new_transaction_id() -> str:
    return "om" + secrets.token_hex(8)
