"""Every public name (in a public module's ``__all__``) has an entry in the API reference."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path
from typing import Any

import nnkit

ROOT = Path(__file__).resolve().parents[1]
DIRECTIVE = re.compile(r"^\.\. auto(\w+):: ([\w.]+)\n((?:   :[\w-]+:.*\n)*)", re.M)


def _public_modules() -> list[Any]:
    modules = [nnkit]
    for info in pkgutil.walk_packages(nnkit.__path__, "nnkit."):
        if any(part.startswith("_") for part in info.name.split(".")):
            continue
        modules.append(importlib.import_module(info.name))
    return [m for m in modules if hasattr(m, "__all__")]


def _resolve(path: str) -> Any:
    """What ``path`` names, attributes first (``nnkit.text.generate`` is the function that
    ``nnkit.text`` exports, not the module of the same name)."""
    parts = path.split(".")
    obj: Any = importlib.import_module(parts[0])
    for index, attr in enumerate(parts[1:], start=2):
        if not hasattr(obj, attr):
            importlib.import_module(".".join(parts[:index]))
        obj = getattr(obj, attr)
    return obj


def _documented() -> set[int]:
    ids: set[int] = set()
    for page in [*(ROOT / "docs").glob("*.rst"), *(ROOT / "docs" / "api").glob("*.rst")]:
        for kind, path, options in DIRECTIVE.findall(page.read_text(encoding="utf-8")):
            obj = _resolve(path)
            ids.add(id(obj))
            if kind != "module":
                continue
            members = re.search(r":members:(.*)", options)
            if members is None:
                continue
            listed = [m.strip() for m in members.group(1).split(",") if m.strip()]
            for name in listed or getattr(obj, "__all__", []):
                ids.add(id(getattr(obj, name)))
    return ids


def test_every_public_name_has_an_api_entry() -> None:
    documented = _documented()
    missing = [
        f"{module.__name__}.{name}"
        for module in _public_modules()
        for name in module.__all__
        if not name.startswith("_")
        and id(getattr(module, name)) not in documented
        and not isinstance(getattr(module, name), type(nnkit))  # a submodule: its own page
    ]
    assert missing == [], "no API entry for: " + ", ".join(sorted(missing))
