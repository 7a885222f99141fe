"""The deployment's browser configuration: /config.json (pyapp.server.web.make_app serves it
from the `config` dict), located by the loader next to om-chat.js."""

from __future__ import annotations

import json


async def load_config() -> dict:
    import js

    loader = getattr(js.window, "omChat", None)
    url = str(loader.configURL) if loader is not None else "/config.json"
    init = js.Object.new()
    init.cache = "no-store"
    init.credentials = "omit"
    response = await js.fetch(url, init)
    if not response.ok:
        raise RuntimeError(f"{url}: HTTP {response.status}")
    return json.loads(await response.text())
