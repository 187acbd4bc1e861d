"""Cut the embedded MNIST sample out of the official files.

Usage::

    python scripts/make_sample.py ../shared/data/mnist [--train 10000] [--test 2000]

Writes ``src/nnkit/_sample/sample-<official name>.gz`` (gzip with mtime 0, so the output is
reproducible) and prints the SHA-256 of each uncompressed file, which belong in
``nnkit.data.mnist.SAMPLE_SHA256``. The sample is the first N items of each official file, byte
for byte: the IDX header is rewritten with the new count, the records are copied unchanged.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
from pathlib import Path

from nnkit.data.mnist import MNIST_FILES, MNIST_SHA256, _content, _locate, _verify

OUT = Path(__file__).resolve().parents[1] / "src" / "nnkit" / "_sample"


def cut(content: bytes, count: int) -> bytes:
    ndim = content[3]
    dims = [int.from_bytes(content[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    record = 1
    for d in dims[1:]:
        record *= d
    header = bytearray(content[: 4 + 4 * ndim])
    header[4:8] = count.to_bytes(4, "big")
    start = 4 + 4 * ndim
    return bytes(header) + content[start : start + count * record]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--train", type=int, default=10_000)
    parser.add_argument("--test", type=int, default=2_000)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    for (split, _kind), name in MNIST_FILES.items():
        path = _locate(args.root, name)
        if path is None:
            raise SystemExit(f"{name} not found under {args.root}")
        content = _content(path)
        _verify(content, name, MNIST_SHA256[name], str(path))
        sample = cut(content, args.train if split == "train" else args.test)
        (OUT / f"sample-{name}.gz").write_bytes(gzip.compress(sample, compresslevel=9, mtime=0))
        print(f'    "sample-{name}": "{hashlib.sha256(sample).hexdigest()}",')


if __name__ == "__main__":
    main()
