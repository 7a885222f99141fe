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
 * objects, not in the wasm memory), so the stored entry also carries site-packages' files. A
 * third of the memory is zero pages, left out (less to read back on every load):
 *   16-byte header: "OMS2", memory length, file index length, number of stored pages (uint32 LE)
 *   page numbers (uint32 each) | those 64 KiB pages of the memory snapshot (the last may be short)
 *   | file index (JSON [[path, offset, length], ...], length -1 = folder)
 *   | file contents (offsets relative to their start)
 *
 * Message in: {indexURL, modules, cacheName, key, wheels: [[path, bytes], ...]} (the page's wheel
 * files, on its sys.path in this order). Message out: {ok, bytes, ms, skipped} or
 * {ok: false, error}.
 */
self.onmessage = async (event) => {
    const { indexURL, modules, cacheName, key, wheels } = event.data;
    const t0 = performance.now();
    try {
        const { loadPyodide } = await import(indexURL + "pyodide.mjs");
        const pyodide = await loadPyodide({ indexURL, _makeSnapshot: true });
        // As the page did (om-chat.js, installWheels): the wheel files on sys.path, read by
        // zipimport. (loadPackage would also record the packages in a JS object the snapshot
        // format refuses: "Unexpected hiwire entry".)
        for (const [path, bytes] of wheels) pyodide.FS.writeFile(path, bytes, { canOwn: true });
        pyodide.runPython(`import sys\nsys.path.extend(${JSON.stringify(wheels.map(([path]) => path))})`);
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
        const files = packFolder(pyodide.FS, pyodide._api.sitepackages);
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

const PAGE = 65536;

function pack(memory, files) {
    const pages = [];
    const words = new Uint32Array(memory.buffer, memory.byteOffset, memory.length >>> 2);
    for (let start = 0; start < memory.length; start += PAGE) {
        const end = Math.min(start + PAGE, memory.length);
        let zero = true;
        for (let w = start >>> 2; w < end >>> 2; w++) if (words[w]) { zero = false; break; }
        for (let b = end & ~3; zero && b < end; b++) if (memory[b]) zero = false;
        if (!zero) pages.push(start / PAGE);
    }
    const stored = pages.reduce((n, p) => n + Math.min(PAGE, memory.length - p * PAGE), 0);
    const index = new TextEncoder().encode(JSON.stringify(files.index));
    const out = new Uint8Array(16 + 4 * pages.length + stored + index.length + files.size);
    const view = new DataView(out.buffer);
    out.set(new TextEncoder().encode("OMS2"), 0);
    view.setUint32(4, memory.length, true);
    view.setUint32(8, index.length, true);
    view.setUint32(12, pages.length, true);
    let at = 16;
    for (const p of pages) {
        view.setUint32(at, p, true);
        at += 4;
    }
    for (const p of pages) {
        const page = memory.subarray(p * PAGE, Math.min((p + 1) * PAGE, memory.length));
        out.set(page, at);
        at += page.length;
    }
    out.set(index, at);
    at += index.length;
    for (const chunk of files.chunks) {
        out.set(chunk, at);
        at += chunk.length;
    }
    return out;
}
