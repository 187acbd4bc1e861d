"""``benchmarks/compare_devices.py``: one command writes the table, chart and JSON for every
device present, and ``--merge`` joins runs from several machines."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import torch

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "compare_devices.py"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=600
    )


def test_measure_then_merge(tmp_path: Path) -> None:
    small = ["--sample", "--batches", "8", "--steps", "2", "--rounds", "1", "--no-epoch"]
    first = run(*small, "--out", str(tmp_path / "a"))
    assert first.returncode == 0, first.stderr
    result = json.loads((tmp_path / "a" / "devices.json").read_text())
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    assert [r["device"] for r in result["rows"]] == devices
    cpu = result["rows"][0]
    assert cpu["benchmark"] == "step" and cpu["setting"] == "batch 8" and cpu["vs_cpu"] == 1.0
    assert cpu["samples_per_second"] > 0 and "threads" in cpu["name"]
    assert "embedded sample" in result["runs"][0]["data"]
    table = (tmp_path / "a" / "devices.md").read_text()
    assert "| vs CPU |" in table and "| 1.00x |" in table
    assert (tmp_path / "a" / "devices.png").read_bytes()[:4] == b"\x89PNG"
    # a second "machine": the same file with another name, joined into one table
    other = json.loads((tmp_path / "a" / "devices.json").read_text())
    for row in other["rows"]:
        row["machine"], row["samples_per_second"] = "gpu-server", 2 * row["samples_per_second"]
    other["runs"][0]["machine"] = "gpu-server"
    (tmp_path / "b.json").write_text(json.dumps(other))
    merged = run("--merge", str(tmp_path / "a" / "devices.json"), str(tmp_path / "b.json"),
                 "--out", str(tmp_path / "all"))  # fmt: skip
    assert merged.returncode == 0, merged.stderr
    rows = json.loads((tmp_path / "all" / "devices.json").read_text())["rows"]
    assert {r["machine"] for r in rows} == {cpu["machine"], "gpu-server"}
    assert all(r["vs_cpu"] == 1.0 for r in rows if r["device"] == "cpu")  # each its own CPU
    assert "gpu-server" in (tmp_path / "all" / "devices.md").read_text()


def test_missing_data_and_files_are_refused(tmp_path: Path) -> None:
    result = run("--data", str(tmp_path), "--out", str(tmp_path))
    assert result.returncode == 2 and "--data: no MNIST files in" in result.stderr
    result = run("--merge", str(tmp_path / "none.json"))
    assert result.returncode == 2 and "--merge: no such file" in result.stderr
