// Build-time helper: start Pyodide (the same version the browser gets) in Node and let it
// compile archives to CPython 3.14 bytecode with _pyc_compiler.py.
// Usage: node precompile.mjs <pyodide dir> <jobs.json>
//   jobs.json: [{"input": path, "output": path, "prefix": str, "keep_source": bool, "stored": bool,
//                "drop_dirs": [str]}]
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const [pyodideDir, jobsFile] = process.argv.slice(2);
const { loadPyodide } = await import(pathToFileURL(join(pyodideDir, "pyodide.mjs")).href);
const py = await loadPyodide({ indexURL: pyodideDir + "/" });
const here = dirname(fileURLToPath(import.meta.url));
const ns = py.globals.get("dict")();
py.runPython(readFileSync(join(here, "_pyc_compiler.py"), "utf8"), { globals: ns });
const compileArchive = ns.get("compile_archive");

for (const job of JSON.parse(readFileSync(jobsFile, "utf8"))) {
    const result = compileArchive(
        new Uint8Array(readFileSync(job.input)), job.prefix, job.keep_source, job.stored,
        py.toPy(job.drop_dirs || []),
    );
    writeFileSync(job.output, result.toJs());
    result.destroy();
}
