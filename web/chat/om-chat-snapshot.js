/*
 * Makes the memory snapshot that lets the next page load of this browser skip Python's start-up
 * (started by om-chat.js after a normal boot has mounted the chat; see "Memory snapshot" there).
 *
 * A module worker, so that the second Python it starts never competes with the page's main
 * thread, and because Pyodide's snapshot mode wraps the JS globals in proxies that record each
 * object's path (that is how the JS objects Python holds are found again after a restore):
 * harmless for imports, wrong for the page's DOM work. Here Python only installs our wheels and
 * imports the modules the page itself imported, then the whole wasm memory is stored in the
 * Cache API under the runtime's id. Nothing page-specific may be read at import time: a restore
 * brings back module state as it was here.
 *
 * The Python memory alone would find no files on a restore (Emscripten's file system lives in JS
 * objects, not in the wasm memory), so the stored entry also carries site-packages' files:
 *   16-byte header: "OMS1", memory length, file index length (all uint32, little-endian)
 *   the memory snapshot | file index (JSON [[path, offset, length], ...], length -1 = folder)
 *   | file contents (offsets relative to their start)
 *
 * Message in: {indexURL, modules, cacheName, key}. Message out: {ok, bytes, ms, skipped} or
 * {ok: false, error}.
 */
self.onmessage = async (event) => {
    const { indexURL, modules, cacheName, key } = event.data;
    const t0 = performance.now();
    try {
        const { loadPyodide } = await import(indexURL + "pyodide.mjs");
        const pyodide = await loadPyodide({ indexURL, _makeSnapshot: true });
        // loadPackage would record the installed packages in a JS object the snapshot format
        // refuses ("Unexpected hiwire entry"); unpacking the same wheels leaves no such record.
        const lock = await (await fetch(indexURL + "pyodide-lock.json")).json();
        const site = pyodide._api.sitepackages;
        await Promise.all(Object.values(lock.packages).map(async (p) => {
            const response = await fetch(new URL(p.file_name, indexURL));
            if (!response.ok) throw new Error(`${p.file_name}: HTTP ${response.status}`);
            pyodide.unpackArchive(await response.arrayBuffer(), "wheel", { extractDir: site });
        }));
        pyodide.globals.set("_om_modules", pyodide.toPy(modules));
        const skipped = pyodide.runPython(`
import importlib
_om_skipped = []
for _m in _om_modules:
    try:
        importlib.import_module(_m)
    except BaseException:  # a module that needs the page (DOM) is imported there, after restore
        _om_skipped.append(_m)
del _m, _om_modules
_om_skipped`).toJs();
        pyodide.runPython("del _om_skipped");
        const files = packFolder(pyodide.FS, site);
        const snapshot = pack(pyodide.makeMemorySnapshot(), files);
        const cache = await caches.open(cacheName);
        for (const old of await cache.keys()) if (old.url !== key) await cache.delete(old);
        await cache.put(key, new Response(snapshot, {
            headers: { "Content-Type": "application/octet-stream" },
        }));
        self.postMessage({ ok: true, bytes: snapshot.length, ms: performance.now() - t0, skipped });
    } catch (e) {
        self.postMessage({ ok: false, error: String((e && e.message) || e) });
    }
};

function packFolder(FS, root) {
    const index = [];
    const chunks = [];
    let size = 0;
    const walk = (dir) => {
        for (const name of FS.readdir(dir)) {
            if (name === "." || name === "..") continue;
            const path = `${dir}/${name}`;
            if (FS.isDir(FS.stat(path).mode)) {
                index.push([path, 0, -1]);
                walk(path);
            } else {
                const data = FS.readFile(path);
                index.push([path, size, data.length]);
                chunks.push(data);
                size += data.length;
            }
        }
    };
    walk(root);
    return { index, chunks, size };
}

function pack(memory, files) {
    const index = new TextEncoder().encode(JSON.stringify(files.index));
    const out = new Uint8Array(16 + memory.length + index.length + files.size);
    const header = new DataView(out.buffer);
    out.set(new TextEncoder().encode("OMS1"), 0);
    header.setUint32(4, memory.length, true);
    header.setUint32(8, index.length, true);
    out.set(memory, 16);
    out.set(index, 16 + memory.length);
    let at = 16 + memory.length + index.length;
    for (const chunk of files.chunks) {
        out.set(chunk, at);
        at += chunk.length;
    }
    return out;
}
