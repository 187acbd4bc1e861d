"""The Japanese edition of the guide: every message translated and none fuzzy, code never a
message, both editions built with ``-W -n``, the same code blocks in both, translated headings,
and a link from every page to itself in the other edition.

The catalogues are checked against messages extracted from the English pages as they are now,
so an edited English paragraph fails here until ``python scripts/translations.py update`` has
merged it and somebody has translated it.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from types import ModuleType

import pytest
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

pytestmark = pytest.mark.slow


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("translations", ROOT / "scripts/translations.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


translations = _load_script()


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return dict(translations.extract(tmp_path_factory.mktemp("gettext")))


@pytest.fixture(scope="module")
def editions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Both editions laid out as README builds them: English at the root, Japanese in ja/."""
    out = tmp_path_factory.mktemp("html")
    for extra, dest in (([], out), (["-D", "language=ja"], out / "ja")):
        build = [sys.executable, "-m", "sphinx", "-q", "-W", "-n", "--keep-going", *extra]
        done = subprocess.run([*build, "-b", "html", str(DOCS), str(dest)],
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    return out


def _catalogue(domain: str) -> dict[str, str]:
    with (translations.CATALOGUES / f"{domain}.po").open("rb") as handle:
        return {str(m.id): str(m.string) for m in read_po(handle) if m.id}


def _guide_pages() -> list[str]:
    """The pages of index.rst's Guide toctree."""
    index = (DOCS / "index.rst").read_text(encoding="utf-8")
    block = index.split(":caption: Guide", 1)[1].split(".. toctree::", 1)[0]
    return [line.strip() for line in block.splitlines()[1:] if line.strip()]


def test_every_guide_message_is_translated_and_none_is_fuzzy(templates: dict[str, Path]) -> None:
    problems = translations.check(templates)
    assert not problems, "run `python scripts/translations.py update` and translate:\n" + "\n".join(
        map(str, problems)
    )


def test_the_check_finds_an_untranslated_and_a_fuzzy_message(
    templates: dict[str, Path], tmp_path: Path
) -> None:
    po = (translations.CATALOGUES / "quickstart.po").read_text(encoding="utf-8")
    entry = re.search(r'msgid "Quickstart"\nmsgstr ".+"', po)
    assert entry is not None
    edited = tmp_path / "quickstart.po"
    only = {"quickstart": templates["quickstart"]}

    def found(text: str) -> list[tuple[str, str]]:
        edited.write_text(po.replace(entry.group(0), text), encoding="utf-8")
        return [(p.kind, p.msgid) for p in translations.check(only, tmp_path)]

    assert found(entry.group(0)) == []
    assert found('msgid "Quickstart"\nmsgstr ""') == [("untranslated", "Quickstart")]
    assert found("#, fuzzy\n" + entry.group(0)) == [("fuzzy", "Quickstart")]
    assert found("") == [("untranslated", "Quickstart")]  # the message left out altogether
    edited.unlink()
    assert [p.kind for p in translations.check(only, tmp_path)] == ["missing catalogue"]


def test_the_guide_pages_are_exactly_the_translated_ones(templates: dict[str, Path]) -> None:
    """A new guide page needs its catalogue; the API and CLI references and the changelog stay
    in English (no catalogue for them)."""
    expected = {"index", *_guide_pages()} - translations.ENGLISH_ONLY
    assert set(templates) == expected
    shipped = {po.stem for po in translations.CATALOGUES.glob("*.po")} - {"sphinx"}
    assert shipped == expected


_MARKUP = re.compile(r"``.+?``|:[a-z:]+:`[^`]+`|`[^`]+`__?|\|[^|\s]+\||\[\d+\]_")


_TITLE = re.compile(r"`[^`<]*<([^`>]+)>`")  # a reference's own title may be translated


def _markup(text: str) -> list[str]:
    return sorted(_TITLE.sub(r"`<\1>`", found) for found in _MARKUP.findall(text))


def test_code_references_and_links_are_kept_as_written(templates: dict[str, Path]) -> None:
    """Inline code, references to nnkit, links and footnotes come through a translation
    unchanged; whole code blocks and doctests are never messages at all."""
    for domain in templates:
        for english, japanese in _catalogue(domain).items():
            assert ">>>" not in english, (domain, english)
            if japanese:  # an untranslated message is the other test's failure
                assert _markup(japanese) == _markup(english), (domain, english)


class _Page(HTMLParser):
    """Headings (without the pilcrow link) and ``<pre>`` blocks of one built page."""

    def __init__(self) -> None:
        super().__init__()
        self.headings: list[str] = []
        self.blocks: list[str] = []
        self.links: list[tuple[str, str]] = []
        self._heading: list[str] | None = None
        self._pre: list[str] | None = None
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag in ("h1", "h2", "h3"):
            self._heading = []
        elif tag == "pre":
            self._pre = []
        elif tag == "a":
            if found.get("class") == "headerlink":
                self._skip += 1
            if found.get("hreflang"):
                self.links.append((str(found["hreflang"]), str(found.get("href"))))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("h1", "h2", "h3") and self._heading is not None:
            self.headings.append("".join(self._heading).strip())
            self._heading = None
        elif tag == "pre" and self._pre is not None:
            self.blocks.append("".join(self._pre))
            self._pre = None
        elif tag == "a" and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._heading is not None:
            self._heading.append(data)
        if self._pre is not None:
            self._pre.append(data)


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


_JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
def _shown(message: str) -> str:
    """A heading's message as the page shows it: inline literals without their backquotes."""
    return message.replace("``", "")


# Sphinx's smart quotes dress the English headings (not the Japanese: off for "ja") in curly
# quotes and dashes; the catalogue holds them as written.
_PLAIN = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"',
                        "\u2013": "--", "\u2014": "---", "\u2026": "..."})


@pytest.mark.parametrize("name", ["index", "tutorial_mnist"])
def test_the_japanese_pages_have_the_translated_headings(editions: Path, name: str) -> None:
    english = _parse(editions / f"{name}.html").headings
    japanese = _parse(editions / "ja" / f"{name}.html").headings
    catalogue = {_shown(en): _shown(ja) for en, ja in _catalogue(name).items()}
    assert len(japanese) == len(english) >= 1
    for en, ja in zip(english, japanese, strict=True):
        if en == "nnkit":  # the project's name is its name in both
            assert ja == en
            continue
        assert ja == catalogue[en.translate(_PLAIN)], (en, ja)
        assert _JAPANESE.search(ja), ja


def test_both_editions_show_the_same_code(editions: Path) -> None:
    """The doctests and code blocks that the tests run from the English pages are, character for
    character, the ones the Japanese edition shows."""
    for name in {"index", *_guide_pages()}:
        english = _parse(editions / f"{name}.html").blocks
        assert _parse(editions / "ja" / f"{name}.html").blocks == english, name


def _pages(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*.html")):
        if "_static" not in path.parts and "ja" not in path.relative_to(root).parts[:1]:
            yield path


def test_every_page_links_to_itself_in_the_other_edition(editions: Path) -> None:
    pages = list(_pages(editions))
    assert len(pages) > 20
    for page in pages:
        other = editions / "ja" / page.relative_to(editions)
        for source, target, lang in ((page, other, "ja"), (other, page, "en")):
            [(found, href)] = _parse(source).links
            assert found == lang, source
            assert (source.parent / href).resolve() == target.resolve(), (source, href)
