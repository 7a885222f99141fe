"""The message menu (browser only): one menu element, opened under the message whose "⋯"
button was pressed, with what the view model allows for it (reply, react, edit, delete).

It follows the WAI-ARIA menu button pattern: the button says aria-haspopup/aria-expanded;
Enter, Space or ArrowDown open the menu on its first item, ArrowUp on its last; arrow keys,
Home and End move between items (one tab stop); Escape closes it and gives focus back to the
button; Tab closes it and moves on. Choosing an item runs it and closes the menu.
"""

from __future__ import annotations

import js

from pyapp.client.actions import DEFAULT_REACTIONS, MAX_REACTION_KEY

from .dom import h
from .parts.timeline import DELETE, EDIT, REACT, REPLY

NEXT_KEYS = ("ArrowDown", "ArrowRight")
PREVIOUS_KEYS = ("ArrowUp", "ArrowLeft")


class MessageMenu:
    def __init__(self, uid: str, on: callable, choose: callable):
        """`on(target, event, fn)` listens (the view keeps the proxies); `choose(action, key,
        value)` runs a chosen item: reply / edit / delete / react (value: the emoji)."""
        self._choose = choose
        self.key: str | None = None  # the message the menu is open for
        self.button = None
        # The menu holds menu items only; the "other emoji" field is beside it, in the wrap.
        self.wrap = h("div", "omc-menu-wrap")
        self.wrap.hidden = True
        self.el = h("div", "omc-menu", role="menu", id=f"{uid}-menu",
                    aria_label="Message actions")
        self.custom = h("form", "omc-menu-custom")
        self.custom_input = h("input", "omc-input omc-menu-input", id=f"{uid}-emoji",
                              maxlength=str(MAX_REACTION_KEY), autocomplete="off")
        self.custom.append(h("label", "omc-sr-only", "Emoji to react with", for_=f"{uid}-emoji"),
                           self.custom_input,
                           h("button", "omc-btn omc-btn--small", "React", type="submit"))
        self.custom.hidden = True
        self.wrap.append(self.el, self.custom)
        on(self.wrap, "keydown", self._on_keydown)
        on(self.el, "click", self._on_click)
        on(self.custom, "submit", self._on_custom)

    # -- opening and closing --------------------------------------------------------------
    def open(self, li, button, item, last: bool = False) -> None:
        """Open under message `item` (a MessageView), focusing its first (or last) item."""
        self.close(restore_focus=False)
        self.key, self.button = item.key, button
        self._fill(item)
        li.append(self.wrap)
        self.wrap.hidden = False
        button.setAttribute("aria-expanded", "true")
        items = self._items()
        self._focus(items, len(items) - 1 if last else 0)
        self.wrap.scrollIntoView(js.Object.fromEntries([["block", "nearest"]]))

    def close(self, restore_focus: bool = True) -> None:
        if self.key is None:
            return
        button, self.key, self.button = self.button, None, None
        self.wrap.hidden = True
        self.custom.hidden = True
        self.wrap.remove()
        if button is not None:
            button.setAttribute("aria-expanded", "false")
            if restore_focus and button.isConnected:
                button.focus()

    def reattach(self, li, button, item) -> None:
        """The message was re-rendered while open: put the menu back (or close it when the
        message no longer has actions), keeping the focused item focused."""
        if not item.actions:
            self.close(restore_focus=False)
            return
        focused = self._focused_index()
        custom = not self.custom.hidden
        self.button = button
        button.setAttribute("aria-expanded", "true")
        self._fill(item)
        self.custom.hidden = not custom
        li.append(self.wrap)
        if focused is not None:
            self._focus(self._items(), focused)

    def contains(self, node) -> bool:
        return bool(node) and bool(self.wrap.contains(node))

    # -- content ----------------------------------------------------------------------------
    def _fill(self, item) -> None:
        entries = []
        if REPLY in item.actions:
            entries.append(self._item("Reply", "reply"))
        if REACT in item.actions:
            row = h("div", "omc-menu-emoji", role="group", aria_label="React")
            row.append(*[self._item(emoji, "react", emoji, aria_label=f"React with {emoji}")
                         for emoji in DEFAULT_REACTIONS])
            entries += [row, self._item("Other emoji…", "react-other")]
        if EDIT in item.actions:
            entries.append(self._item("Edit", "edit"))
        if DELETE in item.actions:
            entries.append(self._item("Delete…", "delete", cls="omc-menu-item--danger"))
        self.custom.hidden = True
        self.el.replaceChildren(*entries)

    @staticmethod
    def _item(text: str, action: str, value: str = "", cls: str = "", **attrs):
        return h("button", f"omc-menu-item {cls}".strip(), text, type="button",
                 role="menuitem", tabindex="-1", data_menu=action, data_value=value, **attrs)

    def _items(self) -> list:
        return list(self.el.querySelectorAll("[role=menuitem]"))

    def _focused_index(self) -> int | None:
        active = js.document.activeElement
        for i, el in enumerate(self._items()):
            if el == active:
                return i
        return None

    def _focus(self, items: list, index: int) -> None:
        if not items:
            return
        index %= len(items)
        for i, el in enumerate(items):
            el.tabIndex = 0 if i == index else -1
        items[index].focus()

    # -- keys and choices ---------------------------------------------------------------------
    def _on_keydown(self, event) -> None:
        key = event.key
        if key == "Escape":
            event.preventDefault()
            event.stopPropagation()
            self.close()
            return
        if key == "Tab":
            self.close(restore_focus=False)
            return
        if event.target == self.custom_input:
            return  # typing an emoji: arrows move the caret
        items = self._items()
        current = self._focused_index()
        index = {"Home": 0, "End": len(items) - 1}.get(key)
        if key in NEXT_KEYS:
            index = 0 if current is None else current + 1
        elif key in PREVIOUS_KEYS:
            index = -1 if current is None else current - 1
        if index is not None:
            event.preventDefault()
            self._focus(items, index)

    def _on_click(self, event) -> None:
        target = event.target.closest("[data-menu]")
        if not target or self.key is None:
            return
        action, value, key = target.dataset.menu, target.dataset.value, self.key
        if action == "react-other":
            self.custom.hidden = False
            self.custom_input.value = ""
            self.custom_input.focus()
            return
        self.close(restore_focus=action not in ("reply", "edit", "delete"))
        self._choose(action, key, value)

    def _on_custom(self, event) -> None:
        event.preventDefault()
        value, key = self.custom_input.value.strip(), self.key
        if not value or key is None:
            return
        self.close()
        self._choose("react", key, value)
