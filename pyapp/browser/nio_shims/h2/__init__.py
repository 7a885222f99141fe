"""Stand-in for h2 in the browser (see pyapp/browser/nio_shims/README.md): nio's blocking
HttpClient uses it, the browser never does."""


def __getattr__(name):
    raise AttributeError(f"h2.{name}: h2 is not available in the browser (no sockets)")
