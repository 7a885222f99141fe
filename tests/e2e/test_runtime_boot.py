"""The browser runtime in real Chromium: the embed loader boots Python once from this origin only,
matrix-nio imports, the Crypto compatibility layer computes the right values (AES through
WebCrypto), and the fetch transport reaches the real Synapse."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from pyapp.server.web import make_app
from tests.support.waiting import page_until
from tests.e2e.conftest import WEB_ROOT

pytestmark = pytest.mark.e2e

EXAMPLE = "/chat/embed-example.html"
BOOT_TIMEOUT_MS = 60_000
PYTHON_READY = "['python-ready', 'mounted'].includes(window.omChat.state)"


@pytest.fixture(scope="module")
def runtime_server(built_static, serve_app, synapse) -> str:
    """The real app plus one route that never answers in time (for the timeout test)."""
    app = make_app(WEB_ROOT, built_static, {"homeserver": synapse.base_url,
                                            "debug_run_python": True})

    async def slow(request):
        await asyncio.sleep(30)
        return web.Response(text="late")

    app.router.add_get("/_test/slow", slow)
    return serve_app(app)


@pytest.fixture(scope="module")
def booted(browser, runtime_server):
    """One page with Python booted, shared by the tests that only run Python in it (booting
    takes seconds). Requests are checked like new_page does."""
    from tests.e2e.conftest import is_local

    context = browser.new_context()
    page = context.new_page()
    requests: list[str] = []
    context.on("request", lambda r: requests.append(r.url))
    page.goto(runtime_server + EXAMPLE)
    page_until(page, PYTHON_READY, timeout_ms=BOOT_TIMEOUT_MS)
    yield page
    context.close()
    outside = [u for u in requests if not is_local(u)]
    assert not outside, f"the browser made requests outside this machine: {outside}"


def run(page, code: str):
    return page.evaluate("code => window.omChat.runPython(code)", code)


# Watches from the first byte of the page, so a fast boot cannot hide the progress from the
# test: records what the boot area showed and adds a second element while Python is loading.
WATCH_BOOT = """
window.__bootSeen = null;
new MutationObserver((_, observer) => {
  const active = document.querySelector('om-chat .om-boot .om-boot__step.is-active');
  if (!active || window.__bootSeen) return;
  window.__bootSeen = {
    steps: document.querySelectorAll('om-chat .om-boot__step').length,
    state: window.omChat && window.omChat.state,
  };
  document.body.appendChild(document.createElement('om-chat'));
  observer.disconnect();
}).observe(document, {childList: true, subtree: true, attributes: true});
"""


def test_boot_progress_shows_before_python_then_chat_mounts_once_for_all_elements(
        runtime_server, new_page):
    page = new_page()
    page.add_init_script(WATCH_BOOT)
    page.goto(runtime_server + EXAMPLE, wait_until="domcontentloaded")
    page_until(page, "window.omChat.state === 'mounted'", timeout_ms=BOOT_TIMEOUT_MS)
    # Steps were on screen while Python was still loading: never a blank area.
    seen = page.evaluate("window.__bootSeen")
    assert seen is not None, "the boot progress never showed"
    assert seen["steps"] == 4
    assert seen["state"] in ("booting", "python-ready")
    # The second element, added before Python was ready, mounts too.
    assert page.locator("om-chat").count() == 2
    page_until(page, "[...document.querySelectorAll('om-chat')]"
                     ".every(e => e.dataset.omState === 'mounted')")
    # One more after the chat is up (as after an Attend click).
    page.evaluate("""() => { const e = document.createElement('om-chat');
                             e.id = 'late'; document.body.appendChild(e); }""")
    page_until(page, "document.getElementById('late').dataset.omState === 'mounted'")
    assert page.locator("om-chat .om-boot").count() == 0

    # The page's own fetches (the snapshot worker started after mounting boots its own).
    wasm = page.evaluate("performance.getEntriesByType('resource').map(e => e.name)"
                         ".filter(u => u.endsWith('pyodide.asm.wasm'))")
    assert len(wasm) == 1, "Python must boot once per page"
    assert all(u.startswith(runtime_server) for u in page.requests
               if not u.startswith(("data:", "blob:")))
    timings = page.evaluate("window.omChat.timings")
    assert timings["pythonReady"] > timings["bootStart"]


def test_matrix_nio_imports_with_the_crypto_compat_layer_in_place_of_pycryptodome(booted):
    result = run(booted, """
import importlib.metadata, sys, nio, Crypto
from nio.crypto import attachments
{"nio": importlib.metadata.version("matrix-nio"),
 "crypto_dist": importlib.metadata.packages_distributions()["Crypto"],
 "python": sys.version.split()[0],
 "client": nio.AsyncClient.__name__}
""")
    assert result == {"nio": "0.26.0", "crypto_dist": ["pyapp-crypto-compat"],
                      "python": "3.14.2", "client": "AsyncClient"}


def test_wheels_download_while_python_starts_and_are_imported_unpacked(booted):
    # Fetched from the boot's start beside Pyodide's files, not after Python is up...
    started = booted.evaluate("""performance.getEntriesByType('resource')
        .filter(e => e.name.endsWith('.whl')).map(e => e.startTime)""")
    lock = booted.evaluate(
        "fetch(window.omChat.staticBase + 'pyodide/pyodide-lock.json').then(r => r.json())")
    assert len(started) == len(lock["packages"])  # every wheel of the lock, once
    assert max(started) < booted.evaluate("window.omChat.timings.runtimeReady")
    # ...and read where they are (zipimport), nothing unpacked: code and metadata come from
    # the archives.
    found = run(booted, """
import importlib.metadata, os, nio, markdown_it
site = os.path.dirname(os.path.dirname(nio.__file__))
[nio.__file__, importlib.metadata.version("matrix-nio"), sorted(os.listdir(os.path.dirname(site)))]
""")
    assert ".whl/nio/" in found[0]
    assert found[1] == "0.26.0"
    assert all(name.endswith(".whl") for name in found[2])


def test_the_methods_dataclasses_write_at_start_come_compiled_from_the_build(booted):
    # pyapp.browser.dataclass_code: nio's and the chat's ~250 dataclasses, none compiled here
    assert run(booted, "from pyapp.browser import dataclass_code\ndataclass_code.hits") > 200


def test_nio_checks_its_schemas_with_compiled_code_and_gets_jsonschemas_names_only(booted):
    # pyapp.client.nio_validators: no jsonschema interpreter (nor attrs, pyrsistent) is shipped
    result = run(booted, """
import sys, importlib.metadata, jsonschema
from nio.schemas import Schemas, validate_json
out = {"dist": importlib.metadata.packages_distributions()["jsonschema"],
       "loaded": sorted(m for m in ("attr", "pyrsistent") if m in sys.modules)}
try:
    validate_json({"next_batch": 5}, Schemas.sync)
except jsonschema.ValidationError as e:
    out["refused"] = e.message
try:
    validate_json({}, {"type": "object", "required": ["a"]})
except RuntimeError as e:
    out["other"] = str(e)
out
""")
    assert result["dist"] == ["pyapp-nio-shims"]
    assert result["loaded"] == []
    assert "5" in result["refused"] or "next_batch" in result["refused"]
    assert "not available in the browser" in result["other"]


def test_nio_gets_names_only_for_the_transports_the_browser_never_runs(booted):
    # pyapp/browser/nio_shims: aiohttp & co. are not downloaded; using one says why it fails
    result = run(booted, """
import sys, importlib.metadata, nio, aiohttp, aiofiles
out = {"dist": importlib.metadata.packages_distributions()["aiohttp"],
       "loaded": sorted(m for m in ("yarl", "multidict", "frozenlist", "idna", "hpack",
                                    "python_socks", "aiohappyeyeballs") if m in sys.modules)}
for name, use in (("session", aiohttp.ClientSession), ("file", lambda: aiofiles.open("x"))):
    try:
        use()
    except RuntimeError as e:
        out[name] = str(e)
out
""")
    assert result["dist"] == ["pyapp-nio-shims"]
    assert result["loaded"] == []
    assert "not available in the browser" in result["session"]
    assert "not available in the browser" in result["file"]


def test_browser_stdlib_has_what_code_may_import_and_not_the_tools_left_out(booted):
    # pyapp.build.stdlib_trim: fewer bytes on a first visit, nothing a page can run is missing
    result = run(booted, """
import importlib.util
{"missing": [m for m in ("email.utils", "http.cookies", "http.client", "logging.handlers",
                         "concurrent.futures.thread", "tarfile", "xml.etree.ElementTree",
                         "argparse", "sqlite3", "code", "rlcompleter")
             if importlib.util.find_spec(m) is None],
 "shipped": [m for m in ("unittest", "multiprocessing", "pdb", "_pyrepl", "pydoc", "http.server")
             if importlib.util.find_spec(m) is not None]}
""")
    assert result == {"missing": [], "shipped": []}


def test_the_rest_of_the_stdlib_is_fetched_once_on_first_use_never_at_boot(
        runtime_server, new_page):
    # pyapp.build.stdlib_trim.split + pyapp.browser.stdlib_rest
    page = new_page()
    page.goto(runtime_server + EXAMPLE)
    page_until(page, PYTHON_READY, timeout_ms=BOOT_TIMEOUT_MS)
    rest = lambda: [u for u in page.requests if u.endswith("/python_stdlib_rest.zip")]
    assert rest() == []
    result = run(page, """
import difflib, email.mime.text, xml.etree.ElementTree as ET
out = {"diff": list(difflib.ndiff(["a"], ["b"]))[:2],
       "mime": email.mime.text.MIMEText("hi").get_content_type(),
       "xml": ET.fromstring("<a><b/></a>")[0].tag}
try:
    import no_such_module_anywhere
except ModuleNotFoundError as e:
    out["missing"] = e.name
out
""")
    assert result == {"diff": ["- a", "+ b"], "mime": "text/plain", "xml": "b",
                      "missing": "no_such_module_anywhere"}
    assert len(rest()) == 1


def test_hashes_hmac_and_pbkdf2_match_published_test_vectors(booted):
    result = run(booted, """
from Crypto.Hash import SHA256, SHA512, HMAC
from Crypto.Protocol.KDF import PBKDF2
{
  "sha256": SHA256.new(b"abc").hexdigest(),
  "sha512": SHA512.new(b"abc").hexdigest()[:32],
  # RFC 4231, test case 2
  "hmac": HMAC.new(b"Jefe", b"what do ya want for nothing?", SHA256).hexdigest(),
  # RFC 7914 section 11 (PBKDF2-HMAC-SHA256)
  "pbkdf2": PBKDF2("passwd", b"salt", 64, 1, hmac_hash_module=SHA256).hex(),
  # nio's key export passes an HMAC-SHA512 prf instead
  "pbkdf2_prf": PBKDF2("pw", b"salt", 64, 50,
                       prf=lambda p, s: HMAC.new(p, s, SHA512).digest()).hex(),
  "pbkdf2_module": PBKDF2("pw", b"salt", 64, 50, hmac_hash_module=SHA512).hex(),
}
""")
    assert result["sha256"] == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert result["sha512"] == "ddaf35a193617abacc417349ae204131"
    assert result["hmac"] == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    assert result["pbkdf2"] == (
        "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
        "49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783")
    assert result["pbkdf2_prf"] == result["pbkdf2_module"]


def test_aes_ctr_through_webcrypto_matches_nist_vector_and_streams_across_chunks(booted):
    result = run(booted, """
from Crypto.Cipher import AES
from Crypto.Util import Counter
key = bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c")
iv = bytes.fromhex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff")
plain = bytes.fromhex(
    "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
    "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710")

def cipher():
    ctr = Counter.new(64, prefix=iv[:8], initial_value=int.from_bytes(iv[8:], "big"))
    return AES.new(key, AES.MODE_CTR, counter=ctr)

whole = cipher().encrypt(plain)
c = cipher()
pieces = c.encrypt(plain[:5]) + c.encrypt(plain[5:22]) + c.encrypt(plain[22:])
{"whole": whole.hex(), "pieces": pieces.hex(), "back": cipher().decrypt(whole) == plain}
""")
    # NIST SP 800-38A, F.5.1 CTR-AES128.Encrypt
    assert result["whole"] == (
        "874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff"
        "5ae4df3edbd5d35e5b4f09020db03eab1e031dda2fbe03d1792170a0f3009cee")
    assert result["pieces"] == result["whole"]
    assert result["back"] is True


def test_nio_encrypts_and_decrypts_an_attachment_in_the_browser(booted):
    result = run(booted, """
from nio.crypto.attachments import encrypt_attachment, decrypt_attachment
data = bytes(range(256)) * 40 + b"tail"
cipher, keys = encrypt_attachment(data)
plain = decrypt_attachment(cipher, keys["key"]["k"], keys["hashes"]["sha256"], keys["iv"])
{"same": plain == data, "changed": cipher != data, "alg": keys["key"]["alg"]}
""")
    assert result == {"same": True, "changed": True, "alg": "A256CTR"}


def test_fetch_transport_gets_versions_from_synapse(booted, synapse):
    result = run(booted, f"""
from pyapp.browser.fetch_transport import FetchTransport
r = await FetchTransport().request("GET", "{synapse.base_url}/_matrix/client/versions",
                                   {{"Accept": "application/json", "Host": "ignored"}}, None, 10)
{{"status": r.status, "type": r.content_type, "versions": r.json()["versions"]}}
""")
    assert result["status"] == 200
    assert result["type"] == "application/json"
    assert "v1.1" in result["versions"]


def test_fetch_transport_posts_a_body_and_reads_the_error_answer(booted, synapse):
    result = run(booted, f"""
import json
from pyapp.browser.fetch_transport import FetchTransport
body = json.dumps({{"type": "m.login.password", "identifier": {{"type": "m.id.user", "user": "nobody"}},
                    "password": "wrong"}})
r = await FetchTransport().request("POST", "{synapse.base_url}/_matrix/client/v3/login",
                                   {{"Content-Type": "application/json", "Content-Length": "1"}},
                                   body.encode(), 10)
{{"status": r.status, "errcode": r.json()["errcode"]}}
""")
    assert result == {"status": 403, "errcode": "M_FORBIDDEN"}


def test_fetch_transport_raises_timeout_and_transport_errors(booted, runtime_server):
    from pyapp.server.synapse import free_port

    closed = f"http://127.0.0.1:{free_port()}/"
    result = run(booted, f"""
from pyapp.browser.fetch_transport import FetchTransport
from pyapp.client.transport import TransportError
t = FetchTransport()
out = {{}}
try:
    await t.request("GET", "{runtime_server}/_test/slow", {{}}, None, 0.3)
except TimeoutError:
    out["slow"] = "timeout"
try:
    await t.request("GET", "{closed}", {{}}, None, 5)
except TransportError:
    out["closed"] = "transport-error"
out
""")
    assert result == {"slow": "timeout", "closed": "transport-error"}


def test_browser_reads_the_deployment_config(booted, synapse):
    result = run(booted, """
from pyapp.ui.mount import load_config
await load_config()
""")
    assert result == {"homeserver": synapse.base_url, "debug_run_python": True}


def test_local_storage_round_trip_survives_reload(browser, runtime_server):
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(runtime_server + EXAMPLE)
        page_until(page, PYTHON_READY, timeout_ms=BOOT_TIMEOUT_MS)
        run(page, """
from pyapp.browser.storage import LocalStorage
s = LocalStorage(prefix="t:")
s.set("a", "1"); s.set("b", "two"); s.remove("a")
""")
        page.reload()
        page_until(page, PYTHON_READY, timeout_ms=BOOT_TIMEOUT_MS)
        result = run(page, """
from pyapp.browser.storage import LocalStorage
s = LocalStorage(prefix="t:")
{"a": s.get("a"), "b": s.get("b"), "keys": s.keys(), "persistent": s.persistent}
""")
        assert result == {"a": None, "b": "two", "keys": ["b"], "persistent": True}
    finally:
        context.close()


def test_boot_failure_shows_the_error_and_a_retry_button_in_every_element(
        tmp_path, serve_app, new_page):
    broken = tmp_path / "static"
    broken.mkdir()  # Pyodide itself is missing
    base = serve_app(make_app(WEB_ROOT, broken, {}))
    page = new_page()
    page.goto(base + EXAMPLE, wait_until="domcontentloaded")
    page.evaluate("document.body.appendChild(document.createElement('om-chat'))")
    page_until(page, "window.omChat.state === 'failed'", timeout_ms=BOOT_TIMEOUT_MS)
    page_until(page, "[...document.querySelectorAll('om-chat')]"
                     ".every(e => e.dataset.omState === 'failed')")
    assert page.locator("om-chat [role=alert]").count() == 2
    assert page.locator("om-chat button.om-boot__retry").count() == 2
    assert "pyodide" in page.locator("om-chat .om-boot__message").first.inner_text().lower()


# -- memory snapshot (web/chat/om-chat.js, web/chat/om-chat-snapshot.js) -------------------------

SNAPSHOT_SETTLED = "['stored', 'failed', 'unavailable'].includes(window.omChat.snapshot)"
SNAPSHOT_KEYS = """async () => (await (await caches.open('om-chat-python-snapshot')).keys())
                   .map(r => r.url)"""


def _signed_in_with_a_snapshot(page, synapse, make_user, web_server, slug):
    from tests.e2e.chat_ui_support import expect_message, make_room, open_and_sign_in, send

    name, password, user = make_user("snap")
    room_id = make_room(synapse, user["access_token"], "event", slug, [])
    open_and_sign_in(page, f"{web_server}/event.html?slug={slug}", name, password)
    send(page, "said before the reload")
    expect_message(page, "said before the reload")
    assert page.evaluate("window.omChat.bootMode") == "normal"
    # A worker makes the snapshot after the chat is up; the first visit itself is unchanged.
    page_until(page, SNAPSHOT_SETTLED, timeout_ms=BOOT_TIMEOUT_MS)
    assert page.evaluate("window.omChat.snapshot") == "stored"
    # ...and only once the chat has shown its rooms (here: after the sign-in's first sync),
    # so that its second Python never competes with the first sync and render.
    synced, worker_started = page.evaluate("""[window.omChat.timings.synced,
        performance.getEntriesByType('resource')
            .find(e => e.name.includes('om-chat-snapshot.js')).startTime]""")
    assert synced is not None and worker_started > synced
    return room_id, user


def _chat_works_after_reload(page, synapse, room_id, user, text):
    from playwright.sync_api import expect
    from tests.e2e.chat_ui_support import (LIVE_TIMEOUT_MS, chat, expect_message, expect_ready,
                                           send, stored_messages)

    expect_ready(page)
    expect_message(page, "said before the reload")
    send(page, text)
    expect(chat(page).locator(".omc-msg.is-mine[data-status=sent]", has_text=text)
           ).to_have_count(1, timeout=LIVE_TIMEOUT_MS)
    assert stored_messages(synapse, room_id, user["access_token"])[-1] == text


def test_a_reload_restores_python_from_the_snapshot_and_the_chat_works(
        synapse, make_user, web_server, new_page):
    page = new_page()
    room_id, user = _signed_in_with_a_snapshot(page, synapse, make_user, web_server, "snap-reload")
    page.reload()
    page_until(page, "window.omChat.state === 'mounted'", timeout_ms=BOOT_TIMEOUT_MS)
    assert page.evaluate("[window.omChat.bootMode, window.omChat.snapshot]") == [
        "snapshot", "restored"]
    # No wheel was fetched to boot: Python's modules came back from the snapshot.
    assert page.evaluate("performance.getEntriesByType('resource')"
                         ".filter(e => e.name.endsWith('.whl')).length") == 0
    _chat_works_after_reload(page, synapse, room_id, user, "said after a snapshot boot")


def test_a_corrupt_or_stale_snapshot_falls_back_to_a_normal_boot_and_is_replaced(
        synapse, make_user, web_server, new_page):
    page = new_page()
    room_id, user = _signed_in_with_a_snapshot(page, synapse, make_user, web_server, "snap-bad")
    [key] = page.evaluate(SNAPSHOT_KEYS)
    stale = key.rsplit("-", 1)[0] + "-0123456789abcdef0123456789abcdef"
    page.evaluate("""async ([key, stale]) => {
        const cache = await caches.open('om-chat-python-snapshot');
        const good = await (await cache.match(key)).arrayBuffer();
        await cache.put(stale, new Response(good));          // as left by an older build
        const bad = new Uint8Array(good.slice(0, 1 << 20));   // header intact, memory cut short
        for (let i = 64; i < bad.length; i += 7) bad[i] ^= 0x5a;
        await cache.put(key, new Response(bad));
    }""", [key, stale])
    page.reload()
    page_until(page, "window.omChat.state === 'mounted'", timeout_ms=BOOT_TIMEOUT_MS)
    assert page.evaluate("window.omChat.bootMode") == "normal"
    assert page.evaluate("window.omChat.snapshotError")  # tried, refused, then a normal boot
    _chat_works_after_reload(page, synapse, room_id, user, "said after a fallback boot")
    # The bad snapshot was dropped and a good one made in its place; the stale one is gone.
    page_until(page, SNAPSHOT_SETTLED, timeout_ms=BOOT_TIMEOUT_MS)
    assert page.evaluate("window.omChat.snapshot") == "stored"
    assert page.evaluate(SNAPSHOT_KEYS) == [key]
