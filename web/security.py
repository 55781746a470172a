"""Who may use the app, in which role, and the security headers on every response (docs/security.md).

Credentials, all optional (none configured = the local single-user default: everyone is a librarian):

- ``SPEECHES_ACCESS_TOKEN``, the readers' token: ask, compare, view, export, feedback. With it set, every request
  must carry a token (this one or the librarian's).
- ``SPEECHES_ADMIN_TOKEN``, the librarians' token: all a reader may do, plus library writes (upload, delete).
- ``SPEECHES_TRUSTED_USER_HEADER``: every request must carry that header, set by the reverse proxy after single
  sign-on; its value is the user. ``SPEECHES_ADMIN_USERS`` (comma-separated) names the users who are librarians.
  Only safe when the app is reachable through the proxy alone (listen on 127.0.0.1).

A token travels as ``Authorization: Bearer TOKEN`` or as the HttpOnly ``speeches_token`` cookie. Opening a page
(``/``, ``/embed``, ``/docs``) with ``?token=TOKEN`` sets the cookie and redirects (303) to the same URL without
the token, so it stays out of the address bar, the history and the Referer; anywhere else ``?token=`` counts for
nothing. The widget (``/widget.js``, ``/widget.css``) and the embed page's shell (``/embed``, its script and style)
stay public: static files with no data. The widget gives the embed page its token in the URL's fragment, which no
request carries, and the page sends it to the API as a Bearer header: no cookie, so it works in any portal.

The role is decided here, per request, and put in the request's state (``role_of``); ``web.gradio_guard`` refuses
library writes to non-librarians at the door of Gradio's routes, and each write handler checks again
(``require_librarian``). Every response gets ``Content-Security-Policy: frame-ancestors <SPEECHES_FRAME_ANCESTORS>``,
``X-Content-Type-Options: nosniff`` and ``Referrer-Policy: same-origin``.

Pure ASGI middlewares, not ``BaseHTTPMiddleware``: they must not buffer the streamed answers and Gradio's events.
"""

from __future__ import annotations

import hmac
import json
import re
from urllib.parse import parse_qsl, quote, unquote, urlencode

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from settings import Settings

TOKEN_COOKIE = "speeches_token"
# static files holding no data, which an intranet page must load before it can send a token: the widget, and the
# embed page's shell (it sends the token from its URL's fragment to the API as a Bearer header)
PUBLIC_PATHS = frozenset({"/widget.js", "/widget.css", "/embed", "/app-static/embed.js", "/app-static/embed.css"})
PAGES = frozenset({"/", "/embed", "/docs"})  # where ?token= is exchanged for the cookie
READER, LIBRARIAN = "reader", "librarian"
ROLE_KEY = "speeches_role"  # in the request's state
_SOURCE = re.compile(r"^(?:'self'|'none'|\*|[a-zA-Z][a-zA-Z0-9+.-]*:(?://[^\s;,']+)?|(?:\*\.)?[^\s;,':/]+(?::\d+|:\*)?)$")

NEED_TOKEN = "需要访问令牌：请使用内网提供的链接，或在请求中带上 Authorization: Bearer 令牌。"
BAD_LINK_TOKEN = "链接中的访问令牌无效：请使用内网提供的最新链接。"
NEED_SSO = "未通过单点登录：请从内网门户打开本应用。"
NEED_LIBRARIAN = "只有管理员可以修改资料库（上传、删除）"
HOW_TOKEN = "用管理员链接（/?token=管理员令牌）打开本应用，或在请求中带上 Authorization: Bearer 管理员令牌"
HOW_SSO = "以管理员账号登录"
NO_LIBRARIAN = ("本应用没有配置管理员凭据（SPEECHES_ADMIN_TOKEN 或 SPEECHES_ADMIN_USERS），网页上不能修改资料库；"
                "请在服务器上用命令行：python -m ingest。")


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


def cors_origins(frame_ancestors: str) -> tuple[list[str], str | None]:
    """The origins other than the app's own that may read its responses with credentials (CORS): those
    ``SPEECHES_FRAME_ANCESTORS`` names, as (exact origins, a regex for the wildcard ones). ``'self'`` needs no CORS;
    ``*``, ``'none'`` and bare schemes (``https:``) grant none: framing is not reading."""
    exact, patterns = [], []
    for source in frame_ancestors_policy(frame_ancestors).split(" ")[1:]:
        if source.startswith("'") or source == "*" or source.endswith(":"):
            continue
        schemes = [source.split("://")[0]] if "://" in source else ["https", "http"]
        hostport = source.split("://")[-1].rstrip("/")
        for scheme in schemes:
            if "*" not in hostport:
                exact.append(f"{scheme}://{hostport}".lower())
                continue
            pattern = re.escape(f"{scheme}://{hostport}".lower())
            pattern = pattern.replace(r"\*\.", r"[a-z0-9-]+(?:\.[a-z0-9-]+)*\.").replace(r":\*", r"(?::\d+)?")
            patterns.append(pattern)
    return exact, ("^(?:" + "|".join(patterns) + ")$") if patterns else None


def admin_users(settings: Settings) -> frozenset[str]:
    return frozenset(u.strip() for u in (settings.admin_users or "").split(",") if u.strip())


def check_access_settings(settings: Settings) -> None:
    """ValueError naming the setting when the credentials cannot work as configured."""
    for name, token in (("SPEECHES_ACCESS_TOKEN", settings.access_token),
                        ("SPEECHES_ADMIN_TOKEN", settings.admin_token)):
        if token is not None and not re.fullmatch(r"[\x21-\x7e]{8,}", token):
            raise ValueError(f"{name} must be at least 8 printable ASCII characters, without spaces "
                             "(it travels in an Authorization header, a cookie and URLs)")
    if settings.admin_token and settings.admin_token == settings.access_token:
        raise ValueError("SPEECHES_ADMIN_TOKEN must differ from SPEECHES_ACCESS_TOKEN (the readers' token would "
                         "let every reader change the library)")
    if settings.admin_users and not settings.trusted_user_header:
        raise ValueError("SPEECHES_ADMIN_USERS needs SPEECHES_TRUSTED_USER_HEADER (the single sign-on header that "
                         "names the user)")


def route_path(scope: Scope) -> str:
    """The request path below the app's root path (what the routes see)."""
    path, root = scope.get("path", ""), scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root):]
    return path or "/"


def role_of(request) -> str | None:
    """The role the middleware gave a request (a Starlette or a Gradio request): LIBRARIAN, READER, or None when
    it did not pass through ``AccessControl``."""
    state = getattr(request, "state", None) if request is not None else None
    return getattr(state, ROLE_KEY, None) if state is not None else None


def refusal_for_writes(settings: Settings) -> str:
    """The line a non-librarian gets for a library write."""
    ways = [how for how, configured in ((HOW_TOKEN, settings.admin_token), (HOW_SSO, admin_users(settings)))
            if configured]
    return f"{NEED_LIBRARIAN}：请{'，或'.join(ways)}。" if ways else NO_LIBRARIAN


def require_librarian(request, settings: Settings) -> None:
    """For the top of every library-write handler of the Gradio UI: a ``gr.Error`` with one clear line unless the
    request's role is librarian (``web.gradio_guard`` refuses such requests at the door already)."""
    if role_of(request) != LIBRARIAN:
        import gradio as gr

        raise gr.Error(refusal_for_writes(settings), print_exception=False)


def _token_matches(candidate: str | None, token: str | None) -> bool:
    return candidate is not None and token is not None and hmac.compare_digest(candidate.encode(), token.encode())


def _cookie(header: str, name: str) -> str | None:
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return unquote(value)
    return None


def wants_json(path: str) -> bool:
    return path.startswith(("/api/", "/openapi", "/gradio_api/"))


async def refuse(send: Send, path: str, status: int, reason: str, extra: list[tuple[bytes, bytes]] = ()) -> None:
    """A refusal with one line: ``{"error": ...}`` for the API and Gradio's routes, a small page otherwise."""
    if wants_json(path):
        body, kind = json.dumps({"error": reason}, ensure_ascii=False).encode(), "application/json"
    else:
        body = f"<!doctype html><meta charset=utf-8><title>{status}</title><p>{reason}</p>".encode()
        kind = "text/html; charset=utf-8"
    headers = [(b"content-type", kind.encode()), (b"content-length", str(len(body)).encode()),
               (b"cache-control", b"no-store"), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class SecurityHeaders:
    """The outermost middleware: every response, whoever made it (Gradio, CORS preflights, refusals), gets the
    framing, sniffing and referrer headers."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.headers = [
            ("content-security-policy", frame_ancestors_policy(settings.frame_ancestors)),
            ("x-content-type-options", "nosniff"),
            ("referrer-policy", "same-origin"),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                for name, value in self.headers:
                    out[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


class AccessControl:
    """Authenticates every request but the public ones, refuses (401) those without the required credentials, and
    records the role (and the single sign-on user) in the request's state."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        check_access_settings(settings)
        self.app = app
        self.reader_token, self.admin_token = settings.access_token, settings.admin_token
        self.user_header = settings.trusted_user_header
        self.admins = admin_users(settings)
        self.open = not (settings.access_token or settings.admin_token or settings.trusted_user_header)
        self.root_path = settings.root_path.rstrip("/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path = route_path(scope)
        headers = Headers(scope=scope)
        link_token = self._link_token(scope, path)
        if link_token is not None:
            if self._token_role(link_token) is None:
                await self._refuse(scope, send, path, BAD_LINK_TOKEN)
            else:
                await self._redirect_without_token(scope, send, path, headers, link_token)
            return
        if path in PUBLIC_PATHS:
            await self.app(scope, receive, send)
            return
        user = None
        if self.user_header:
            user = headers.get(self.user_header, "").strip()
            if not user:
                await self._refuse(scope, send, path, NEED_SSO)
                return
        auth = headers.get("authorization", "")
        bearer = auth[7:].strip() if auth[:7].lower() == "bearer " else None
        roles = {self._token_role(bearer), self._token_role(_cookie(headers.get("cookie", ""), TOKEN_COOKIE))}
        if self.reader_token and roles == {None}:
            await self._refuse(scope, send, path, NEED_TOKEN)
            return
        librarian = self.open or LIBRARIAN in roles or (user is not None and user in self.admins)
        state = scope.setdefault("state", {})
        state[ROLE_KEY] = LIBRARIAN if librarian else READER
        if user:
            state["user"] = user
        await self.app(scope, receive, send)

    def _token_role(self, candidate: str | None) -> str | None:
        if _token_matches(candidate, self.admin_token):
            return LIBRARIAN
        if _token_matches(candidate, self.reader_token):
            return READER
        return None

    def _link_token(self, scope: Scope, path: str) -> str | None:
        """The ``?token=`` of a page request (to exchange for the cookie); None anywhere else."""
        if scope["type"] != "http" or scope.get("method") not in ("GET", "HEAD") or path not in PAGES:
            return None
        query = scope.get("query_string", b"").decode("latin-1")
        return next((value for key, value in parse_qsl(query, keep_blank_values=True) if key == "token"), None)

    async def _redirect_without_token(self, scope: Scope, send: Send, path: str, headers: Headers,
                                      token: str) -> None:
        query = scope.get("query_string", b"").decode("latin-1")
        kept = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k != "token"]
        root = (scope.get("root_path") or self.root_path or "").rstrip("/")
        location = root + path + ("?" + urlencode(kept) if kept else "")
        await send({"type": "http.response.start", "status": 303, "headers": [
            (b"location", location.encode("latin-1", "replace")), (b"cache-control", b"no-store"),
            (b"set-cookie", self._cookie_header(scope, headers, token).encode()), (b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})

    def _cookie_header(self, scope: Scope, headers: Headers, token: str) -> str:
        secure = scope.get("scheme") in ("https", "wss") or headers.get("x-forwarded-proto", "") == "https"
        path = (scope.get("root_path") or self.root_path or "").rstrip("/") or "/"
        return (f"{TOKEN_COOKIE}={quote(token, safe='')}; Path={path}; HttpOnly; SameSite=Lax"
                + ("; Secure" if secure else ""))

    async def _refuse(self, scope: Scope, send: Send, path: str, reason: str) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        await refuse(send, path, 401, reason, [(b"www-authenticate", b"Bearer")])


def request_user(scope: Scope, headers: Headers | None = None, header_name: str | None = None) -> str | None:
    """The single sign-on user of a request (set by the middleware), if any."""
    user = (scope.get("state") or {}).get("user")
    if user is None and headers is not None and header_name:
        user = headers.get(header_name) or None
    return user
