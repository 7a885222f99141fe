"""Browser seams: the only modules that touch `js`/`pyodide`, always imported lazily (inside
functions) so the rest of pyapp stays importable and testable under CPython.

- fetch_transport.FetchTransport: the HTTP transport on window.fetch.
- storage.LocalStorage: key/value storage on window.localStorage.
- crypto_compat/: not part of this package; built into its own wheel (see its README).
"""
