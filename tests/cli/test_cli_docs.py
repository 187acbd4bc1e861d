"""Every ``nnkit`` command line shown in the README and the docs parses with the real parser,
so a renamed or removed flag fails here before it misleads a reader."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from nnkit.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]


def _command_lines() -> list[tuple[str, str]]:
    found = []
    sources = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.rst"))]
    for source in sources:
        text = source.read_text(encoding="utf-8")
        text = text.replace("\\\n", " ")  # continued shell lines
        for line in text.splitlines():
            for part in line.split("&&"):
                match = re.search(
                    r"(?:^|\s|-m )(nnkit (?:data|mnist|optim|summary|text)\b.*)", part
                )
                if match and not part.lstrip().startswith(("#", "(")):
                    command = match.group(1).split("  ")[0]  # a comment column follows
                    command = re.sub(r"\[[^\]]*\]", "", command)  # [--optional ARG] usage
                    found.append((source.name, command.strip()))
    return found


COMMANDS = _command_lines()


def test_the_docs_show_every_command() -> None:
    shown = {shlex.split(line)[1] for _, line in COMMANDS}
    assert shown == {"data", "mnist", "optim", "summary", "text"}
    assert len(COMMANDS) >= 20


@pytest.mark.parametrize(("source", "line"), COMMANDS, ids=[f"{s}:{c}" for s, c in COMMANDS])
def test_documented_command_parses(source: str, line: str) -> None:
    words = shlex.split(line)[1:]
    if "--help" in words:
        return
    args = build_parser().parse_args(words)
    assert callable(args.func), line
