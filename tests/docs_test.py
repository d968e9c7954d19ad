"""The docs cannot drift from the code.

- docs/reference/*.md are what docs/_reference.py generates from `__all__`;
- every public name has a docstring;
- every ```python and ```bash block of the guides runs, in page order, in one
  namespace per page (a fresh process in a temporary directory). Lines
  starting with `make ` are the setup commands CI itself runs, and are skipped.
"""

import importlib
import os
import pathlib
import re
import subprocess
import sys
import textwrap

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
sys.path.insert(0, str(DOCS))
import _reference  # noqa: E402

FENCE = re.compile(r"^```(\w+)[^\n]*\n(.*?)^```\s*$", re.S | re.M)
PAGES = sorted([DOCS / "index.md", *(DOCS / "guides").glob("*.md")])


def code_blocks(page):
    """`(language, code)` of each python or bash block of a page, in order."""
    blocks = []
    for language, code in FENCE.findall(page.read_text(encoding="utf-8")):
        if language == "bash":
            code = "\n".join(line for line in code.splitlines()
                             if not line.lstrip().startswith("make "))
        if language in ("python", "bash") and code.strip():
            blocks.append((language, code))
    return blocks


_DRIVER = textwrap.dedent("""
    import json, os, subprocess, sys
    blocks = json.load(open(sys.argv[1]))
    namespace = {"__name__": "__docs__"}
    for index, (language, code) in enumerate(blocks):
        where = f"{sys.argv[2]} block {index + 1} ({language})"
        print(f"--- {where}", flush=True)
        if language == "python":
            exec(compile(code, where, "exec"), namespace)
        else:
            result = subprocess.run(["bash", "-euo", "pipefail", "-c", code])
            if result.returncode:
                sys.exit(f"{where} exited with status {result.returncode}")
""")


def test_reference_pages_are_up_to_date():
    generated = _reference.pages()
    committed = {p.name: p.read_text() for p in (DOCS / "reference").glob("*.md")}
    assert committed == generated, "run `python docs/_reference.py` and commit docs/reference/"


def test_every_public_name_has_a_docstring():
    missing = []
    for package_name in _reference.PACKAGES + _reference.OPTIONAL:
        try:
            importlib.import_module(package_name)
        except ModuleNotFoundError:
            continue
        for name, path in _reference.public_objects(package_name):
            module, _, attribute = path.rpartition(".")
            value = getattr(sys.modules[package_name], name)
            if not (getattr(value, "__doc__", None) or "").strip():
                missing.append(f"{package_name}.{name}")
    assert not missing, f"public names without a docstring: {missing}"


def test_every_guide_has_a_runnable_snippet_first():
    for page in PAGES:
        blocks = code_blocks(page)
        assert blocks, f"{page.name} has no runnable code block"


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_guide_code_blocks_run(page, tmp_path):
    import json

    blocks = code_blocks(page)
    (tmp_path / "blocks.json").write_text(json.dumps(blocks))
    (tmp_path / "driver.py").write_text(_DRIVER)
    env = dict(os.environ, MPLBACKEND="Agg", TF_CPP_MIN_LOG_LEVEL="3",
               PATH=f"{pathlib.Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    result = subprocess.run([sys.executable, "driver.py", "blocks.json", page.name],
                            cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=900)
    assert result.returncode == 0, (result.stdout[-4000:] + "\n" + result.stderr[-6000:])
