"""The web app's guards, one middleware:

- the Host header must name this machine when bound to loopback (a DNS-rebinding page cannot talk to it);
- a token, when one is set (always when bound beyond loopback): ``?token=`` once sets an HttpOnly,
  SameSite=Strict cookie, or ``Authorization: Bearer``;
- state-changing requests need the page's CSRF token in ``X-Sleuth-CSRF`` (a cross-site form cannot send
  a custom header) and, when the browser says where they come from, the same origin;
- every response forbids inline script, framing and content sniffing (CSP), so text that slipped through
  as markup still could not run.
"""

from __future__ import annotations

import hmac
import ipaddress
from urllib.parse import urlencode, urlsplit

from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

TOKEN_COOKIE = "sleuth_token"
CSRF_HEADER = "x-sleuth-csrf"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _host_name(host_header: str) -> str:
    """ "127.0.0.1:8765" -> "127.0.0.1", "[::1]:80" -> "::1"."""
    return urlsplit(f"//{host_header}").hostname or ""


def _same(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


class Guard(BaseHTTPMiddleware):
    def __init__(self, app, *, token: str | None, csrf_token: str, loopback_only: bool) -> None:  # type: ignore[no-untyped-def]
        super().__init__(app)
        self.token, self.csrf_token, self.loopback_only = token, csrf_token, loopback_only

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        refusal = self._refusal(request)
        if isinstance(refusal, Response):
            return refusal
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    def _refusal(self, request: Request) -> Response | None:
        host = request.headers.get("host", "")
        if self.loopback_only and not is_loopback(_host_name(host)):
            return PlainTextResponse(f"refused: host {host!r} is not this machine", status_code=403)
        if self.token:
            given = request.query_params.get("token")
            if given is not None and _same(given, self.token):
                rest = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
                url = request.url.path + (f"?{urlencode(rest)}" if rest else "")
                redirect = RedirectResponse(url, status_code=303)
                redirect.set_cookie(TOKEN_COOKIE, self.token, httponly=True, samesite="strict")
                return redirect
            bearer = request.headers.get("authorization", "").removeprefix("Bearer ").strip() or None
            if not (_same(request.cookies.get(TOKEN_COOKIE), self.token) or _same(bearer, self.token)):
                return PlainTextResponse(
                    "token required: open the address `sleuth serve` printed (it carries ?token=...)",
                    status_code=401,
                )
        if request.method not in SAFE_METHODS:
            origin = request.headers.get("origin")
            if origin is not None and urlsplit(origin).netloc != host:
                return PlainTextResponse("refused: cross-site request", status_code=403)
            if not _same(request.headers.get(CSRF_HEADER), self.csrf_token):
                return PlainTextResponse("refused: missing or wrong CSRF token", status_code=403)
        return None
