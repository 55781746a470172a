"""Uploads through the chat's library tab with a real assistant and store (fake embeddings): a file takes its place
only once its speech is stored (issue 12, item 4), and a file whose text is already stored is a duplicate (item 5)."""

from __future__ import annotations

from types import SimpleNamespace

import gradio as gr
import pytest
from conftest import HOSTILE, SAMPLES, SEED, FakeEmbeddings, ingest

from answer.service import Assistant
from ingest.store import open_store
from web.security import LIBRARIAN, ROLE_KEY
from web.ui import Handlers
from web.uploads import recover_uploads


LIBRARIAN_REQUEST = SimpleNamespace(state=SimpleNamespace(**{ROLE_KEY: LIBRARIAN}))


@pytest.fixture
def on(settings, tmp_path, monkeypatch):
    monkeypatch.setattr("web.ui.upload_folder", lambda: tmp_path / "browser")  # as if Gradio had received them
    store = open_store(settings, FakeEmbeddings())
    ingest(store, settings, SAMPLES)
    return Handlers(Assistant(settings.model_copy(update={"llm": "extractive"}), store=store), settings)


def upload(on, tmp_path, name: str, content: bytes) -> list[str]:
    folder = tmp_path / "browser"  # where Gradio would have put it
    folder.mkdir(exist_ok=True)
    (folder / name).write_bytes(content)
    rows, _ = on.upload([str(folder / name)], LIBRARIAN_REQUEST)
    return rows[0]


def uploaded(settings) -> dict[str, bytes]:
    folder = settings.data_dir / "uploads"
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} if folder.exists() else {}


def test_a_failed_reupload_keeps_the_good_file_and_the_speech(on, settings, tmp_path):
    good = (SEED / "000_ed498335adf7a40a.txt").read_bytes()
    assert upload(on, tmp_path, "会议.txt", good) == ["会议.txt", "成功", "已添加：会议"]
    before = on.store.speech_text("会议")
    row = upload(on, tmp_path, "会议.txt", (HOSTILE / "binary_junk.txt").read_bytes())
    assert row == ["会议.txt", "失败", "读不出文字：这不是文本文件，或者编码无法识别。"]
    assert uploaded(settings) == {"会议.txt": good}  # the good file, not the junk
    assert on.store.speech_text("会议") == before
    changed = good.replace("同志们".encode(), "各位代表".encode())
    assert upload(on, tmp_path, "会议.txt", changed) == ["会议.txt", "成功", "已更新：会议"]
    assert uploaded(settings) == {"会议.txt": changed}


def test_the_same_text_under_another_name_or_format_is_a_duplicate(on, settings, tmp_path):
    text = (SEED / "000_ed498335adf7a40a.txt").read_bytes()
    upload(on, tmp_path, "000_ed498335adf7a40a.txt", text)
    listed = [s.id for s in on.store.list_speeches()]
    for name, content in (("real_speech_000.pdf", (HOSTILE / "real_speech_000.pdf").read_bytes()),
                          ("副本.txt", text), ("gbk.txt", (HOSTILE / "gbk_encoded_speech.txt").read_bytes())):
        row = upload(on, tmp_path, name, content)
        assert row == [name, "重复", "与已有的讲话 000_ed498335adf7a40a 内容相同，没有重复添加。"], row
    assert [s.id for s in on.store.list_speeches()] == listed
    assert set(uploaded(settings)) == {"000_ed498335adf7a40a.txt"}


def test_at_start_a_killed_uploads_leftovers_are_finished_or_dropped(on, settings, tmp_path):
    """What a process killed mid-upload leaves: a staged file whose speech was stored (moved into place), one
    whose speech was not (dropped), and a file no speech comes from (removed)."""
    import os

    upload(on, tmp_path, "保留.txt", (SEED / "002_d5a8c33760b2f744.txt").read_bytes())
    folder = settings.data_dir / "uploads"
    dead = folder / ".incoming" / "999999999-abc"  # no such process
    dead.mkdir(parents=True)
    (dead / "未完成.txt").write_text("没有存进资料库的讲话", encoding="utf-8")
    stored_but_not_moved = folder / ".incoming" / "999999998-def"
    stored_but_not_moved.mkdir()
    text = (SEED / "000_ed498335adf7a40a.txt").read_bytes()
    (stored_but_not_moved / "存好了.txt").write_bytes(text)
    on.assistant.ingest_staged(stored_but_not_moved / "存好了.txt", folder / "存好了.txt", lambda report: None)
    (folder / "孤儿.txt").write_text("没有讲话来自这个文件", encoding="utf-8")
    alive = folder / ".incoming" / f"{os.getppid()}-ghi"  # a live process's upload (another app on a server)
    alive.mkdir()
    (alive / "进行中.txt").write_text("正在上传", encoding="utf-8")

    done = recover_uploads(on.store, settings.data_dir)
    assert sorted(done) == sorted(["finished the interrupted upload of 存好了.txt",
                                   "dropped the interrupted upload of 未完成.txt",
                                   "removed 孤儿.txt: no speech comes from it"])
    assert set(uploaded(settings)) == {"保留.txt", "存好了.txt"}
    assert [p.name for p in (folder / ".incoming").iterdir()] == [alive.name]
    assert (folder / "存好了.txt").read_bytes() == text


def test_an_open_page_s_lists_follow_the_library(on, settings, tmp_path):
    """The page's timer asks every few seconds; only a changed library sends new lists (issue 12, item 1)."""
    seen, table, *_ = on.refresh_if_changed("")
    assert seen == on.store.listing_token() and len(table["value"]) == 3
    assert all(isinstance(output, type(gr.skip())) for output in on.refresh_if_changed(seen))
    ingest(on.store, settings, SEED)  # another process (python -m ingest) or another tab
    now, table, speech_filter, *_ = on.refresh_if_changed(seen)
    assert now != seen and len(table["value"]) == 5 and len(speech_filter["choices"]) == 5


def test_an_open_page_follows_the_vector_step_in_its_table_alone(on, settings, tmp_path):
    """Keywords first: each batch of vectors moves the table's bar; the dropdowns are left alone until the
    speech is complete (a list refreshed every few seconds for hours would close a dropdown being used)."""
    from ingest.pipeline import Ingestor

    (added,) = Ingestor(on.store, settings, progress=False, embed=False).run([SEED / "002_d5a8c33760b2f744.txt"]).added
    seen, table, *_ = on.refresh_if_changed("")
    generation = on.store.generation()
    assert not on.store.embed_vectors(added, batch=4, stop=iter([False, True]).__next__)
    assert on.store.generation() == generation  # a batch changes no answer
    now, table, *rest = on.refresh_if_changed(seen)
    assert now != seen and all(isinstance(output, type(gr.skip())) for output in rest)
    passages = on.store.get_speech(added).passages
    assert next(row for row in table["value"] if row[0] == added)[-1].endswith(f" 4/{passages}")
    assert on.store.embed_vectors(added)
    assert on.store.generation() != generation  # complete: dense search may use it
    final, table, speech_filter, *_ = on.refresh_if_changed(now)
    assert next(row for row in table["value"] if row[0] == added)[-1] == "完成" and "choices" in speech_filter
