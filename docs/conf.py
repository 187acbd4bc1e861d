"""Sphinx configuration for nnkit's documentation (builds offline, warnings are errors in CI)."""

from __future__ import annotations

import nnkit

project = "nnkit"
author = "nnkit developers"
copyright = "2026, nnkit developers"  # noqa: A001
release = nnkit.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
]
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
napoleon_numpy_docstring = True
napoleon_google_docstring = False
napoleon_use_rtype = False
napoleon_custom_sections = [("Shape", "params_style")]

html_theme = "furo"
html_title = f"nnkit {release}"
html_static_path = ["_static"]
exclude_patterns = ["_build"]
