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
    "sphinxarg.ext",
]
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
napoleon_numpy_docstring = True
napoleon_google_docstring = False
napoleon_use_rtype = False
napoleon_custom_sections = ["Shape"]  # a generic section: a rubric, then the list as written
autodoc_preserve_defaults = True  # show DEFAULT_LR_GRID, not its 31 floats

html_theme = "furo"
html_title = f"nnkit {release}"
html_static_path = ["_static"]
templates_path = ["_templates"]
html_css_files = ["edition.css"]
exclude_patterns = ["_build"]

# -- the Japanese edition: ``sphinx-build -D language=ja -b html docs docs/_build/html/ja`` ---
# The guide pages' messages are translated in locale/ja/LC_MESSAGES/<page>.po (the API and CLI
# references stay in English: no catalogue for them); ``python scripts/translations.py update``
# refreshes the catalogues after an English page changes. Code blocks, doctests, command lines,
# figures and numbers are never messages, so both editions show (and test) the same code.
locale_dirs = ["locale/"]
gettext_compact = True  # api/*.rst -> one api.pot (left untranslated)
gettext_location = False  # no line numbers in the catalogues: an edit elsewhere is no diff
gettext_uuid = False
# language -> the other edition and its link, in that edition's language
EDITIONS = {"en": ("ja", "このページの日本語版"), "ja": ("en", "This page in English")}
html_theme_options = {"announcement": "edition"}  # the bar's text is _templates/page.html's link

# -- nitpicky (-n): every reference to nnkit resolves; only third-party targets are excused ---
# The docs build offline, so there is no intersphinx inventory for Python, PyTorch, NumPy or
# Matplotlib; their names are listed here and nowhere else.
nitpicky = True
nitpick_ignore_regex = [
    ("py:.*", r"(torch|numpy|matplotlib|tqdm)(\..*)?"),
    ("py:.*", r"(collections\.abc|typing|os|pathlib|abc|contextlib|argparse|io)\..*"),
    ("py:.*", r"(nn\.Module|Module|Parameter|DataLoader|Dataset|TensorDataset)"),
    ("py:.*", r"optim\..*"),  # torch.optim imported as optim
]
napoleon_preprocess_types = True
_SHORT = {  # short names used in docstring types and annotations -> where they are documented
    "DataLike": "nnkit.data.DataLike",
    "Runtime": "nnkit.runtime.Runtime",
    "History": "nnkit.history.History",
    "Surface": "nnkit.surfaces.Surface",
    "MLP": "nnkit.models.MLP",
    "CharRNN": "nnkit.models.CharRNN",
    "CharTransformer": "nnkit.models.CharTransformer",
    "TransformerState": "nnkit.models.char_transformer.TransformerState",
    "CharScores": "nnkit.text.CharScores",
    "KneserNey": "nnkit.text.KneserNey",
    "Vocab": "nnkit.text.Vocab",
    "SeedCell": "nnkit.models.char_rnn.SeedCell",
    "Callback": "nnkit.callbacks.Callback",
    "Schedule": "nnkit.schedules.Schedule",
    "SchedulerName": "nnkit.schedules.SchedulerName",
    "Recipe": "nnkit.recipes.Recipe",
    "RecipeName": "nnkit.recipes.RecipeName",
    "OptimizerName": "nnkit.optimizers.OptimizerName",
    "LossArg": "nnkit.losses.LossArg",
    "DepthStudy": "nnkit.experiments.DepthStudy",
    "Spread": "nnkit.experiments.Spread",
    "BackpropActivation": "nnkit.backprop.BackpropActivation",
    "BackpropOutput": "nnkit.backprop.BackpropOutput",
    "BackpropLoss": "nnkit.backprop.BackpropLoss",
}
napoleon_type_aliases = {
    "sequence": ":obj:`sequence <collections.abc.Sequence>`",
    "mapping": ":obj:`mapping <collections.abc.Mapping>`",
    "iterable": ":obj:`iterable <collections.abc.Iterable>`",
    "callable": ":obj:`callable <collections.abc.Callable>`",
    **_SHORT,
}
# annotations that name an alias rather than a class ("T": DistContext's TypeVar)
autodoc_type_aliases = {"T": "typing.Any"}


def _public_bases(app: object, name: str, obj: object, options: object, bases: list[type]) -> None:
    """Show a class's public ancestors instead of a private base (``_LossModule``...)."""
    shown: list[type] = []
    for base in bases:
        pending = [base]
        while pending:
            cls = pending.pop(0)
            private = cls.__name__.startswith("_") or "._" in cls.__module__
            if private:
                pending[:0] = [b for b in cls.__bases__ if b is not object]
            elif cls not in shown:
                shown.append(cls)
    bases[:] = shown or [object]


def _edition_link(
    app: object, pagename: str, templatename: str, context: dict[str, object], doctree: object
) -> None:
    """The same page in the other edition: English at the root of the output, Japanese in its
    ``ja/`` folder (as README's two build commands lay them out)."""
    language = app.config.language or "en"  # type: ignore[attr-defined]
    other, label = EDITIONS.get(language, EDITIONS["en"])
    up = "../" * pagename.count("/")
    step = "ja/" if other == "ja" else "../"
    context["edition_link"] = {"href": f"{up}{step}{pagename}.html", "lang": other, "label": label}


def setup(app: object) -> None:
    app.connect("autodoc-process-bases", _public_bases)  # type: ignore[attr-defined]
    app.connect("html-page-context", _edition_link)  # type: ignore[attr-defined]
