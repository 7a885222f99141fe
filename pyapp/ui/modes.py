"""Which parts each mode of the chat component shows: the composition per mode.

  sidebar   - an event page's chat beside the content, with a header (room name + connection);
  tab       - a group page's Discussion panel, no header (signing out is under the composer);
  dashboard - the Messages page: my chats, the selected conversation and an info panel.

Every mode has the session (sign-in, status), the conversation and the composer; the view
model (pyapp.ui.viewmodel) and the view (pyapp.ui.view) ask the mode which others it has.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mode:
    name: str
    header: bool = False  # the room's name, the connection and Sign out above the conversation
    room_list: bool = False  # my chats; the conversation is the selected one
    info_panel: bool = False  # the selected room's topic and members
    session_bar: bool = False  # who is signed in and Sign out, under the composer

    @property
    def panes(self) -> bool:
        """Several panes side by side, one at a time on a narrow screen."""
        return self.room_list or self.info_panel

    @property
    def first_pane(self) -> str:
        return "list" if self.room_list else "conversation"


MODES = {mode.name: mode for mode in (
    Mode("sidebar", header=True),
    Mode("tab", session_bar=True),
    Mode("dashboard", room_list=True, info_panel=True),
)}
