"""Stand-in for aiohttp-socks in the browser (see pyapp/browser/nio_shims/README.md)."""

from aiohttp import _Absent


class ProxyConnector(_Absent):
    _what = "aiohttp-socks"

    @classmethod
    def from_url(cls, url, **kwargs):
        return cls()
