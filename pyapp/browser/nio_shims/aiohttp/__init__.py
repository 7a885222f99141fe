"""Stand-in for aiohttp in the browser (see pyapp/browser/nio_shims/README.md): the names
matrix-nio imports; nothing here opens a connection."""


class _Absent:
    """A class nio can name, subclass or use in isinstance(); creating one is an error."""

    _what = "aiohttp"

    def __init__(self, *args, **kwargs):
        raise RuntimeError(f"{self._what} is not available in the browser: requests go through "
                           "pyapp.client.transport (window.fetch)")


class ClientSession(_Absent):
    pass


class ClientTimeout(_Absent):
    pass


class TraceConfig(_Absent):
    pass


class ClientResponse(_Absent):
    pass


class ClientError(Exception):
    pass


class ContentTypeError(ClientError):
    pass


class ClientConnectionError(ClientError):
    """Never raised in the browser: the fetch transport raises TransportError/TimeoutError."""
