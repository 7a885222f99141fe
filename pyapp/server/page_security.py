"""Security headers of the demo's pages (pure: pyapp.server.web sets them on every response).

The Content-Security-Policy lets the pages run only scripts from their own origin (no inline
script, no eval) plus WebAssembly compilation, which Pyodide needs ('wasm-unsafe-eval'). Measured
in Chromium 156: Pyodide (npm 314.0.7), its package loading and matrix-nio need nothing more;
PyScript's loader compiles its hooks with Function() and would need 'unsafe-eval', which is why
web/chat/om-chat.js starts Pyodide itself. The page may talk to its own origin,
the homeserver and whatever else the deployment names (its auth server). Framing is refused
unless the deployment allows it, so no other site can overlay Attend or Send (clickjacking).
Pages that carry one-time codes in their URL (/oauth/) send no referrer at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

NO_REFERRER_PREFIXES = ("/oauth/",)


@dataclass(frozen=True)
class PageSecurity:
    # CSP frame-ancestors source list: "'none'" (nobody may frame the pages), "'self'", or
    # "'self' https://portal.example" for a deployment that embeds them.
    frame_ancestors: str = "'none'"
    # Origins besides the page's and the homeserver's that the pages may fetch from (the auth
    # server's token endpoint).
    connect_origins: tuple[str, ...] = ()


def origin_of(url: str) -> str | None:
    """scheme://host[:port] of an absolute http(s) URL, else None."""
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def content_security_policy(homeserver: str | None, security: PageSecurity) -> str:
    remote = [o for o in (origin_of(homeserver or ""), *map(origin_of, security.connect_origins))
              if o]
    connect = " ".join(dict.fromkeys(["'self'", *remote]))
    homeserver_origin = origin_of(homeserver or "")
    images = " ".join(dict.fromkeys(["'self'", "data:", "blob:",
                                     *([homeserver_origin] if homeserver_origin else [])]))
    return "; ".join([
        "default-src 'self'",
        "script-src 'self' 'wasm-unsafe-eval'",
        "style-src 'self'",
        f"img-src {images}",
        # video and audio play from the blob: URLs their authenticated downloads become
        "media-src 'self' blob:",
        f"connect-src {connect}",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        f"frame-ancestors {security.frame_ancestors}",
    ])


def frame_options(frame_ancestors: str) -> str | None:
    """X-Frame-Options for browsers without frame-ancestors; None when it cannot express the
    policy (frame-ancestors alone then governs)."""
    value = frame_ancestors.strip()
    if value == "'none'":
        return "DENY"
    if value == "'self'":
        return "SAMEORIGIN"
    return None


def security_headers(path: str, homeserver: str | None, security: PageSecurity) -> dict[str, str]:
    headers = {
        "Content-Security-Policy": content_security_policy(homeserver, security),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer" if path.startswith(NO_REFERRER_PREFIXES)
        else "same-origin",
    }
    xfo = frame_options(security.frame_ancestors)
    if xfo:
        headers["X-Frame-Options"] = xfo
    return headers
