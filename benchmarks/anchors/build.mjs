// Bundles the comparison pages of benchmarks/compare.py into the folder given as argument
// (run by the benchmark; node benchmarks/anchors/build.mjs OUT). Pinned inputs only:
// matrix-js-sdk, hydrogen-view-sdk and esbuild from package.json's devDependencies.
import * as esbuild from "esbuild";
import { cpSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const modules = join(here, "..", "..", "node_modules");
const out = process.argv[2];
if (!out) throw new Error("usage: node build.mjs OUT");
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

// A module replaced by an empty one: code paths the pages never take.
const stub = (filter, contents) => ({
    name: `stub ${filter}`,
    setup(build) {
        build.onResolve({ filter }, (args) => ({ path: args.path, namespace: "stub" }));
        build.onLoad({ filter: /.*/, namespace: "stub" }, () => ({ contents, loader: "js" }));
    },
});

const common = {
    bundle: true, format: "iife", platform: "browser", target: ["chrome120"], minify: true,
    legalComments: "none", logLevel: "warning", nodePaths: [modules],
    define: { "process.env.NODE_ENV": '"production"', global: "globalThis" },
};

// js-sdk loads its Rust crypto (wasm) only from initRustCrypto(), which the page never calls.
await esbuild.build({
    ...common, entryPoints: [join(here, "jssdk.js")], outfile: join(out, "jssdk.js"),
    plugins: [stub(/rust-crypto\/index(\.ts|\.js)?$/, "export async function initRustCrypto() { throw new Error('no crypto'); }")],
});
// Hydrogen imports olm's emscripten glue, which require()s these only when run in Node.
await esbuild.build({
    ...common, entryPoints: [join(here, "hydrogen.js")], outfile: join(out, "hydrogen.js"),
    plugins: [stub(/^(crypto|path|fs)$/, "module.exports = {};")],
    loader: { ".woff": "file", ".woff2": "file", ".svg": "file" }, assetNames: "assets/[name]-[hash]",
});
for (const page of ["jssdk.html", "hydrogen.html"]) cpSync(join(here, page), join(out, page));
const sdk = join(modules, "hydrogen-view-sdk");
cpSync(join(sdk, "lib-build", "sw.js"), join(out, "sw.js"));
cpSync(join(sdk, "asset-build", "assets", "download-sandbox.html"), join(out, "download-sandbox.html"));
