"""The chat client: session, sync and messaging on matrix-nio, free of browser APIs.

Everything here runs under CPython (tests, peers) and Pyodide (the browser) alike; the
browser-specific parts (fetch, localStorage) plug in through pyapp.client.transport.Transport
and pyapp.client.storage.Storage.
"""
