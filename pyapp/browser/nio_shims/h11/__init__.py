"""Stand-in for h11 in the browser (see pyapp/browser/nio_shims/README.md): nio's blocking
HttpClient uses it, the browser never does."""


def __getattr__(name):
    raise AttributeError(f"h11.{name}: h11 is not available in the browser (no sockets)")
