"""Try every numeric flag of the ``nnkit`` command with hostile values, as a new user might.

Usage::

    python scripts/fuzz_cli.py WORKDIR

Runs the installed ``nnkit`` command (one process per case: about 100 cases, most refused at
once, some training for a few seconds) on a small corpus and model it writes into WORKDIR, and
prints every case that breaks the command line's rule: exit 0, 1 or 2, no traceback, and one
line on stderr for an error. Each case has 90 seconds. Exits 1 when any case broke the rule.
The table-driven test ``tests/cli/test_cli_errors.py`` holds the cases this found.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import torch

from nnkit.models import CharRNN
from nnkit.text import Vocab, save

VALUES = ("0", "-1", "nan", "inf", "-inf", "1e18", "99999999999999999999", "0.5")


def commands(work: Path) -> dict[str, tuple[str, ...]]:
    corpus, model = work / "corpus.txt", work / "model.pt"
    return {
        f"text train {corpus} --out {work}/m.pt --epochs 1 --quiet --hidden 8 --layers 1": (
            "--hidden", "--layers", "--dropout", "--minutes", "--epochs", "--seq-len",
            "--batch-size", "--lr", "--weight-decay", "--seed", "--dist-timeout",
        ),
        f"text generate {model} --length 5": ("--length", "--temperature", "--top-k", "--seed"),
        f"text eval {model} {corpus} --dynamic": ("--dynamic-lr", "--segment-len"),
        "mnist --depth 1 --epochs 1 --quiet": (
            "--seeds", "--epochs", "--batch-size", "--lr", "--dist-timeout",
        ),
        f"optim --out {work}/o.png --steps 5": ("--steps", "--lr"),
        "summary": ("--batch",),
    }  # fmt: skip


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    work = Path(sys.argv[1])
    work.mkdir(parents=True, exist_ok=True)
    text = "hello world. " * 200
    (work / "corpus.txt").write_text(text, encoding="utf-8")
    vocab = Vocab.from_text(text)
    torch.manual_seed(0)
    save(work / "model.pt", CharRNN(len(vocab), hidden_size=8, num_layers=1), vocab)
    nnkit = shutil.which("nnkit") or "nnkit"
    broken = 0
    for command, flags in commands(work).items():
        for flag in flags:
            for value in VALUES:
                line = [*command.split(), flag, value]
                try:
                    result = subprocess.run(
                        [nnkit, *line], capture_output=True, text=True, timeout=90, check=False
                    )
                except subprocess.TimeoutExpired:
                    broken += 1
                    print(f"TIMEOUT {line[0]} {line[1]} {flag} {value}")
                    continue
                errors = result.stderr.strip().splitlines()
                good = (
                    result.returncode in (0, 1, 2)
                    and "Traceback" not in result.stderr
                    and (result.returncode == 0 or len(errors) == 1)
                )
                if not good:
                    broken += 1
                    tail = result.stderr[-300:].replace("\n", " / ")
                    print(
                        f"BAD exit {result.returncode}: {line[0]} {line[1]} {flag} {value} | {tail}"
                    )
    print(f"{broken} case(s) broke the rule")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
