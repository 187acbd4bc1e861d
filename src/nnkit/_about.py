"""Which nnkit this is, and where it was installed from (for ``nnkit --version``).

The name ``nnkit`` on the Python package index belongs to an unrelated project (versions 1.1 to
1.4.2, 2018), so a version number alone does not say which package a user has.
"""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path

from . import __version__

__all__ = ["installed_from", "version_line"]

#: The unrelated project that holds the name on the package index.
INDEX_NAME_NOTE = "not the unrelated 'nnkit' of the Python package index"


def installed_from() -> str:
    """Where this nnkit came from: the wheel, the folder of an editable or local install (PEP
    610's ``direct_url.json``), or the folder it is imported from."""
    here = Path(__file__).resolve().parent
    try:
        dist = metadata.distribution("nnkit")
        raw = dist.read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        return f"{here} (not installed: imported from a source tree)"
    if raw:
        try:
            direct = json.loads(raw)
        except json.JSONDecodeError:
            direct = {}
        url = str(direct.get("url", ""))
        if direct.get("dir_info", {}).get("editable"):
            return f"{url.removeprefix('file://')} (editable install)"
        if url:
            return url.removeprefix("file://")
    return f"{here} (installed from an index: check that it is this project)"


def version_line() -> str:
    """``nnkit 0.1.0 from /path (...)``: the version, the source, and which project it is."""
    return f"nnkit {__version__} from {installed_from()}; {INDEX_NAME_NOTE}"
