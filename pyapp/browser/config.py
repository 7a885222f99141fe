"""The deployment's browser configuration: /config.json (pyapp.server.web.make_app serves it
from the `config` dict), located by the loader next to om-chat.js. Fetched once per page: the
boot (pyapp.browser.boot) and the chat (pyapp.ui.mount) share it."""

from __future__ import annotations

import json

_loaded: dict | None = None


async def load_config() -> dict:
    global _loaded
    if _loaded is None:
        import js

        loader = getattr(js.window, "omChat", None)
        url = str(loader.configURL) if loader is not None else "/config.json"
        init = js.Object.new()
        init.cache = "no-store"
        init.credentials = "omit"
        response = await js.fetch(url, init)
        if not response.ok:
            raise RuntimeError(f"Could not load the chat configuration (HTTP {response.status})")
        _loaded = json.loads(await response.text())
    return dict(_loaded)
