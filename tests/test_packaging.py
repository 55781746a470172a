"""The package and its dependencies as declared (pyproject.toml, requirements.txt, requirements-test.txt) against what
the code imports: every import is declared, every declared dependency is imported, the pins are the installed
versions and lie within the declared ranges, every module of the project is in the package, and the built wheel
installs a working ``speeches`` command."""

from __future__ import annotations

import ast
import importlib.metadata as metadata
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

PRODUCT = ["app.py", "settings.py", "terminal.py", "ingest", "retriever", "answer", "study", "web", "prompts"]
NOT_PACKAGED = {"tests", "bench", "docs", "data", "build"}  # top-level folders that are not part of the package
PINNED_BESIDE = {"torch": "the CPU build of what the st extra pulls in, pinned so pip takes that one"}


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared(*extras: str) -> dict[str, Requirement]:
    project = pyproject()["project"]
    lines = list(project["dependencies"]) if "core" in extras else []
    for extra in extras:
        lines += project["optional-dependencies"].get(extra, [])
    return {canonical(r.name): r for r in map(Requirement, lines)}


def pins(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            name, _, version = line.partition("==")
            assert version, f"{path.name}: {line!r} is not pinned with =="
            found[canonical(name)] = version
    return found


def first_party() -> set[str]:
    return {p.stem for p in ROOT.iterdir() if p.suffix == ".py" or (p / "__init__.py").exists()} | {"samples"}


def third_party_imports(paths: list[Path]) -> dict[str, set[str]]:
    """Top-level module -> the files importing it, for the modules neither the standard library's nor ours."""
    helpers = {p.stem for p in (ROOT / "bench").glob("*.py")} | {p.stem for p in ROOT.glob("tests/**/*.py")}
    ours, found = first_party() | helpers | {"browser", "security", "bench"}, {}
    files = [f for p in paths for f in ([p] if p.is_file() else sorted(p.rglob("*.py")))]
    for file in files:
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else []
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in ours:
                    found.setdefault(top, set()).add(str(file.relative_to(ROOT)))
    return found


def providers(module: str) -> set[str]:
    return {canonical(d) for d in metadata.packages_distributions().get(module, [])}


def loaded_by_name() -> set[str]:
    """Distributions the code imports by a computed name: the local model's 22 part packages."""
    from answer.llm.model_file import QWEN_CODER_1_5B

    return {canonical(m) for m in QWEN_CODER_1_5B.modules}


def test_every_import_of_the_app_is_declared_and_every_declared_dependency_is_imported():
    wanted = declared("core", "st")
    imports = third_party_imports([ROOT / p for p in PRODUCT])
    undeclared = {m: sorted(files)[:3] for m, files in imports.items() if not providers(m) & set(wanted)}
    assert not undeclared, f"imported but not declared in pyproject.toml: {undeclared}"
    used = {d for m in imports for d in providers(m)} | loaded_by_name()
    assert set(wanted) - used == set(), "declared in pyproject.toml but never imported"


def test_tests_and_benches_import_only_what_is_declared_for_them():
    wanted = set(declared("core", "st", "test", "bench"))
    for folder in ("tests", "bench"):
        imports = third_party_imports([ROOT / folder])
        undeclared = {m: sorted(files)[:3] for m, files in imports.items() if not providers(m) & wanted}
        assert not undeclared, f"{folder}/ imports what pyproject.toml does not declare: {undeclared}"


@pytest.mark.parametrize(("file", "extras", "beside"), [
    ("requirements.txt", ("core", "st"), PINNED_BESIDE),
    ("requirements-test.txt", ("test",), {}),
])
def test_requirements_pin_what_pyproject_declares_at_the_installed_versions(file, extras, beside):
    wanted, pinned = declared(*extras), pins(ROOT / file)
    assert set(pinned) == set(wanted) | set(beside), f"{file} pins other packages than pyproject.toml declares"
    constraints = pins(ROOT / "constraints.txt")
    for name, version in pinned.items():
        if name in wanted:
            assert wanted[name].specifier.contains(version), f"{file}: {name}=={version} is outside {wanted[name]}"
        assert constraints.get(name) == version, f"{file}: {name}=={version}, constraints.txt {constraints.get(name)}"
        installed = metadata.version(name)  # "2.13.0+cpu" is a 2.13.0
        assert SpecifierSet(f"=={version}").contains(installed), f"{name} {installed} is installed, {file}: {version}"


def test_every_module_of_the_project_is_in_the_package():
    config = pyproject()["tool"]["setuptools"]
    modules = {p.stem for p in ROOT.glob("*.py")}
    tops = {p.name for p in ROOT.iterdir() if p.is_dir() and p.name not in NOT_PACKAGED and not p.name.startswith(".")}
    packages = {str(p.parent.relative_to(ROOT)).replace("/", ".") for top in tops for p in
                (ROOT / top).glob("**/__init__.py")}
    assert set(config["py-modules"]) == modules
    assert set(config["packages"]) == packages | {"samples"}
    assert pyproject()["project"]["scripts"] == {"speeches": "app:main"}


@pytest.mark.slow
def test_the_wheel_holds_the_data_files_and_installs_the_speeches_command(tmp_path):
    source = tmp_path / "source"  # a copy: building writes build/ and *.egg-info beside the sources
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".git", ".venv", "data", "tests", "bench", "docs",
                                                               "__pycache__", "*.egg-info", "build"))
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(tmp_path / "dist"), str(source)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    wheel = next((tmp_path / "dist").glob("speeches_assistant-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for wanted in ("app.py", "settings.py", "prompts/answer.zh.txt", "web/templates/answer.html", "web/static/embed.js",
                   "samples/2025-city-work-meeting.txt", "samples/2024-county-congress-closing.meta.json",
                   "answer/llm/local.py"):
        assert wanted in names, f"{wanted} is not in {wheel.name}"
    target = tmp_path / "installed"
    installed = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target),
                                str(wheel)], capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stderr
    env = {"PYTHONPATH": str(target), "PATH": f"{target / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path)}
    helped = subprocess.run([str(target / "bin" / "speeches"), "ask", "--help"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert helped.returncode == 0, helped.stderr
    assert "--years" in helped.stdout and "--speech" in helped.stdout
    where = subprocess.run([sys.executable, "-c", "import app; print(app.__file__, app.SAMPLES.is_dir())"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert where.stdout.split() == [str(target / "app.py"), "True"], where.stderr
