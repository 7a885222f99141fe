"""The session's view model (sign-in, status, sign-out) against a stand-in service."""

from __future__ import annotations

from pyapp.client.session import OAUTH, PASSWORD, LoginError
from pyapp.ui.parts.session import SessionPart, SignInOptions


class Service:
    def __init__(self):
        self.status, self.status_message = "signed_out", None
        self.session, self.user_id, self.sign_outs = None, None, 0
        self.unsent, self.logins, self.logouts = 0, [], 0

    def unsent_count(self):
        return self.unsent

    async def login_password(self, user, password):
        self.logins.append(user)
        if password != "pw":
            raise LoginError("Wrong username or password.")
        self.status, self.session, self.user_id = "online", object(), f"@{user}:hs"

    async def logout(self):
        self.logouts += 1
        self.status, self.session, self.user_id = "signed_out", None, None
        self.sign_outs += 1


async def signed_in_session() -> tuple[Service, SessionPart]:
    service = Service()
    session = SessionPart(service)
    await service.login_password("alice_t1", "pw")
    return service, session


def test_the_status_is_worded_and_a_connection_problem_becomes_a_banner():
    service = Service()
    session = SessionPart(service)
    service.status, service.session = "online", object()
    assert (session.view(False).status_text, session.view(False).banner) == ("Online", None)
    service.status, service.status_message = "offline", "Connection lost. Reconnecting…"
    view = session.view(False)
    assert (view.status_text, view.banner) == ("Offline", "Connection lost. Reconnecting…")
    service.status = "connecting"
    assert session.view(False).status_text == "Connecting…"


def test_why_a_session_ended_is_said_on_the_sign_in_screen_only():
    service = Service()
    service.status_message = "Your session has ended. Please sign in again."
    session = SessionPart(service)
    assert session.view(True).login.error == service.status_message
    assert session.view(False).login.error is None
    refused = SessionPart(service, SignInOptions(OAUTH, object(), error="Refused."))
    assert refused.view(True).login.error == "Refused."  # its own reason comes first


def test_the_password_form_unless_an_auth_server_signs_in():
    service = Service()
    assert SessionPart(service).view(True).login.method == PASSWORD
    no_client = SignInOptions(OAUTH, oauth=None, can_create=True)
    assert SessionPart(service, no_client).view(True).login.method == PASSWORD
    oauth = SessionPart(service, SignInOptions(OAUTH, object(), can_create=True)).view(True)
    assert (oauth.login.method, oauth.login.can_create) == (OAUTH, True)


async def test_a_platform_name_signs_in_and_a_wrong_password_keeps_the_name():
    service = Service()
    renders = []
    session = SessionPart(service, tenant="t1", invalidate=lambda: renders.append(1))
    assert not await session.submit_login("Alice", "nope")
    assert service.logins == ["alice_t1"]
    login = session.view(True).login
    assert (login.username, login.error, login.busy) == ("Alice", "Wrong username or password.",
                                                         False)
    assert await session.submit_login("alice", "pw")
    assert session.view(False).login.error is None and renders


async def test_sign_out_asks_first_while_messages_are_unsent():
    service, session = await signed_in_session()
    assert session.view(False).can_sign_out
    service.unsent = 2
    assert not await session.sign_out()
    assert session.view(False).sign_out_question == (
        "2 messages have not been sent. Signing out discards them.")
    session.cancel_sign_out()
    assert session.view(False).sign_out_question is None
    assert not await session.sign_out()
    assert await session.sign_out(confirmed=True)
    assert service.logouts == 1
    assert session.signed_out_since_last_view()
    assert not session.signed_out_since_last_view()  # once per sign-out
    assert not session.view(True).can_sign_out


async def test_a_sign_out_elsewhere_withdraws_the_question():
    service, session = await signed_in_session()
    service.unsent = 1
    await session.sign_out()
    assert session.view(False).sign_out_question.startswith("1 message has")
    await service.logout()  # another component on the page signed out
    assert session.signed_out_since_last_view()
    await service.login_password("alice_t1", "pw")
    assert session.view(False).sign_out_question is None


async def test_leaving_for_the_auth_server_saves_the_drafts_and_a_failure_drops_them():
    calls = []

    class OAuth:
        fail = False

        async def sign_in(self, prompt=None, login_hint=None):
            calls.append((prompt, login_hint))
            if self.fail:
                raise RuntimeError("Failed to fetch")

    oauth = OAuth()
    session = SessionPart(Service(), SignInOptions(OAUTH, oauth), login_hint="alice@t1",
                          before_leaving=lambda: calls.append("saved"),
                          leaving_failed=lambda: calls.append("dropped"))
    assert await session.start_sign_in(create=True)
    assert calls == ["saved", ("create", "alice@t1")]
    assert session.view(True).login.busy
    oauth.fail = True
    assert not await session.start_sign_in()
    assert calls[-1] == "dropped"
    assert "could not start" in session.view(True).login.error
    assert not await SessionPart(Service()).start_sign_in()  # no auth server: nothing to do
