"""Matrix OAuth 2.0 login (the MAS flow): discovery, dynamic client registration, authorization
code with PKCE, refresh and revocation, plus the auth server launcher for the demo and tests.

pkce, metadata and flow are sans-IO (request builders, response parsers, the flow's state) and
run unchanged under CPython and Pyodide; client does the I/O through
pyapp.client.transport.Transport; browser holds the few browser-only seams (sessionStorage,
Web Locks, navigation). See docs/auth.md.
"""
