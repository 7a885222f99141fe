"""pyapp.client.transport.Transport on the browser's window.fetch."""

from __future__ import annotations

import asyncio

from pyapp.client.transport import HttpResponse, TransportError

# Request headers a page may not set: browsers refuse or silently drop them, some with an
# error that aborts the whole request.
FORBIDDEN_HEADERS = frozenset({
    "accept-charset", "accept-encoding", "access-control-request-headers",
    "access-control-request-method", "connection", "content-length", "cookie", "cookie2",
    "date", "dnt", "expect", "host", "keep-alive", "origin", "referer", "te", "trailer",
    "transfer-encoding", "upgrade", "via",
})


class FetchTransport:
    """Each request is one fetch(). A timeout, or cancelling the awaiting task (e.g. a stopped
    /sync long-poll), aborts the fetch through an AbortController so the browser really drops
    the connection instead of leaving it running in the background."""

    def __init__(self, credentials: str = "omit"):
        # Matrix authenticates with the Authorization header; cookies of the host page must
        # not travel to the homeserver.
        self.credentials = credentials

    async def request(self, method: str, url: str, headers: dict[str, str],
                      body: bytes | str | None = None, timeout: float | None = None) -> HttpResponse:
        import js
        from pyodide.ffi import create_once_callable, to_js

        js_headers = js.Headers.new()
        for name, value in headers.items():
            if name.lower() not in FORBIDDEN_HEADERS:
                js_headers.append(name, value)
        init = js.Object.new()
        init.method = method.upper()
        init.headers = js_headers
        init.credentials = self.credentials
        if body is not None:
            init.body = body if isinstance(body, str) else to_js(bytes(body))
        controller = js.AbortController.new()
        init.signal = controller.signal

        timed_out = False
        timer = None
        if timeout:
            def on_timeout():
                nonlocal timed_out
                timed_out = True
                controller.abort()

            timer = js.setTimeout(create_once_callable(on_timeout), int(timeout * 1000))
        try:
            response = await js.fetch(url, init)
            buffer = await response.arrayBuffer()
        except asyncio.CancelledError:
            controller.abort()
            raise
        except Exception as e:  # JsException: TypeError (network) or AbortError
            if timed_out:
                raise TimeoutError(f"{method} {url}: no answer within {timeout}s") from None
            raise TransportError(f"{method} {url}: {_js_message(e)}") from None
        finally:
            if timer is not None:
                js.clearTimeout(timer)
        return HttpResponse(
            status=int(response.status),
            headers={str(k).lower(): str(v) for k, v in response.headers.entries()},
            body=buffer.to_bytes(),
            url=str(response.url),
        )

    async def close(self) -> None:
        pass


def _js_message(error: Exception) -> str:
    js_error = getattr(error, "js_error", None)
    if js_error is not None:
        return f"{getattr(js_error, 'name', 'Error')}: {getattr(js_error, 'message', '')}"
    return str(error) or type(error).__name__
