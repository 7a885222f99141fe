"""Signing in from the chat component through OAuth: the Sign in / Create account buttons, the
drafts that wait in the tab's storage across the redirect, refused sign-ins, session expiry
and sign-out. A real ChatService on the in-memory homeserver; the OAuth side is a recorder
with BrowserOAuth's `sign_in` signature (the browser leaves the page at that point)."""

from __future__ import annotations

from pyapp.client.session import AuthMethod, LoginError
from pyapp.client.storage import MemoryStorage
from pyapp.ui.parts.session import account_name
from pyapp.ui.viewmodel import CHAT, OAUTH, PASSWORD, SIGNED_OUT_SCREEN, SignInOptions

from .test_ui_viewmodel import signed_in, until, world  # noqa: F401  (world is a fixture)


class RecordingOAuth:
    def __init__(self, error: Exception | None = None):
        self.calls: list[dict] = []
        self.error = error

    async def sign_in(self, prompt=None, login_hint=None):
        self.calls.append({"prompt": prompt, "login_hint": login_hint})
        if self.error is not None:
            raise self.error


def oauth_options(oauth=None, **kw) -> SignInOptions:
    return SignInOptions(method=OAUTH, oauth=oauth or RecordingOAuth(), **kw)


async def test_oauth_pages_offer_a_sign_in_button_instead_of_the_password_form(world):
    model = world.vm(sign_in=oauth_options(can_create=True))
    assert model.state.screen == SIGNED_OUT_SCREEN
    assert model.state.login.method == OAUTH
    assert model.state.login.can_create


async def test_without_an_auth_server_the_password_form_stays(world):
    homeserver_without_oauth = SignInOptions(method=PASSWORD, oauth=RecordingOAuth())
    assert world.vm(sign_in=homeserver_without_oauth).state.login.method == PASSWORD
    assert world.vm().state.login.method == PASSWORD


async def test_sign_in_leaves_for_the_auth_server_with_the_hosts_user_as_hint(world):
    oauth = RecordingOAuth()
    model = world.vm(sign_in=oauth_options(oauth), login_hint="alice@t1")
    assert await model.start_sign_in()
    assert oauth.calls == [{"prompt": None, "login_hint": "alice@t1"}]
    await until(lambda: model.state.login.busy)  # the button stays disabled while leaving

    assert await model.start_sign_in(create=True)
    assert oauth.calls[-1]["prompt"] == "create"


async def test_a_sign_in_that_could_not_start_says_why_and_can_be_retried(world):
    oauth = RecordingOAuth(LoginError("Can't reach the sign-in server. Try again."))
    model = world.vm(sign_in=oauth_options(oauth))
    assert not await model.start_sign_in()
    await until(lambda: model.state.login.error)
    assert model.state.login.error == "Can't reach the sign-in server. Try again."
    assert not model.state.login.busy

    oauth.error = RuntimeError("JsException: TypeError: Failed to fetch")
    assert not await model.start_sign_in()
    await until(lambda: "could not start" in (model.state.login.error or ""))


async def test_a_refused_sign_in_that_came_back_is_shown_on_the_sign_in_screen(world):
    refused = ("This sign-in response does not match a sign-in started in this tab "
               "(unknown or reused state). Please sign in again.")
    model = world.vm(sign_in=oauth_options(error=refused))
    assert model.state.screen == SIGNED_OUT_SCREEN
    assert model.state.login.error == refused
    await model.start_sign_in()  # trying again clears it
    await until(lambda: model.state.login.error is None)


async def test_the_draft_waits_in_the_tab_across_the_sign_in_redirect(world):
    tab = MemoryStorage()
    model = world.vm(sign_in=oauth_options(), draft_store=tab)
    await signed_in(world, model)
    model.set_draft("half a thought")
    world.hs.revoked.add(world.alice)
    await until(lambda: model.state.screen == SIGNED_OUT_SCREEN)
    assert "sign in again" in model.state.login.error.lower()
    assert await model.start_sign_in()
    model.close()
    await world.service.stop()

    # Back from the auth server: a new page, a new view model, the same tab.
    world.hs.revoked.clear()
    again = world.vm(sign_in=oauth_options(), draft_store=tab)
    await world.service.login_password("alice_t1", "pw")
    await until(lambda: again.state.screen == CHAT)
    assert again.state.draft == "half a thought"
    # Taken once: a later page load starts empty.
    assert world.vm(sign_in=oauth_options(), draft_store=tab).composer.drafts == {}


async def test_a_sign_in_that_could_not_start_leaves_no_draft_behind(world):
    tab = MemoryStorage()
    model = world.vm(sign_in=oauth_options(RecordingOAuth(LoginError("no"))), draft_store=tab)
    await signed_in(world, model)
    model.set_draft("stay here")
    await model.start_sign_in()
    assert tab.get("om-chat.drafts.sidebar.event.picnic") is None
    assert model.state.draft == "stay here"


async def test_an_ended_session_returns_to_the_sign_in_button_keeping_the_draft(world):
    model = world.vm(sign_in=oauth_options())
    await signed_in(world, model)
    model.set_draft("not lost")
    world.hs.revoked.add(world.alice)
    await until(lambda: model.state.screen == SIGNED_OUT_SCREEN)
    assert model.state.login.method == OAUTH
    assert model.state.login.error == "Your session has ended. Please sign in again."
    assert model.state.draft == "not lost"
    assert not model.state.can_sign_out


async def test_sign_out_goes_through_the_sessions_logout_hook(world):
    revoked = []

    async def revoke(session):
        revoked.append(session.access_token)
        return True

    # OAuth sessions get pyapp.auth's revoke the same way.
    world.service.on_auth(AuthMethod(PASSWORD, refresh=world.service._legacy_refresh,
                                     logout=revoke))
    model = world.vm(sign_in=oauth_options())
    await signed_in(world, model)
    assert model.state.can_sign_out
    token = world.service.session.access_token
    await model.sign_out()
    await until(lambda: model.state.screen == SIGNED_OUT_SCREEN)
    assert revoked == [token]
    assert model.state.login.error is None and model.state.login.method == OAUTH


def test_names_follow_the_platforms_naming_rules():
    assert account_name("Alice", "t1") == "alice_t1"
    assert account_name(" alice ", "t1") == "alice_t1"
    assert account_name("@someone:elsewhere", "t1") == "@someone:elsewhere"
    assert account_name("not a slug!", "t1") == "not a slug!"
    assert account_name("alice", None) == "alice"  # no tenant: the homeserver decides
