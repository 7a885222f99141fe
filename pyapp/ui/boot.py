"""The Python half of the <om-chat> loader (web/chat/om-chat.js).

om-chat.js starts Pyodide once per page and runs a script that awaits main(). main() imports the
chat libraries, hands the loader a small API (mount/unmount an element), then mounts every
<om-chat> element through pyapp.ui.mount. Progress and failures are reported to the loader,
which renders them in each element.

run_python (window.omChat.runPython) runs arbitrary Python with the signed-in user's session
for any script of the host page, so it is handed over only when the deployment's
/config.json says `"debug_run_python": true` (tests, debugging); otherwise it does not exist.
"""

from __future__ import annotations

import inspect
import sys
import time
import traceback

_namespace: dict = {}


async def _maybe_await(value):
    if inspect.isawaitable(value):
        return await value
    return value


async def run_python(code: str):
    """Evaluate `code` (top-level await allowed) in a namespace kept across calls; the value of
    the last expression comes back converted to JS (dicts as plain objects)."""
    import js
    from pyodide.code import eval_code_async
    from pyodide.ffi import to_js

    _namespace.setdefault("__name__", "__om_chat__")
    result = await eval_code_async(code, globals=_namespace)
    return to_js(result, dict_converter=js.Object.fromEntries)


async def mount(element) -> None:
    from pyapp.ui import mount as ui_mount
    await _maybe_await(ui_mount.mount(element))


async def unmount(element) -> None:
    from pyapp.ui import mount as ui_mount
    fn = getattr(ui_mount, "unmount", None)
    if fn is not None:
        await _maybe_await(fn(element))


async def sign_out() -> None:
    from pyapp.ui import mount as ui_mount
    await ui_mount.sign_out_pending()


async def _run_python_allowed() -> bool:
    from pyapp.ui.mount import load_config

    try:
        return (await load_config()).get("debug_run_python") is True
    except Exception:  # noqa: BLE001  (mounting reports an unreadable configuration)
        return False


async def main() -> None:
    import js
    from pyodide.ffi import create_proxy, to_js

    loader = js.window.omChat
    try:
        from pyapp.browser import dataclass_code, stdlib_rest, sync_store
        # Before nio: its ~200 dataclasses' methods come compiled. Not after a memory
        # snapshot's restore, which holds the imports already.
        compiled = "nio" not in sys.modules and dataclass_code.install()
        from pyapp.client.session import SESSION_KEY
        sync_store.open_early(SESSION_KEY)  # the sync's database opens while we import
        stdlib_rest.install(loader.staticBase + "pyodide/")
        loader._progress("libraries")
        t0 = time.perf_counter()
        import nio  # noqa: F401  (the bulk of the import time; measured and reported)
        from pyapp.ui import mount as ui_mount
        import_seconds = time.perf_counter() - t0
        if compiled:
            dataclass_code.uninstall()

        api = js.Object.new()
        # Proxies live as long as the page: the loader calls them for every later element.
        api.mount = create_proxy(mount)
        api.unmount = create_proxy(unmount)
        api.signOut = create_proxy(sign_out)
        if await _run_python_allowed():
            api.runPython = create_proxy(run_python)
        loader._pythonReady(api, to_js({"importSeconds": import_seconds},
                                       dict_converter=js.Object.fromEntries))

        from pyapp.ui import sanitize
        sanitize.install(await loader._sanitizer())  # loaded while Pyodide was

        loader._progress("connecting")
        loader._mountAllStarting()
        await _maybe_await(ui_mount.mount_all())
        loader._mounted()
    except BaseException as e:  # noqa: BLE001  (every failure must reach the page, not the console only)
        loader._failed(f"{type(e).__name__}: {e}", "".join(traceback.format_exception(e)))
        raise
