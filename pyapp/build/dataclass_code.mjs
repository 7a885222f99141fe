// Build-time helper: start Pyodide (the same version the browser gets) in Node with the built
// wheels on sys.path, import what a page imports at start, and write the methods @dataclass
// compiled meanwhile (pyapp.browser.dataclass_code.record) to <out>.
// Usage: node dataclass_code.mjs <pyodide dir> <out> <wheel>...
import { readFileSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { pathToFileURL } from "node:url";

const [pyodideDir, out, ...wheels] = process.argv.slice(2);
const { loadPyodide } = await import(pathToFileURL(join(pyodideDir, "pyodide.mjs")).href);
const py = await loadPyodide({ indexURL: pyodideDir + "/" });
const site = py._api.sitepackages;
const paths = wheels.map((w) => {
    const path = `${site}/${basename(w)}`;
    py.FS.writeFile(path, new Uint8Array(readFileSync(w)));
    return path;
});
py.runPython(`import sys\nsys.path.extend(${JSON.stringify(paths)})`);
const data = py.runPython(`
from pyapp.browser import dataclass_code

def start():  # what pyapp.ui.boot imports before the chat mounts
    import nio  # noqa: F401
    from pyapp.ui import mount  # noqa: F401

dataclass_code.record(start)
`);
writeFileSync(out, data.toJs());
data.destroy();
