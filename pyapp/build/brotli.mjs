// Brotli for the build (python -m pyapp.build): Node's own zlib, so no new dependency.
// Usage: node brotli.mjs jobs.json   with jobs [{"input": path, "output": path}, ...]
// Quality 11 with a 16 MB window: the slowest setting, paid once per file content (the build
// caches the results by content hash); the smallest downloads.
import fs from "node:fs";
import zlib from "node:zlib";
import { promisify } from "node:util";

const compress = promisify(zlib.brotliCompress);
const jobs = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
await Promise.all(jobs.map(async ({ input, output }) => {
    const data = fs.readFileSync(input);
    const packed = await compress(data, {
        params: {
            [zlib.constants.BROTLI_PARAM_QUALITY]: 11,
            [zlib.constants.BROTLI_PARAM_LGWIN]: 24,
            [zlib.constants.BROTLI_PARAM_SIZE_HINT]: data.length,
        },
    });
    fs.writeFileSync(output, packed);
}));
