"""Access control and security headers for the whole app (Gradio UI, JSON API, OpenAPI docs, embed page).

- ``SPEECHES_ACCESS_TOKEN``: every request must carry the shared token, as ``Authorization: Bearer TOKEN``, as the
  ``speeches_token`` cookie, or as ``?token=TOKEN``. A valid ``?token=`` also sets the cookie, so a browser that
  opened ``/?token=...`` once keeps working (the Gradio frontend's own requests carry no token).
- ``SPEECHES_TRUSTED_USER_HEADER``: every request must carry that header, set by the reverse proxy after single
  sign-on; its value is the user (recorded with feedback). Only safe when the app is reachable through the proxy
  alone (listen on 127.0.0.1).
- Both set: both are required. ``/widget.js`` and ``/widget.css`` stay public: they hold no data, and an intranet
  page must be able to load them before it knows anything.

Every response gets ``Content-Security-Policy: frame-ancestors <SPEECHES_FRAME_ANCESTORS>`` (which pages may frame
the app: the embed widget works only on those), ``X-Content-Type-Options: nosniff`` and
``Referrer-Policy: same-origin`` (a token in an embed URL never leaks to other sites).

A pure ASGI middleware, not ``BaseHTTPMiddleware``: it must not buffer the streamed answers and Gradio's event
stream.
"""

from __future__ import annotations

import hmac
import json
import re
from urllib.parse import parse_qs, quote, unquote

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from settings import Settings

TOKEN_COOKIE = "speeches_token"
PUBLIC_PATHS = frozenset({"/widget.js", "/widget.css"})
_SOURCE = re.compile(r"^(?:'self'|'none'|\*|[a-zA-Z][a-zA-Z0-9+.-]*:(?://[^\s;,']+)?|(?:\*\.)?[^\s;,':/]+(?::\d+|:\*)?)$")


def frame_ancestors_policy(value: str) -> str:
    """The CSP header value for the setting; ValueError naming the setting for anything that is not a source list
    (a ';' or a newline would inject other directives or headers)."""
    sources = value.split(" ")
    sources = [s for s in sources if s]
    if not sources:
        raise ValueError("SPEECHES_FRAME_ANCESTORS is empty; use 'self' (the default) or list the allowed origins")
    for source in sources:
        if not _SOURCE.match(source):
            raise ValueError(
                f"SPEECHES_FRAME_ANCESTORS: {source!r} is not a CSP source; use 'self', 'none' or origins such as "
                "https://intranet.example (space-separated)"
            )
    return "frame-ancestors " + " ".join(sources)


def check_token(token: str | None) -> None:
    """ValueError naming the setting when the token cannot travel in a header or a cookie."""
    if token is not None and not re.fullmatch(r"[\x21-\x7e]{8,}", token):
        raise ValueError("SPEECHES_ACCESS_TOKEN must be at least 8 printable ASCII characters, without spaces "
                         "(it travels in an Authorization header, a cookie and URLs)")


def route_path(scope: Scope) -> str:
    """The request path below the app's root path (what the routes see)."""
    path, root = scope.get("path", ""), scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root):]
    return path or "/"


def _token_matches(candidate: str | None, token: str) -> bool:
    return candidate is not None and hmac.compare_digest(candidate.encode(), token.encode())


class SecurityMiddleware:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        check_token(settings.access_token)
        self.app = app
        self.token = settings.access_token
        self.user_header = settings.trusted_user_header
        self.root_path = settings.root_path.rstrip("/")
        self.headers = [
            ("content-security-policy", frame_ancestors_policy(settings.frame_ancestors)),
            ("x-content-type-options", "nosniff"),
            ("referrer-policy", "same-origin"),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path = route_path(scope)
        headers = Headers(scope=scope)
        set_cookie = None
        if path not in PUBLIC_PATHS:
            refusal, set_cookie = self._check(scope, headers)
            if refusal:
                await self._refuse(scope, receive, send, path, refusal)
                return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                for name, value in self.headers:
                    out[name] = value
                if set_cookie:
                    out.append("set-cookie", set_cookie)
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _check(self, scope: Scope, headers: Headers) -> tuple[str | None, str | None]:
        """(why the request is refused or None, a Set-Cookie value to add or None); records the user."""
        set_cookie = None
        if self.user_header:
            user = headers.get(self.user_header, "").strip()
            if not user:
                return "未通过单点登录：请从内网门户打开本应用。", None
            scope.setdefault("state", {})["user"] = user
        if self.token:
            auth = headers.get("authorization", "")
            bearer = auth[7:].strip() if auth[:7].lower() == "bearer " else None
            query = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token", [None])[0]
            cookie = _cookie(headers.get("cookie", ""), TOKEN_COOKIE)
            if _token_matches(query, self.token):
                if not _token_matches(cookie, self.token):
                    set_cookie = self._cookie_header(scope, headers)
            elif not (_token_matches(bearer, self.token) or _token_matches(cookie, self.token)):
                return "需要访问令牌：请使用内网提供的链接，或在请求中带上 Authorization: Bearer 令牌。", None
        return None, set_cookie

    def _cookie_header(self, scope: Scope, headers: Headers) -> str:
        secure = scope.get("scheme") in ("https", "wss") or headers.get("x-forwarded-proto", "") == "https"
        path = (scope.get("root_path") or self.root_path or "").rstrip("/") or "/"
        return (f"{TOKEN_COOKIE}={quote(self.token, safe='')}; Path={path}; HttpOnly; SameSite=Lax"
                + ("; Secure" if secure else ""))

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, path: str, reason: str) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        wants_json = path.startswith("/api/") or path.startswith("/openapi") or path.startswith("/gradio_api/")
        if wants_json:
            body, kind = json.dumps({"error": reason}, ensure_ascii=False).encode(), "application/json"
        else:
            body = (f"<!doctype html><meta charset=utf-8><title>401</title><p>{reason}</p>").encode()
            kind = "text/html; charset=utf-8"
        headers = [(b"content-type", kind.encode()), (b"content-length", str(len(body)).encode()),
                   (b"www-authenticate", b"Bearer")]
        headers += [(name.encode(), value.encode()) for name, value in self.headers]
        await send({"type": "http.response.start", "status": 401, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _cookie(header: str, name: str) -> str | None:
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return unquote(value)
    return None


def request_user(scope: Scope, headers: Headers | None = None, header_name: str | None = None) -> str | None:
    """The single sign-on user of a request (set by the middleware), if any."""
    user = (scope.get("state") or {}).get("user")
    if user is None and headers is not None and header_name:
        user = headers.get(header_name) or None
    return user
