"""The session's view model: the sign-in screen (password form or the auth server's button),
the connection status and its banner, and signing out (asking first while messages are
unsent).

It reads the service's session and status (`status`, `status_message`, `session`, `user_id`,
`sign_outs`, `unsent_count()`) and acts through `login_password` and `logout`; `invalidate()`
asks for a render. The composer's drafts are saved before leaving for the auth server
(`before_leaving`) and dropped when that could not start (`leaving_failed`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from pyapp.client.service import CONNECTING, OFFLINE, ONLINE, SIGNED_OUT
from pyapp.client.session import PASSWORD, LoginError
from pyapp.identity import IdentityError, matrix_localpart


STATUS_TEXT = {ONLINE: "Online", CONNECTING: "Connecting…", OFFLINE: "Offline",
               SIGNED_OUT: "Signed out"}


@dataclass
class LoginView:
    username: str = ""
    error: str | None = None
    busy: bool = False
    method: str = PASSWORD  # oauth: a "Sign in" button to the auth server; password: the form
    can_create: bool = False  # oauth: also "Create account" (prompt=create)


@dataclass
class SignInOptions:
    """How this page signs in; decided once per page (pyapp.ui.mount) and shared by every
    component. `oauth` is anything with `async sign_in(prompt=None, login_hint=None)` that
    leaves for the auth server (pyapp.auth.browser.BrowserOAuth in the browser)."""
    method: str = PASSWORD
    oauth: Any = None
    can_create: bool = False
    error: str | None = None  # a sign-in that came back refused (bad state, replayed code...)


@dataclass
class SessionView:
    status: str
    status_text: str
    banner: str | None  # connection problem, shown above the conversation
    login: LoginView
    can_sign_out: bool
    sign_out_question: str | None  # sign-out asked while messages are unsent: confirm or cancel
    user_id: str | None


def sign_out_question(unsent: int) -> str:
    if not unsent:
        return "Sign out of the chat?"
    what = "1 message has" if unsent == 1 else f"{unsent} messages have"
    return f"{what} not been sent. Signing out discards {'it' if unsent == 1 else 'them'}."


def account_name(username: str, tenant: str | None) -> str:
    """People know their platform name ("alice"); their Matrix account is alice_<tenant>."""
    name = username.strip()
    if tenant and name and not any(c in name for c in "@:_"):
        try:
            return matrix_localpart(name, tenant)
        except IdentityError:
            return name  # not a platform name: the homeserver decides
    return name


class SessionPart:
    def __init__(self, service, options: SignInOptions | None = None, *,
                 tenant: str | None = None, login_hint: str | None = None,
                 invalidate: Callable[[], None] = lambda: None,
                 before_leaving: Callable[[], None] = lambda: None,
                 leaving_failed: Callable[[], None] = lambda: None):
        self.service = service
        self.options = options or SignInOptions()
        self.tenant = tenant
        self.login_hint = login_hint or None
        self._invalidate = invalidate
        self._before_leaving = before_leaving
        self._leaving_failed = leaving_failed
        self.login = LoginView(error=self.options.error)
        self._confirming_sign_out = False
        self._sign_outs = getattr(service, "sign_outs", 0)

    def signed_out_since_last_view(self) -> bool:
        """True once after each sign-out (here or in another component sharing the service)."""
        sign_outs = getattr(self.service, "sign_outs", 0)
        if sign_outs == self._sign_outs:
            return False
        self._sign_outs = sign_outs
        self._confirming_sign_out = False
        return True

    def view(self, on_sign_in_screen: bool) -> SessionView:
        service, options = self.service, self.options
        status = service.status
        login = LoginView(self.login.username, self.login.error, self.login.busy,
                          method=options.method if options.oauth is not None else PASSWORD,
                          can_create=options.can_create)
        if on_sign_in_screen and not login.error and service.status_message:
            login.error = service.status_message  # why the session ended
        can_sign_out = service.session is not None and status != SIGNED_OUT
        question = sign_out_question(service.unsent_count()) \
            if self._confirming_sign_out and can_sign_out else None
        banner = service.status_message \
            if status in (CONNECTING, OFFLINE) and service.status_message else None
        return SessionView(status, STATUS_TEXT.get(status, status), banner, login,
                           can_sign_out, question, service.user_id)

    # -- the user's actions -------------------------------------------------------------
    def set_username(self, username: str) -> None:
        self.login.username = username

    async def submit_login(self, username: str, password: str) -> bool:
        self.login = LoginView(username, None, True)
        self._invalidate()
        try:
            await self.service.login_password(account_name(username, self.tenant), password)
        except LoginError as e:
            self.login = LoginView(username, str(e), False)
            self._invalidate()
            return False
        self.login = LoginView(username, None, False)
        self._invalidate()
        return True

    async def start_sign_in(self, create: bool = False) -> bool:
        """OAuth: leave for the auth server's page (sign in, or create an account). True when
        the browser is on its way; the drafts wait in the tab's storage until it is back."""
        oauth = self.options.oauth
        if oauth is None:
            return False
        self._before_leaving()
        self.login = LoginView(self.login.username, None, True)
        self._invalidate()
        try:
            await oauth.sign_in(prompt="create" if create else None, login_hint=self.login_hint)
        except Exception as e:  # noqa: BLE001  (whatever went wrong, the user needs a message)
            self._leaving_failed()
            message = str(e) if isinstance(e, LoginError) else \
                "Signing in could not start. Check your connection and try again."
            self.login = LoginView(self.login.username, message, False)
            self._invalidate()
            return False
        return True  # stays busy: the page is being replaced

    async def sign_out(self, confirmed: bool = False) -> bool:
        """Sign out; with unsent messages, first ask (the view's sign_out_question) and sign
        out only when called again with confirmed=True. True when signed out."""
        if not confirmed and self.service.unsent_count():
            self._confirming_sign_out = True
            self._invalidate()
            return False
        self._confirming_sign_out = False
        self.login = LoginView(self.login.username, None, False)
        await self.service.logout()
        self._invalidate()
        return True

    def cancel_sign_out(self) -> None:
        self._confirming_sign_out = False
        self._invalidate()
