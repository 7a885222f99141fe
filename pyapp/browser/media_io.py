"""How media travels in the browser (pyapp.client.service.MediaIO): uploads with
XMLHttpRequest, whose upload progress fetch() does not report, and downloads fetched with the
Authorization header into blob: URLs the page shows (an <img> cannot send a header, and a
token must never be put in a URL). The file itself stays a browser Blob: it is never copied
into Python."""

from __future__ import annotations

import asyncio

from pyapp.client.service import MediaIO
from pyapp.client.transport import HttpResponse, TransportError

from .fetch_transport import FORBIDDEN_HEADERS, FetchTransport, _js_message


class BlobResponse(HttpResponse):
    """An answer whose body stays in the browser: `blob_url` shows it (revoke when done),
    `blob` is the Blob itself."""
    blob_url: str | None = None
    blob = None


class XhrUploadTransport:
    def __init__(self, on_progress):
        self.on_progress = on_progress

    async def request(self, method, url, headers, body=None, timeout=None) -> HttpResponse:
        import js
        from pyodide.ffi import create_proxy

        loop = asyncio.get_event_loop()
        done: asyncio.Future = loop.create_future()
        xhr = js.XMLHttpRequest.new()
        xhr.open(method.upper(), url)
        xhr.withCredentials = False  # Matrix authenticates with the header, never cookies
        for name, value in headers.items():
            if name.lower() not in FORBIDDEN_HEADERS:
                xhr.setRequestHeader(name, value)
        xhr.responseType = "arraybuffer"

        def progress(event):
            if event.lengthComputable:
                self.on_progress(int(event.loaded), int(event.total))

        def finished(event):
            if not done.done():
                done.set_result(event.type)

        proxies = [create_proxy(progress), create_proxy(finished)]
        xhr.upload.addEventListener("progress", proxies[0])
        for kind in ("load", "error", "abort", "timeout"):
            xhr.addEventListener(kind, proxies[1])
        try:
            xhr.send(body)
            outcome = await done
        except asyncio.CancelledError:
            xhr.abort()
            raise
        finally:
            xhr.upload.removeEventListener("progress", proxies[0])
            for kind in ("load", "error", "abort", "timeout"):
                xhr.removeEventListener(kind, proxies[1])
            for proxy in proxies:
                proxy.destroy()
        if outcome != "load":
            raise TransportError(f"{method} {url}: upload {outcome}")
        raw = xhr.response
        data = js.Uint8Array.new(raw).to_py().tobytes() if raw else b""
        headers_out = {}
        for line in str(xhr.getAllResponseHeaders()).split("\r\n"):
            name, sep, value = line.partition(":")
            if sep:
                headers_out[name.strip().lower()] = value.strip()
        return HttpResponse(int(xhr.status), headers_out, data, url)


class BlobDownloadTransport(FetchTransport):
    async def request(self, method, url, headers, body=None, timeout=None) -> HttpResponse:
        import js

        js_headers = js.Headers.new()
        for name, value in headers.items():
            js_headers.append(name, value)
        init = js.Object.new()
        init.method = method.upper()
        init.headers = js_headers
        init.credentials = self.credentials
        controller = js.AbortController.new()
        init.signal = controller.signal
        try:
            response = await js.fetch(url, init)
            status = int(response.status)
            if status != 200:  # an error's JSON is read as usual (M_UNKNOWN_TOKEN: refresh)
                data = (await response.arrayBuffer()).to_bytes()
                return HttpResponse(status, {}, data, url)
            blob = await response.blob()
        except asyncio.CancelledError:
            controller.abort()
            raise
        except Exception as e:  # JsException: network
            raise TransportError(f"{method} {url}: {_js_message(e)}") from None
        return _blob_answer(blob, url)


def _blob_answer(blob, url: str) -> BlobResponse:
    import js

    answer = BlobResponse(200, {"content-type": str(blob.type)}, b"", url)
    answer.blob = blob
    answer.blob_url = str(js.URL.createObjectURL(blob))
    return answer


class BrowserMediaIO(MediaIO):
    def __init__(self):
        super().__init__(FetchTransport())

    def upload_transport(self, on_progress):
        return XhrUploadTransport(on_progress)

    def download_transport(self):
        return BlobDownloadTransport()

    async def decrypted(self, response, decrypt, mimetype):
        """The encrypted download's Blob decrypted into a Blob of the file's own type (the
        ciphertext's blob: URL is let go at once)."""
        import js

        js.URL.revokeObjectURL(response.blob_url)
        clear = await decrypt(response.blob)
        parts = js.Array.new()
        parts.push(clear)
        options = js.Object.new()
        options.type = mimetype or "application/octet-stream"
        return _blob_answer(js.Blob.new(parts, options), response.url)
