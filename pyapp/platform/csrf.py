"""Which state-changing requests the platform API refuses as cross-site request forgery.

A browser attaches the session cookie to requests other sites make it send. SameSite keeps
the cookie off requests from other *sites*, but every origin of the same site (another port,
a sibling subdomain) still gets it attached. So a change is accepted only when the browser
says it comes from the platform's own origin:
- ``Origin`` (sent by browsers on every POST/PUT/PATCH/DELETE) must be one of ours;
- without it, ``Sec-Fetch-Site`` must say same-origin (or ``none``: typed by the user);
- a body must be declared JSON: an HTML form can only send text/plain, urlencoded or
  multipart, and a cross-origin fetch that declares JSON needs a CORS preflight we never grant.
A request carrying neither header is not from a browser (every current browser sends Origin
on these methods), so it cannot carry a victim's cookie.
"""

from __future__ import annotations

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def own_origins(scheme: str, host: str, extra: tuple[str, ...] = ()) -> frozenset[str]:
    """The origins the platform's pages are served from. The https form of our own host is
    always ours, so a TLS-terminating proxy in front works without further configuration."""
    host = host.lower()
    return frozenset({f"{scheme.lower()}://{host}", f"https://{host}",
                      *(o.rstrip("/").lower() for o in extra)})


def refusal(method: str, origin: str | None, fetch_site: str | None, content_type: str | None,
            allowed: frozenset[str], has_body: bool = True) -> str | None:
    """Why this request must be refused, or None to accept it."""
    if method.upper() in SAFE_METHODS:
        return None
    if origin is not None:
        if origin.rstrip("/").lower() not in allowed:
            return f"requests from {origin} may not change anything here"
    elif fetch_site is not None and fetch_site.lower() not in ("same-origin", "none"):
        return f"a {fetch_site} request may not change anything here"
    if has_body and content_type is not None:
        media = content_type.split(";", 1)[0].strip().lower()
        if media != "application/json":
            return f"send changes as application/json, not {media or 'an empty type'}"
    return None
