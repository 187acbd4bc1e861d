"""Keep the Japanese edition of the guide in step with the English pages.

The English ``.rst`` pages are the source. ``sphinx-build -b gettext`` extracts their messages
(paragraphs, headings, list items, table cells, captions: never code blocks, doctests or
included files), and ``sphinx-intl update`` merges them into the catalogues under
``docs/locale/ja/LC_MESSAGES/<page>.po``, where a changed paragraph turns *fuzzy* and a new one
arrives untranslated. The API reference (``api``), the CLI reference (``cli``) and the
changelog stay in English and have no catalogue.

Usage::

    python scripts/translations.py update   # extract, merge; then translate what it lists
    python scripts/translations.py check    # exit 1 and name every message still to translate

``tests/test_docs_i18n.py`` runs the same check, so CI fails while any guide message is
untranslated or fuzzy.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
LANGUAGE = "ja"
CATALOGUES = DOCS / "locale" / LANGUAGE / "LC_MESSAGES"
ENGLISH_ONLY = frozenset({"api", "cli", "changelog"})  # catalogue domains left in English


@dataclass(frozen=True)
class Problem:
    """One message of a guide page that the Japanese edition does not translate (yet)."""

    domain: str
    kind: str  # "missing catalogue", "untranslated", "fuzzy", "fuzzy catalogue"
    msgid: str

    def __str__(self) -> str:
        text = " ".join(self.msgid.split())
        return f"{self.domain}.po: {self.kind}: {text[:100]}"


def extract(dest: Path) -> dict[str, Path]:
    """Run ``sphinx-build -b gettext`` into ``dest``; the guide pages' templates by domain."""
    subprocess.run(
        [sys.executable, "-m", "sphinx", "-q", "-b", "gettext", str(DOCS), str(dest)],
        check=True,
    )
    return {pot.stem: pot for pot in sorted(dest.glob("*.pot")) if pot.stem not in ENGLISH_ONLY}


def _read(path: Path) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, locale=LANGUAGE)


def check(templates: dict[str, Path], catalogues: Path = CATALOGUES) -> list[Problem]:
    """Every message of every template must have a translation that is not fuzzy."""
    problems: list[Problem] = []
    for domain, pot in templates.items():
        po = catalogues / f"{domain}.po"
        if not po.exists():
            problems.append(Problem(domain, "missing catalogue", str(po)))
            continue
        catalogue = _read(po)
        if catalogue.fuzzy:
            problems.append(Problem(domain, "fuzzy catalogue", "the header is marked fuzzy"))
        for message in _read(pot):
            if not message.id:
                continue
            found = catalogue.get(message.id, message.context)
            if found is None or not found.string:
                problems.append(Problem(domain, "untranslated", str(message.id)))
            elif found.fuzzy:
                problems.append(Problem(domain, "fuzzy", str(message.id)))
    return problems


def update(templates: dict[str, Path], catalogues: Path = CATALOGUES) -> None:
    """Merge the templates into the catalogues (``sphinx-intl update``), without marking the
    catalogues themselves fuzzy: Sphinx would then drop every translation of the page."""
    with tempfile.TemporaryDirectory() as tmp:
        pots = Path(tmp)
        for pot in templates.values():
            shutil.copy(pot, pots / pot.name)
        subprocess.run(
            [sys.executable, "-m", "sphinx_intl", "update", "-p", str(pots), "-l", LANGUAGE,
             "-d", str(catalogues.parents[1]), "-w", "100"],
            check=True, stdout=subprocess.DEVNULL,
        )
    for domain in templates:
        po = catalogues / f"{domain}.po"
        catalogue = _read(po)
        if catalogue.fuzzy or "SOME DESCRIPTIVE TITLE" in catalogue.header_comment:
            _own(catalogue, domain)
            with po.open("wb") as handle:
                write_po(handle, catalogue, width=100)


def _own(catalogue: Catalog, domain: str) -> None:
    """A new catalogue's header as nnkit's, instead of gettext's placeholders."""
    catalogue.fuzzy = False
    catalogue.header_comment = (
        f"# Japanese edition of nnkit's guide: the messages of docs/{domain}.rst.\n"
        "# Refreshed by `python scripts/translations.py update`; distributed under nnkit's licence."
    )
    catalogue.last_translator = "nnkit developers"
    catalogue.language_team = "nnkit developers"
    catalogue.revision_date = catalogue.creation_date


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["update", "check"])
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        templates = extract(Path(tmp))
        if args.command == "update":
            update(templates)
        problems = check(templates)
    for problem in problems:
        print(problem)
    print(f"{len(problems)} message(s) of {len(templates)} guide page(s) still to translate")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
