"""Assembling the local model file from its part packages: only a verified file is ever used.

The fast tests build tiny fake part packages (real importable modules with ``get_part_path()``) in tmp_path."""

from __future__ import annotations

import hashlib
import os
import threading
import uuid

import pytest

from answer.llm import LLMUnavailable
from answer.llm.model_file import QWEN_CODER_1_5B, ModelSpec, ensure_model


@pytest.fixture
def parts(tmp_path, monkeypatch):
    """Three fake part packages holding 1 MB, 1 MB and 123 bytes; returns (spec, expected bytes, part files)."""
    root = tmp_path / "packages"
    prefix = f"fake_part_{uuid.uuid4().hex[:8]}"
    chunks = [os.urandom(1 << 20), os.urandom(1 << 20), os.urandom(123)]
    files, modules = [], []
    for i, chunk in enumerate(chunks, 1):
        package = root / f"{prefix}{i}"
        (package / "data").mkdir(parents=True)
        (package / "data" / f"part{i}.bin").write_bytes(chunk)
        (package / "__init__.py").write_text(
            "import os\n"
            "def get_part_path():\n"
            f"    return os.path.join(os.path.dirname(__file__), 'data', 'part{i}.bin')\n"
        )
        files.append(package / "data" / f"part{i}.bin")
        modules.append(package.name)
    monkeypatch.syspath_prepend(str(root))
    whole = b"".join(chunks)
    spec = ModelSpec("model.gguf", len(whole), hashlib.sha256(whole).hexdigest(), tuple(modules), "==1.0")
    return spec, whole, files


def _model_dir(tmp_path):
    return tmp_path / "models"


def test_assembles_parts_in_order_and_stamps_the_file(tmp_path, parts):
    spec, whole, _ = parts
    path = ensure_model(_model_dir(tmp_path), spec)
    assert path == _model_dir(tmp_path) / "model.gguf"
    assert path.read_bytes() == whole
    assert (_model_dir(tmp_path) / "model.gguf.sha256").is_file()
    assert not (_model_dir(tmp_path) / "model.gguf.partial").exists()


def test_a_stamped_file_is_trusted_without_rehashing(tmp_path, parts):
    """The stamp (size + mtime + hash) is what saves hashing 1.1 GB at every start: a file that still matches it
    is used as it is, even if its bytes were changed behind our back with the mtime put back."""
    spec, whole, files = parts
    path = ensure_model(_model_dir(tmp_path), spec)
    st = path.stat()
    with open(path, "r+b") as f:
        f.write(b"\x00")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    for f in files:
        f.unlink()  # a rebuild would need them
    assert ensure_model(_model_dir(tmp_path), spec) == path


def test_truncated_file_is_rebuilt(tmp_path, parts):
    spec, whole, _ = parts
    path = ensure_model(_model_dir(tmp_path), spec)
    with open(path, "r+b") as f:
        f.truncate(1000)
    assert ensure_model(_model_dir(tmp_path), spec).read_bytes() == whole


@pytest.mark.parametrize("stamp", ["removed", "mismatched"])
def test_corrupted_byte_of_same_size_is_rebuilt(tmp_path, parts, stamp):
    spec, whole, _ = parts
    path = ensure_model(_model_dir(tmp_path), spec)
    st = path.stat()
    with open(path, "r+b") as f:
        f.seek(5000)
        f.write(bytes([whole[5000] ^ 0xFF]))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # a write moves the mtime (even on a coarse clock)
    if stamp == "removed":
        (_model_dir(tmp_path) / "model.gguf.sha256").unlink()
    assert ensure_model(_model_dir(tmp_path), spec).read_bytes() == whole


def test_good_file_without_stamp_is_hashed_once_and_kept(tmp_path, parts):
    spec, whole, files = parts
    folder = _model_dir(tmp_path)
    folder.mkdir(parents=True)
    (folder / "model.gguf").write_bytes(whole)  # e.g. copied in by hand
    for f in files:
        f.unlink()  # proves it is not rebuilt
    assert ensure_model(_model_dir(tmp_path), spec).read_bytes() == whole
    assert (folder / "model.gguf.sha256").is_file()


def test_stale_temporary_file_is_ignored(tmp_path, parts):
    spec, whole, _ = parts
    folder = _model_dir(tmp_path)
    folder.mkdir(parents=True)
    (folder / "model.gguf.partial").write_bytes(b"left by a killed run" * 1000)
    assert ensure_model(_model_dir(tmp_path), spec).read_bytes() == whole
    assert not (folder / "model.gguf.partial").exists()


def test_missing_part_package_is_named_with_the_install_command(tmp_path, parts):
    spec, _, _ = parts
    spec = ModelSpec(spec.filename, spec.size, spec.sha256, spec.modules + ("no_such_part_pkg9",), "==1.0")
    with pytest.raises(LLMUnavailable, match=r"no-such-part-pkg9 is not installed.*pip install .*-pkg9==1\.0"):
        ensure_model(_model_dir(tmp_path), spec)
    assert not (_model_dir(tmp_path) / "model.gguf").exists()


def test_damaged_parts_leave_no_file(tmp_path, parts):
    spec, _, files = parts
    files[1].write_bytes(os.urandom(1 << 20))  # same size, other bytes
    with pytest.raises(LLMUnavailable, match="damaged.*Reinstall"):
        ensure_model(_model_dir(tmp_path), spec)
    left = {p.name for p in _model_dir(tmp_path).iterdir()}
    assert left <= {"model.gguf.lock"}


def test_unwritable_models_dir_is_a_clear_error(tmp_path, parts):
    spec, _, _ = parts
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(LLMUnavailable, match="SPEECHES_MODEL_DIR"):
        ensure_model(tmp_path / "file" / "models", spec)


def test_concurrent_callers_all_get_the_verified_file(tmp_path, parts):
    """flock locks belong to open file descriptions, so threads exclude each other as processes do."""
    spec, whole, _ = parts
    results, errors = [], []

    def call():
        try:
            results.append(ensure_model(_model_dir(tmp_path), spec))
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=call) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(set(results)) == 1
    assert results[0].read_bytes() == whole


@pytest.mark.slow
def test_real_model_is_assembled_and_then_trusted(llm_model_dir):
    path = llm_model_dir / QWEN_CODER_1_5B.filename
    assert path.stat().st_size == QWEN_CODER_1_5B.size
    with open(path, "rb") as f:
        assert f.read(4) == b"GGUF"
    assert ensure_model(llm_model_dir) == path  # the stamp matches: no rehash
