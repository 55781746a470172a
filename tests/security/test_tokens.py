"""Issue 11, finding 6: token hygiene. A token in a page's URL is exchanged for the HttpOnly cookie and the browser
is sent (303) to the same URL without it; every response says ``Referrer-Policy: same-origin`` (or stricter), so
no URL of the app reaches another site or a proxy log through Referer; Gradio's CORS (any http://localhost:*
page, with credentials) is limited to the origins of SPEECHES_FRAME_ANCESTORS.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from browser.helpers import CHROMIUM, CHROMIUM_ARGS, host_page
from security.conftest import ADMIN, ADMIN_AUTH, PORTAL, READER, READER_AUTH

STRICT_REFERRER = {"same-origin", "no-referrer", "strict-origin"}


@pytest.mark.slow
@pytest.mark.parametrize("page, query, kept", [
    ("/", f"token={READER}", ""),
    ("/embed", f"title=%E8%AE%B2%E8%AF%9D&token={READER}&speech=2025-city-work-meeting",
     "?title=%E8%AE%B2%E8%AF%9D&speech=2025-city-work-meeting"),
    ("/docs", f"token={ADMIN}&x=", "?x="),
])
def test_a_token_in_a_page_url_becomes_the_cookie_and_leaves_the_url(roles_app, page, query, kept):
    response = httpx.get(f"{roles_app.url}{page}?{query}", timeout=30)
    assert response.status_code == 303
    assert response.headers["location"] == page + kept
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("speeches_token=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert response.headers["cache-control"] == "no-store"
    token = cookie.split(";")[0].split("=", 1)[1]
    landed = httpx.get(roles_app.url + response.headers["location"], cookies={"speeches_token": token}, timeout=30)
    assert landed.status_code == 200 and READER not in landed.text and ADMIN not in landed.text


@pytest.mark.slow
def test_a_browser_follows_the_redirect_and_keeps_working_on_the_cookie(roles_app):
    with httpx.Client(base_url=roles_app.url, timeout=30, follow_redirects=True) as browser:
        page = browser.get(f"/embed?token={READER}")
        assert page.status_code == 200 and str(page.url).endswith("/embed") and "token" not in str(page.url)
        assert browser.get("/api/speeches").status_code == 200


@pytest.mark.slow
def test_a_wrong_token_in_the_url_is_refused_and_a_token_elsewhere_counts_for_nothing(roles_app):
    assert httpx.get(f"{roles_app.url}/?token=wrong-token-123", timeout=30).status_code == 401
    for path in ("/api/speeches", "/config", "/openapi.json", "/gradio_api/info"):
        response = httpx.get(f"{roles_app.url}{path}?token={READER}", timeout=30)
        assert response.status_code == 401, path


@pytest.mark.slow
def test_every_response_keeps_the_referrer_on_the_site(roles_app, tmp_path):
    upload = tmp_path / "a.txt"
    upload.write_text("同志们：", encoding="utf-8")
    requests = [
        ("GET", "/", READER_AUTH, {}), ("GET", "/embed", READER_AUTH, {}), ("GET", "/docs", READER_AUTH, {}),
        ("GET", "/config", READER_AUTH, {}), ("GET", "/gradio_api/info", READER_AUTH, {}),
        ("GET", "/theme.css", READER_AUTH, {}), ("GET", "/api/speeches", READER_AUTH, {}),
        ("GET", "/no-such-page", READER_AUTH, {}), ("GET", "/widget.js", {}, {}), ("GET", "/", {}, {}),
        ("GET", f"/?token={READER}", {}, {}), ("GET", "/?token=wrong-token-123", {}, {}),
        ("POST", "/gradio_api/upload", READER_AUTH, {"files": [("files", ("a.txt", upload.read_bytes()))]}),
        ("POST", "/gradio_api/call/ask", READER_AUTH, {"json": {"data": ["增长？", [], None, None, None, None]}}),
        ("POST", "/gradio_api/stream/x", READER_AUTH, {"json": {"data": []}}),
        ("POST", "/api/ask", READER_AUTH, {"json": {"nonsense": 1}}),
        ("OPTIONS", "/api/ask", {"Origin": PORTAL, "Access-Control-Request-Method": "POST"}, {}),
        ("OPTIONS", "/api/ask", {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}, {}),
    ]
    statuses = set()
    for method, path, headers, kwargs in requests:
        response = httpx.request(method, roles_app.url + path, headers=headers, timeout=30, **kwargs)
        statuses.add(response.status_code)
        assert response.headers.get("referrer-policy") in STRICT_REFERRER, (method, path, response.status_code)
    assert {200, 303, 400, 401, 403, 404} <= statuses


@pytest.mark.slow
@pytest.mark.parametrize("host", [None, "speeches.intranet.example"])
@pytest.mark.parametrize("origin", ["http://localhost:5173", "http://127.0.0.1:9999", "https://evil.example", "null"])
def test_cors_refuses_origins_that_are_not_allowed_to_frame_the_app(roles_app, host, origin):
    headers = {**READER_AUTH, "Origin": origin, **({"Host": host} if host else {})}
    for path in ("/config", "/gradio_api/info", "/api/speeches"):
        response = httpx.get(roles_app.url + path, headers=headers, timeout=30)
        assert "access-control-allow-origin" not in response.headers, (path, response.headers)
    preflight = httpx.options(f"{roles_app.url}/gradio_api/queue/join", timeout=30, headers={
        "Origin": origin, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type", **({"Host": host} if host else {})})
    assert "access-control-allow-origin" not in preflight.headers


@pytest.mark.slow
def test_cors_allows_the_origins_of_frame_ancestors(roles_app):
    response = httpx.get(f"{roles_app.url}/api/speeches", headers={**READER_AUTH, "Origin": PORTAL}, timeout=30)
    assert response.headers["access-control-allow-origin"] == PORTAL
    assert response.headers["access-control-allow-credentials"] == "true"
    preflight = httpx.options(f"{roles_app.url}/api/ask", timeout=30, headers={
        "Origin": PORTAL, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type"})
    assert preflight.status_code == 200 and preflight.headers["access-control-allow-origin"] == PORTAL
    # the librarians' writes still come only from the app's own pages (and these)
    assert httpx.get(f"{roles_app.url}/api/speeches", headers={**ADMIN_AUTH, "Origin": PORTAL},
                     timeout=30).status_code == 200


def _widget_chat(host_url: str) -> list[tuple[str, str]]:
    """Open the host page in chromium, open the widget, ask; every request's (url, referer). Its own Playwright,
    in a thread of its own: tests/browser's session browser may be running in this one."""
    from playwright.sync_api import sync_playwright

    seen: list[tuple[str, str]] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(locale="zh-CN").new_page()
            page.set_default_timeout(30_000)
            page.on("request", lambda request: seen.append((request.url, request.headers.get("referer", ""))))
            page.goto(host_url, wait_until="load")
            page.locator(".speeches-widget__button").click()
            frame = page.frame_locator("iframe.speeches-widget__frame")
            frame.locator("#question").fill("今年经济增长的预期目标是多少？")
            frame.locator("#question").press("Enter")
            frame.locator(".msg.bot .answer:not(.streaming) .chip").first.wait_for()
        finally:
            browser.close()
    return seen


@pytest.mark.slow
@pytest.mark.browser
def test_the_widget_carries_the_readers_token_in_the_fragment_only(roles_app, portal):
    if not CHROMIUM.exists():
        pytest.fail("the browser tests need Debian's chromium (see tests/browser/conftest.py)")
    (portal.folder / "widget-host.html").write_text(host_page(roles_app.url, title="讲话助手", token=READER),
                                             encoding="utf-8")
    with ThreadPoolExecutor(1) as thread:
        seen = thread.submit(_widget_chat, f"{portal.url}/widget-host.html").result()
    to_app = [(url, referer) for url, referer in seen if url.startswith(roles_app.url)]
    assert any("/api/ask/stream" in url for url, _ in to_app)  # the chat answered: the token reached the API
    assert not [url for url, _ in to_app if READER in url], "the token travelled in a URL"
    assert not [referer for _, referer in seen if READER in referer], "the token travelled in a Referer"
    assert all(url.startswith(("http://127.0.0.1:", "data:", "blob:", "about:")) for url, _ in seen)


def test_cors_origins_follow_the_setting():
    from web.security import cors_origins

    exact, pattern = cors_origins("'self' https://a.example http://b.example:8080 c.example https://*.d.example "
                                  "https://e.example:* * https: 'none'")
    assert exact == ["https://a.example", "http://b.example:8080", "https://c.example", "http://c.example"]
    import re

    allowed = re.compile(pattern)
    assert allowed.fullmatch("https://x.d.example") and allowed.fullmatch("https://x.y.d.example")
    assert allowed.fullmatch("https://e.example:8443") and allowed.fullmatch("https://e.example")
    assert not allowed.fullmatch("https://d.example.evil.example") and not allowed.fullmatch("http://x.d.example")
    assert cors_origins("'self'") == ([], None)
