"""The code a user copies first: every Python block of the README and of the guide pages runs,
and passes ``mypy --strict`` (the ``>>>`` examples of the pages run as doctests)."""

from __future__ import annotations

import re
import runpy
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _blocks() -> list[tuple[str, str]]:
    found = []
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for i, match in enumerate(re.finditer(r"```python\n(.*?)```", readme, re.S)):
        found.append((f"README.md#{i}", match.group(1)))
    for page in sorted((ROOT / "docs").glob("*.rst")):
        text = page.read_text(encoding="utf-8")
        pattern = r"\.\. code-block:: python\n\n((?:   .*\n|\n)+)"
        for i, match in enumerate(re.finditer(pattern, text)):
            found.append((f"{page.name}#{i}", textwrap.dedent(match.group(1))))
    return found


BLOCKS = _blocks()


def test_the_blocks_are_found() -> None:
    assert [name for name, _ in BLOCKS] == ["README.md#0", "quickstart.rst#0"]


@pytest.mark.parametrize(("name", "code"), BLOCKS, ids=[name for name, _ in BLOCKS])
def test_block_runs(name: str, code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "block.py").write_text(code, encoding="utf-8")
    runpy.run_path(str(tmp_path / "block.py"), run_name="__main__")
    assert (tmp_path / "history.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_blocks_pass_mypy_strict(tmp_path: Path) -> None:
    mypy_api = pytest.importorskip("mypy.api")
    files = []
    for index, (_, code) in enumerate(BLOCKS):
        files.append(tmp_path / f"block_{index}.py")
        files[-1].write_text(code, encoding="utf-8")
    cache = ROOT / ".mypy_cache"
    stdout, stderr, status = mypy_api.run(["--strict", "--cache-dir", str(cache), *map(str, files)])
    assert status == 0, stdout + stderr


def test_no_guide_example_reads_inside_the_checkout() -> None:
    """The pages' doctests run from a folder outside the checkout (``docs/conftest.py``), so a
    path into the repository would fail there; this names the line if one is written."""
    inside = re.compile(r"\.\./|shared/data|docs/_static|\bsrc/nnkit|benchmarks/|tests/")
    for page in sorted((ROOT / "docs").glob("*.rst")):
        for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
            if line.lstrip().startswith((">>>", "...")):
                assert not inside.search(line), f"{page.name}:{number}: {line}"
    assert "monkeypatch.chdir(tmp_path)" in (ROOT / "docs" / "conftest.py").read_text()
