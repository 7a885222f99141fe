"""The composition per mode: which parts each mode has, and what having them changes."""

from __future__ import annotations

from pyapp.client.service import Change
from pyapp.ui.modes import MODES
from pyapp.ui.viewmodel import CHAT

from .test_ui_viewmodel import signed_in, signed_in_any, until, world  # noqa: F401  (fixture)


def test_each_mode_names_its_parts():
    parts = {name: (m.header, m.room_list, m.info_panel, m.panes, m.first_pane)
             for name, m in MODES.items()}
    assert parts == {
        "sidebar": (True, False, False, False, "conversation"),
        "tab": (False, False, False, False, "conversation"),
        "dashboard": (False, True, True, True, "list"),
    }


async def test_only_the_dashboard_has_a_room_list_and_an_info_panel(world):
    for mode in ("sidebar", "tab"):
        model = world.vm(mode)
        assert model.room_list is None and model.info_panel is None
        await signed_in(world, model)
        assert model.state.rooms == [] and model.state.info is None
    dashboard = world.vm("dashboard", "all", None)
    assert dashboard.state.pane == "list"
    await until(lambda: dashboard.state.rooms and dashboard.state.info)


async def test_a_component_without_a_room_list_ignores_other_rooms_changes(world):
    renders = {}
    for mode, context, slug in (("sidebar", "event", "picnic"), ("dashboard", "all", None)):
        model = world.vm(mode, context, slug, defer=lambda fn, m=mode: renders.setdefault(m, fn))
        await signed_in_any(world, model)
        renders.clear()
        model._on_change(Change("room", "!another:localhost"))
        assert (mode in renders) == (mode == "dashboard")
        model._on_change(Change("room", world.room))
        assert mode in renders


async def test_with_a_room_list_having_no_room_is_the_chat_screen_saying_so(world):
    # (Without a room list it is a screen of its own: test_ui_viewmodel's NOT_FOUND tests.)
    await signed_in_any(world, world.vm())
    world.service.rooms.rooms.clear()  # as if I had left every room
    dashboard = world.vm("dashboard", "all", None)
    dashboard.refresh()
    assert dashboard.state.screen == CHAT and dashboard.state.rooms == []
    assert dashboard.state.empty_text.startswith("You have no conversations yet")
    assert dashboard.state.title == "Messages"
    assert dashboard.state.pane == "conversation"  # no list to show on a narrow screen


async def test_a_narrow_dashboard_marks_read_only_while_the_conversation_pane_shows(world):
    world.hs.post(world.room, world.bob, "hello")
    asked = []

    async def mark_read(room_id):  # records when the view model asks, before any I/O
        asked.append(room_id)

    world.service.mark_read = mark_read
    model = world.vm("dashboard", "all", None)
    model.set_narrow(True)
    await signed_in(world, model)
    await until(lambda: model.state.items)  # rendered, and its side effects decided
    assert model.state.pane == "list" and asked == []
    model.show_pane("conversation")
    await until(lambda: asked == [world.room])
