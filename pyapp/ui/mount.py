"""Mounts chat components into <om-chat> elements (browser only; called by pyapp.browser.boot).

    <om-chat mode="sidebar|tab|dashboard" context="event|group|all" slug="..."></om-chat>

Optional attributes: `tenant` (defaults to the one in /config.json) and `expect-invite` (the host
page just made the user eligible, e.g. after Attend: show "Joining…" while the invite arrives).

Every component on the page shares one ChatService (one login, one sync loop, one room
cache), built on first use from /config.json with the browser's fetch transport and storage.
The stored session is restored before the first component renders, so a reload never flashes
the sign-in form.
"""

from __future__ import annotations

import asyncio
import json

from pyapp.client.service import ChatConfig, ChatService

from .viewmodel import ChatViewModel

CSS_PATH = "css/chat.css"  # relative to the site root, where /config.json is served

_boot: asyncio.Future | None = None
_views: dict[str, object] = {}
_next_id = 0
_online_proxy = None


def _config_url() -> str:
    import js

    loader = getattr(js.window, "omChat", None)
    url = getattr(loader, "configURL", None) if loader is not None else None
    return str(url) if url else str(js.URL.new("/config.json", js.location.href).href)


async def _load_config() -> dict:
    import js

    response = await js.fetch(_config_url())
    if not response.ok:
        raise RuntimeError(f"Could not load the chat configuration (HTTP {response.status})")
    return json.loads(await response.text())


def _make_service(config: dict) -> ChatService:
    from pyapp.browser.fetch_transport import FetchTransport
    from pyapp.browser.storage import LocalStorage

    chat_config = ChatConfig(
        homeserver=config["homeserver"],
        tenant=config.get("tenant"),
        bot_user_id=config.get("bot_user_id"),
        auth=config.get("auth", "password"),
    )
    return ChatService(chat_config, FetchTransport(), LocalStorage())


def _inject_stylesheet() -> None:
    import js

    href = str(js.URL.new(CSS_PATH, _config_url()).href)
    # JavaScript null arrives as pyodide's jsnull, which is falsy but not None.
    if js.document.querySelector(f'link[rel="stylesheet"][href="{href}"]'):
        return
    link = js.document.createElement("link")
    link.rel = "stylesheet"
    link.href = href
    js.document.head.appendChild(link)


def _watch_network(service: ChatService) -> None:
    global _online_proxy
    import js
    from pyodide.ffi import create_proxy

    # Back online: reconnect now rather than at the end of the current backoff wait.
    _online_proxy = create_proxy(lambda *_: service.retry_now())
    js.window.addEventListener("online", _online_proxy)


async def _start() -> ChatService:
    _inject_stylesheet()
    config = await _load_config()
    service = ChatService.shared(lambda: _make_service(config))
    try:
        await service.restore()
    except Exception:  # a broken stored session must not block the sign-in form
        import traceback

        traceback.print_exc()
    _watch_network(service)
    return service


async def shared_service() -> ChatService:
    global _boot
    if _boot is None:
        _boot = asyncio.ensure_future(_start())
    return await asyncio.shield(_boot)


async def mount(element) -> None:
    global _next_id
    from .view import ChatView

    if (element.getAttribute("data-om-id") or "") in _views:
        return
    service = await shared_service()
    vm = ChatViewModel(
        service,
        mode=element.getAttribute("mode") or "sidebar",
        context=element.getAttribute("context") or "all",
        slug=element.getAttribute("slug") or None,
        tenant=element.getAttribute("tenant") or None,
        expect_invite=element.hasAttribute("expect-invite"),
    )
    _next_id += 1
    key = f"c{_next_id}"
    element.setAttribute("data-om-id", key)
    _views[key] = ChatView(element, vm)


def unmount(element) -> None:
    view = _views.pop(element.getAttribute("data-om-id") or "", None)
    if view is not None:
        view.destroy()
        element.removeAttribute("data-om-id")


async def mount_all() -> None:
    import js

    elements = js.document.querySelectorAll("om-chat")
    for i in range(elements.length):
        await mount(elements.item(i))
