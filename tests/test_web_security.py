"""Who may frame the app, who may use it, what an upload may be called, and that speech text never becomes markup."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient
from web_fakes import CITY, FakeAssistant

from answer.segments import parse
from settings import Settings
from web import render
from web.security import frame_ancestors_policy
from web.server import create_app
from web.uploads import MAX_NAME_CHARS, UploadRejected, ingest_uploads, safe_file_name, save_upload

TOKEN = "s3cret-token-42"


def make_client(tmp_path, **settings) -> TestClient:
    config = Settings(data_dir=tmp_path / "data", embedding="fake", _env_file=None, **settings)
    return TestClient(create_app(config, FakeAssistant()), follow_redirects=False)


# -- framing: Content-Security-Policy frame-ancestors -------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/embed", "/docs", "/api/speeches", "/config"])
def test_every_response_allows_framing_by_the_app_itself_only_by_default(tmp_path, path):
    response = make_client(tmp_path).get(path)
    assert response.status_code == 200
    assert response.headers["content-security-policy"] == "frame-ancestors 'self'"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_allowed_intranet_origins_come_from_the_setting(tmp_path):
    client = make_client(tmp_path, frame_ancestors="'self' https://intranet.example  https://*.portal.example:8443")
    assert client.get("/embed").headers["content-security-policy"] == \
        "frame-ancestors 'self' https://intranet.example https://*.portal.example:8443"


@pytest.mark.parametrize("value", ["", "'self'; script-src *", "https://a.example\r\nX-Evil: 1", "https://a,b"])
def test_a_frame_ancestors_value_that_is_not_a_source_list_is_refused(value):
    with pytest.raises(ValueError, match="SPEECHES_FRAME_ANCESTORS"):
        frame_ancestors_policy(value)


# -- the shared token -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/docs", "/openapi.json", "/api/speeches", "/config", "/gradio_api/info",
                                  "/app-static/ui.js", "/app-static/docs.js"])
def test_with_a_token_set_nothing_but_the_static_widget_and_embed_shell_is_served_without_it(tmp_path, path):
    client = make_client(tmp_path, access_token=TOKEN)
    response = client.get(path)
    assert response.status_code == 401
    assert response.headers["content-security-policy"] == "frame-ancestors 'self'"
    assert client.get(path, headers={"Authorization": f"Bearer {TOKEN}-wrong"}).status_code == 401
    assert client.get(path, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    for public in ("/widget.js", "/widget.css", "/embed", "/app-static/embed.js", "/app-static/embed.css"):
        assert client.get(public).status_code == 200, public
    assert "在全市经济工作会议上的讲话" not in client.get("/embed").text  # a shell: its data comes from the API


def test_the_api_refusal_is_json(tmp_path):
    response = make_client(tmp_path, access_token=TOKEN).post("/api/ask", json={"question": "增长？"})
    assert response.status_code == 401 and "令牌" in response.json()["error"]


def test_a_token_in_the_url_sets_a_cookie_that_carries_the_next_requests(tmp_path):
    client = make_client(tmp_path, access_token=TOKEN)
    first = client.get(f"/?token={TOKEN}")
    assert first.status_code == 303 and first.headers["location"] == "/"  # the token leaves the address bar
    cookie = first.headers["set-cookie"]
    assert cookie.startswith("speeches_token=") and "HttpOnly" in cookie and "Path=/" in cookie
    assert client.get("/config").status_code == 200  # the cookie, not the URL
    client.cookies.clear()
    assert client.get("/config").status_code == 401


def test_the_cookie_is_scoped_to_the_root_path(tmp_path):
    client = make_client(tmp_path, access_token=TOKEN, root_path="/speeches")
    client.app_root_path = "/speeches"
    response = TestClient(client.app, root_path="/speeches", follow_redirects=False).get(
        f"/speeches/embed?token={TOKEN}")
    assert response.status_code == 303 and response.headers["location"] == "/speeches/embed"
    assert "Path=/speeches;" in response.headers["set-cookie"]


def test_a_token_that_cannot_travel_in_a_header_is_refused_at_start(tmp_path):
    with pytest.raises(ValueError, match="SPEECHES_ACCESS_TOKEN"):
        make_client(tmp_path, access_token="短令牌")


# -- single sign-on: a header set by the reverse proxy ----------------------------------------------------------------


def test_a_trusted_user_header_is_required_and_recorded_with_feedback(tmp_path):
    client = make_client(tmp_path, trusted_user_header="X-Remote-User")
    assert client.get("/api/speeches").status_code == 401
    assert client.get("/").status_code == 401
    assert client.get("/api/speeches", headers={"X-Remote-User": "  "}).status_code == 401
    sso = {"X-Remote-User": "zhang.san"}
    answer = client.post("/api/ask", json={"question": "增长？"}, headers=sso).json()
    assert client.post("/api/feedback", json={"vote": "up", "answer": answer}, headers=sso).status_code == 200
    record = json.loads((tmp_path / "data" / "feedback.jsonl").read_text().splitlines()[0])
    assert record["user"] == "zhang.san"


def test_token_and_single_sign_on_together_need_both(tmp_path):
    client = make_client(tmp_path, access_token=TOKEN, trusted_user_header="X-Remote-User")
    assert client.get("/api/speeches", headers={"X-Remote-User": "li.si"}).status_code == 401
    assert client.get("/api/speeches", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 401
    both = {"X-Remote-User": "li.si", "Authorization": f"Bearer {TOKEN}"}
    assert client.get("/api/speeches", headers=both).status_code == 200


# -- under a root path ------------------------------------------------------------------------------------------


def test_under_a_root_path_routes_and_gradio_urls_carry_the_prefix(tmp_path):
    app = make_client(tmp_path, root_path="/speeches").app
    client = TestClient(app, root_path="/speeches")
    assert client.get("/speeches/api/speeches").status_code == 200
    assert client.get("/speeches/embed").status_code == 200
    assert client.get("/speeches/config").json()["root"].endswith("/speeches")


# -- uploads: names and limits -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, safe",
    [
        ("讲话.txt", "讲话.txt"),
        ("../../etc/passwd.txt", "passwd.txt"),
        ("..\\..\\windows\\讲话稿.docx", "讲话稿.docx"),
        ("/abs/path/2024年 工作报告.PDF", "2024年 工作报告.pdf"),
        ("a..b..txt", "a.b.txt"),
        ('a<b>|c?"d.md', "a_b_c_d.md"),
        ("<script>x</script>.md", "script.md"),
        ("_.txt", "upload.txt"),
        ("ｆｕｌｌｗｉｄｔｈ.txt", "fullwidth.txt"),
    ],
)
def test_upload_names_are_reduced_to_one_safe_component(name, safe):
    assert safe_file_name(name) == safe


@pytest.mark.parametrize("name", ["run.exe", "speech", "archive.tar.gz", "x.txt.sh", "../..", ".txt", "..txt"])
def test_upload_types_are_limited_to_what_ingest_reads(name):
    with pytest.raises(UploadRejected) as refused:
        safe_file_name(name)
    assert refused.value.kind == "unsupported" and ".txt" in refused.value.values["supported"]


def test_long_upload_names_are_cut(tmp_path):
    name = safe_file_name("长" * 300 + ".txt")
    assert len(name) == MAX_NAME_CHARS and name.endswith(".txt")


def test_uploads_land_in_the_uploads_dir_and_big_files_are_refused(tmp_path):
    source = tmp_path / "tmp-upload"
    source.write_bytes("同志们：\n今天开会。".encode())
    staged, final = save_upload(source, "../../outside.txt", tmp_path / "data", max_mb=1)
    assert final == (tmp_path / "data" / "uploads" / "outside.txt").resolve()
    assert staged.parent.parent == final.parent / ".incoming" and staged.name == final.name
    source.write_bytes(b"x" * (1024 * 1024 + 1))
    with pytest.raises(UploadRejected) as refused:
        save_upload(source, "big.txt", tmp_path / "data", max_mb=1)
    assert refused.value.kind == "too_big" and refused.value.values["limit"] == 1


def test_each_upload_gets_its_own_result(tmp_path):
    good, empty, bad = tmp_path / "good", tmp_path / "empty", tmp_path / "bad"
    good.write_text("一次会议上的讲话\n同志们：今天开会。", encoding="utf-8")
    empty.write_text("", encoding="utf-8")
    bad.write_text("MZ", encoding="utf-8")
    results = ingest_uploads(FakeAssistant(), [(good, "会议.txt"), (empty, "空.txt"), (bad, "tool.exe")],
                             tmp_path / "data", max_mb=5)
    assert [(r.file, r.ok) for r in results] == [("会议.txt", True), ("空.txt", False), ("tool.exe", False)]
    assert results[0].speech_id == "会议" and results[1].message == "文件是空的，没有文字。"
    assert results[2].message.startswith("不支持这种文件类型（.exe）；支持：")
    assert sorted(p.name for p in (tmp_path / "data" / "uploads").iterdir()) == ["会议.txt"]  # failures leave nothing


# -- speech text is data ---------------------------------------------------------------------------------------------


HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(2)>[点击](javascript:alert(3)) **粗体** & \"引号\""


def segments(text, labels, flagged=()):
    return [block.as_json() for block in parse(text, labels, flagged)]


def test_answers_are_escaped_and_only_our_chips_are_markup():
    cited = {"label": "1", "speech_id": 'a"b:c', "title": "<b>标题</b>", "date": None, "start": 3, "end": 9,
             "text": "x"}
    html = render.answer_html(segments(f"第一句{HOSTILE}。[1]\n- 要点二[7]", {"1"}), [cited], [])
    assert "<script" not in html and "<img" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "**粗体**" in html
    assert html.count('class="cite-chip"') == 1 and "[7]" in html  # an unknown label stays text
    assert 'href="#cite:a%22b%3Ac:3:9:1"' in html
    assert render.parse_cite_href("#cite:a%22b%3Ac:3:9:1") == ('a"b:c', 3, 9, "1")



def test_sources_name_the_other_speeches_holding_a_text_escaped():
    cited = {"label": "1", "speech_id": "a", "title": "甲", "date": None, "start": 0, "end": 3, "text": "x",
             "also_in": ["b", "<img src=x onerror=alert(1)>"]}
    html = render.sources_html([cited])
    assert "同样的文字也见于 2 篇" in html and "<img" not in html and "&lt;img src=x" in html
    assert render.sources_html([{**cited, "also_in": []}]).count("也见于") == 0
    assert "（同样的文字也见于：b、\\<img src=x onerror=alert(1)\\>" in render.answer_markdown({"citations": [cited]})

@pytest.mark.parametrize("href", ["#cite:x:1", "#cite:x:a:b:1", "#cite::1:2:1", "#cite:x:5:2:1", "javascript:x"])
def test_bad_citation_links_are_refused(href):
    with pytest.raises(ValueError):
        render.parse_cite_href(href)


def test_sentences_the_citation_check_flagged_are_marked():
    flagged = ["目标是9%。[1]"]
    html = render.answer_html(segments("目标是5%左右。[1]目标是9%。[1]", {"1"}, flagged),
                              [{"label": "1", "speech_id": CITY, "start": 0, "end": 3}], flagged)
    assert html.count('class="flagged"') == 1
    flagged = html.split('class="flagged"')[1].split("</span>")[0]
    assert "9%" in flagged and "5%" not in flagged and 'class="cite-chip"' in flagged
    assert "⚠" in html and "1 句话未通过引用核对" in html and render.flagged_note(0) == ""


def test_a_compared_speech_is_escaped_with_its_overlapping_passages_highlighted():
    text = "甲<script>乙</script>丙丁戊己"
    side = {"found": True, "passages": [{"start": 1, "end": 10, "label": "A1"}, {"start": 5, "end": 14, "label": "A2"}]}
    html = render.compare_column_html("A", SimpleNamespace(title="标题", date=None), text, side)
    assert "<script" not in html and "</script" not in html and "&lt;scr" in html
    assert 'id="cmp-A1"' in html and 'id="cmp-A2"' in html
    assert 'data-labels="A1 A2"' in html  # the shared piece carries both labels


def test_the_study_views_escape_titles_quotes_and_diffs():
    evil = "<img src=x onerror=alert(1)>"
    check = {"sentences": [{"text": evil, "at": [0, 5], "quoted": True, "status": "altered", "speech_id": evil,
                            "title": evil, "date": None, "start": 0, "end": 5, "source_text": evil, "similarity": 0.8,
                            "diff": [{"op": "changed", "source": evil, "text": "<b>", "significant": True,
                                      "why": ["number"]}], "also_in": [evil], "nearest": []}]}
    topic = {"topic": evil, "addressing": 1, "listed": 1, "years": [],
             "speeches": [{"speech_id": evil, "title": evil, "date": None, "year": None, "strength": 0.4,
                           "on_topic": 2, "passages_total": 5,
                           "passages": [{"speech_id": evil, "title": evil, "date": None, "label": "1", "start": 0,
                                         "end": 5, "text": evil}]}]}
    outline = {"speech_id": evil, "title": evil, "date": None,
               "headings": [{"level": 1, "text": evil, "start": 0, "end": 5, "kind": "heading"}],
               "figures": [{"text": evil, "clause": evil, "start": 0, "end": 5, "kind": "target"}],
               "formulas": [{"name": evil + "\"'", "start": 0, "end": 5, "mentions": [[0, 5]], "other_speeches": 2}]}
    for html in (render.verify_html(check), render.topic_html(topic), render.outline_html(outline)):
        assert "<img" not in html and "<b>" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert 'href="#topic:%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E%22%27"' in render.outline_html(outline)
