"""Every bad input to the command line: the right exit code, one line on stderr naming the flag
or the file, no traceback, and nothing lost (outputs checked before training, late failures
keep what was produced, one Ctrl-C stops the whole command)."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import torch

from nnkit.checkpoint import load_checkpoint, save_checkpoint
from nnkit.cli import main
from nnkit.data import MNIST_FILES
from nnkit.models import CharRNN
from nnkit.text import Vocab, save

WEATHER = "今日は晴れです。明日も晴れです。" * 40


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A small saved model, damaged variants of it, a corpus and damaged MNIST files."""
    root = tmp_path_factory.mktemp("cli-files")
    vocab = Vocab.from_text(WEATHER)
    torch.manual_seed(0)
    model = CharRNN(len(vocab), hidden_size=8, num_layers=1, embedding_dim=4)
    save(root / "model.pt", model, vocab)
    good = load_checkpoint(root / "model.pt")
    variants = {
        "no-config": {k: v for k, v in good.items() if k != "config"},
        "extra-key": {**good, "config": {**good["config"], "colour": "blue"}},
        "misfit": {**good, "config": {**good["config"], "hidden_size": 9}},
        "huge": {**good, "config": {**good["config"], "hidden_size": 10**6}},
    }
    weights = dict(good["state_dict"])
    weights["head.bias"] = weights["head.bias"].clone().fill_(float("nan"))
    variants |= {
        "layers": {**good, "config": {**good["config"], "num_layers": 10**7}},
        "nan": {**good, "state_dict": weights},
        "vocab-str": {**good, "vocab": "abc"},
    }
    paths = {"model": root / "model.pt"}
    for name, state in variants.items():
        paths[name] = root / f"{name}.pt"
        save_checkpoint(paths[name], {k: v for k, v in state.items() if k != "format"})
    flipped = bytearray(paths["model"].read_bytes())
    flipped[len(flipped) // 2] ^= 0x04  # one bit, in the tensor data
    paths["flipped"] = root / "flipped.pt"
    paths["flipped"].write_bytes(bytes(flipped))
    paths["garbage"] = root / "garbage.pt"
    paths["garbage"].write_bytes(bytes(range(256)) * 16)
    paths["evil"] = root / "evil.pt"
    torch.save({"x": Evil()}, paths["evil"])
    paths["corpus"] = root / "weather.txt"
    paths["corpus"].write_text(WEATHER, encoding="utf-8")
    mnist = root / "mnist"
    mnist.mkdir()
    for name in MNIST_FILES.values():  # gzip streams with one flipped byte in the deflate data
        raw = bytearray(gzip.compress(bytes(range(256)) * 64))
        raw[len(raw) // 2] ^= 0xFF
        (mnist / f"{name}.gz").write_bytes(bytes(raw))
    paths["mnist"] = mnist
    return paths


class Evil:
    """Unpickling this runs code: a file holding one must be refused, never loaded."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (print, ("pwned",))


CASES: list[tuple[str, int, str]] = [
    # (command line with {placeholders}, exit code, what stderr's one line says)
    ("text generate {model} --temperature nan", 2, "argument --temperature: temperature must"),
    ("text generate {model} --temperature -1", 2, "argument --temperature: temperature must"),
    ("text generate {model} --top-k 0", 2, "argument --top-k: top_k must be a positive integer"),
    ("text generate {model} --length -5", 2, "argument --length: length must be an integer >= 0"),
    ("text generate {model} --start Ω", 2, "argument --start: start character 'Ω' is not in"),
    ("text generate {model} --start=", 2, "argument --start: start must hold at least one"),
    ("text generate {model} --device tpu", 2, "argument --device: device must be"),
    ("text generate {no-config} --length 3", 1, "not a complete character model file"),
    ("text generate {extra-key} --length 3", 1, "its model config is not a CharRNN's"),
    ("text generate {misfit} --length 3", 1, "have shape"),
    ("text generate {huge} --length 3", 1, "its model config is not a CharRNN"),
    ("text eval {misfit} {corpus}", 1, "have shape"),
    ("text train {corpus} --out {tmp}/m.pt --epochs 0", 2, "argument --epochs: epochs must be"),
    ("text train {corpus} --out {tmp}/m.pt --lr -1", 2, "argument --lr: lr must be positive"),
    ("text train {corpus} --out /proc/nope/m.pt", 2, "argument --out: cannot write /proc/nope"),
    ("text train {corpus} --out {tmp}", 2, "argument --out: "),
    ("optim --out {tmp}/o.png --lr 1e308", 2, "argument --lr: lr must be at most"),
    ("optim --out {tmp}/o.png --steps 0", 2, "argument --steps: steps must be an integer in [1,"),
    ("optim --out {tmp}/o.xyz", 2, "argument --out: cannot write"),
    ("optim --out {tmp}/o.png --gif {tmp}/a.png", 2, "argument --gif: cannot write"),
    ("summary --batch -1", 2, "argument --batch: input_size must be positive integers"),
    ("summary --batch 0", 2, "argument --batch: input_size must be positive integers"),
    ("mnist --epochs 1 --depth 1 --lr -1 --quiet", 2, "argument --lr: lr must be positive"),
    ("mnist --epochs 1 --depth 1 --lr nan --quiet", 2, "argument --lr: lr must be a number"),
    ("mnist --epochs 1 --depth 1 --device gpu --quiet", 2, "argument --device: device must be"),
    ("mnist --depth 1 --plot {tmp}/f.xyz --json {tmp}/h.json", 2, "argument --plot: cannot"),
    ("mnist --data {mnist} --quiet", 1, "not a valid gzip stream"),
    ("data info --root {mnist}", 1, ""),
    # every file read is loaded or refused in one line naming it
    ("text generate {layers} --length 3", 1, "num_layers must be an integer in [1, 128]"),
    ("text generate {nan} --length 3", 1, "hold NaN or infinite values"),
    ("text eval {nan} {corpus}", 1, "hold NaN or infinite values"),
    ("text generate {vocab-str} --length 3", 1, "not a Vocab dictionary"),
    ("text generate {flipped} --length 3", 1, "flipped.pt is damaged: its content differs"),
    ("text generate {garbage} --length 3", 1, "garbage.pt: it is damaged, truncated or not"),
    ("text generate {evil} --length 3", 1, "evil.pt holds Python objects other than"),
    ("text generate {corpus} --length 3", 1, "weather.txt"),
    ("text eval {evil} {corpus}", 1, "evil.pt holds Python objects other than"),
    # every device is checked against the machine, naming the flag
    ("text train {corpus} --out {tmp}/m.pt --device cuda:7", 2, "--device: device 'cuda:7'"),
    ("text train {corpus} --out {tmp}/m.pt --device meta", 2, "--device: device 'meta' holds"),
    ("text generate {model} --device cuda:7", 2, "argument --device: device 'cuda:7'"),
    ("text eval {model} {corpus} --device cuda:7", 2, "argument --device: device 'cuda:7'"),
    ("text eval {model} {corpus} --device meta", 2, "argument --device: device 'meta' holds"),
    ("mnist --depth 1 --device cuda:7", 2, "argument --device: device 'cuda:7'"),
    ("mnist --depth 1 --device meta", 2, "argument --device: device 'meta' holds"),
    # every size has a range, and what cannot be allocated is refused before allocating
    ("text train {corpus} --out {tmp}/m.pt --hidden 10000000", 2, "--hidden: CharRNN hidden_size"),
    ("text train {corpus} --out {tmp}/m.pt --layers 10000000", 2, "--layers: CharRNN num_layers"),
    ("text train {corpus} --out {tmp}/m.pt --hidden 65536 --layers 128", 2, "--hidden: a CharRNN"),
    ("text train {corpus} --out {tmp}/m.pt --batch-size 1000000000", 2, "argument --batch-size: "),
    ("text generate {model} --length 100000000000", 2, "argument --length: length must be at most"),
    ("optim --out {tmp}/o.png --steps 1000000000000", 2, "--steps: steps must be an integer"),
    ("summary --batch 1000000000", 2, "--batch: the probe input of shape (1000000000, 1, 28, 28)"),
    ("text train {corpus} --out {tmp}/m.pt --seq-len -1", 2, "--seq-len: seq_len must be a"),
    ("text generate {model} --seed 99999999999999999999", 2, "--seed: seed must be below 2**32"),
    ("mnist --depth 1 --seeds 99999999999999999999", 2, "--seeds: seeds must be at most 1,000"),
    ("mnist --depth 1 --epochs 99999999999999999999", 2, "--epochs: epochs must be at most"),
    ("text train {corpus} --out {tmp}/m.pt --epochs 10000000", 2, "most 1,000,000, got 10,000,000"),
    ("text train {corpus} --out {tmp}/m.pt --dropout 1.5", 2, "--dropout: dropout must be in"),
    ("text train {corpus} --out {tmp}/m.pt --weight-decay -1", 2, "--weight-decay: weight_decay"),
    ("text train {corpus} --out {tmp}/m.pt --minutes 0", 2, "--minutes: must be positive"),
    ("text train {corpus} --out {tmp}/m.pt --dist-timeout 0", 2, "--dist-timeout: Runtime"),
    ("text train {corpus} --out {tmp}/m.pt --mix-ngram --ngram-order 13", 2, "--ngram-order: "),
    ("text train {corpus} --out {tmp}/m.pt --batch-size 0", 2, "--batch-size: batch_size must"),
    ("text eval {model} {corpus} --dynamic --dynamic-lr -1", 2, "--dynamic-lr: dynamic_lr must"),
    ("text eval {model} {corpus} --dynamic --segment-len 0", 2, "--segment-len: segment_len"),
    ("text eval {model} {corpus} --adapt", 2, "holds no n-gram mixture (train with"),
    ("text train {corpus} --out {tmp}/m.pt --model transformer --heads 5", 2, "d_model=192 with"),
    ("text train {corpus} --out {tmp}/m.pt --model transformer --context 0", 2, "--context: Char"),
    ("text train {corpus} --out {tmp}/m.pt --model transformer --hidden 100", 2, "--heads: Char"),
    ("text train {corpus} --out {tmp}/m.pt --model transformer --layers 0", 2, "--layers: Char"),
    ("text train {corpus} --out {tmp}/m.pt --model transformer --cell lstm", 2, "--cell: only"),
    ("text train {corpus} --out {tmp}/m.pt --heads 2", 2, "argument --heads: only applies with"),
    ("text train {corpus} --out {tmp}/m.pt --context 64", 2, "argument --context: only applies"),
    ("mnist --depth 1 --batch-size 0", 2, "--batch-size: batch_size must be a positive integer"),
    ("mnist --depth 1 --dist-timeout nan", 2, "--dist-timeout: Runtime dist_timeout must be a"),
    # outputs are regular files or new paths, never an input or another output
    ("text train {corpus} --out /dev/null", 2, "argument --out: /dev/null is not a regular file"),
    ("text train {corpus} --out {corpus}", 2, "weather.txt is the corpus, which this command"),
    ("optim --out /dev/null", 2, "argument --out: /dev/null is not a regular file"),
    ("optim --out {tmp}/o.png --values {tmp}/o.png", 2, "argument --values: "),
    ("optim --out {tmp}/o.png --json {tmp}/o.png", 2, "is the --out output"),
    ("mnist --depth 1 --json /dev/null", 2, "argument --json: /dev/null is not a regular file"),
    ("mnist --depth 1 --plot {tmp}/f.png --json {tmp}/f.png", 2, "is the --plot figure"),
    ("mnist --data {mnist} --json {mnist}/t10k-labels-idx1-ubyte.gz", 2, "an MNIST file of --data"),
]  # fmt: skip


def _fingerprints(files: dict[str, Path]) -> dict[str, str]:
    """The SHA-256 of every input file (and of every file in the MNIST folder)."""
    paths = [p for p in files.values() if p.is_file()]
    paths += sorted(files["mnist"].iterdir())
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


@pytest.mark.parametrize(("line", "code", "message"), CASES)
def test_every_bad_input_is_one_line_and_the_right_exit_code(
    line: str,
    code: int,
    message: str,
    files: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = line.format(tmp=tmp_path, **{k: str(v) for k, v in files.items()}).split(" ")
    before = _fingerprints(files)
    null = os.stat("/dev/null")
    assert main(args) == code
    captured = capsys.readouterr()
    assert _fingerprints(files) == before  # no input changed
    after = os.stat("/dev/null")  # the device node is still one (not replaced by a file)
    assert stat.S_ISCHR(after.st_mode) and after.st_ino == null.st_ino
    if line.startswith("data info"):  # a report, not an error: the damage is named per file
        assert captured.out.count("not a valid gzip stream") == 4
        return
    assert captured.err.count("\n") == 1, captured.err
    assert captured.err.startswith("nnkit: error: ") and message in captured.err
    assert not (tmp_path / "h.json").exists() and not (tmp_path / "m.pt").exists()


def test_temperatures_near_zero_sample_greedily(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    line = ["text", "generate", str(files["model"]), "--start", "今", "--length", "8"]
    assert main([*line, "--temperature", "1e-45", "--seed", "1"]) == 0
    tiny = capsys.readouterr().out
    assert main([*line, "--temperature", "0"]) == 0
    assert tiny == capsys.readouterr().out


def test_a_late_write_failure_keeps_the_other_outputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def disk_full(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("nnkit.cli.mnist.save_figure", disk_full)
    code = main(
        ["mnist", "--depth", "1", "--epochs", "1", "--quiet", "--plot", str(tmp_path / "f.png"),
         "--json", str(tmp_path / "h.json")]
    )  # fmt: skip
    assert code == 1
    study = json.loads((tmp_path / "h.json").read_text())
    assert study["depths"]["1"]["runs"][0]["history"]["records"][0]["epoch"] == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "could not write figure to" in err and "No space" in err


def test_a_model_that_cannot_be_written_is_rescued(
    files: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import nnkit.cli.text as cli_text

    out = tmp_path / "gone" / "m.pt"
    real_save = cli_text.save

    def failing_save(path: Path, model: CharRNN, vocab: Vocab, **kwargs: Any) -> None:
        if Path(path) == out:
            raise OSError(5, "Input/output error")
        real_save(path, model, vocab, **kwargs)

    monkeypatch.setattr(cli_text, "save", failing_save)
    monkeypatch.chdir(tmp_path)
    line = f"text train {files['corpus']} --out {out} --epochs 1 --hidden 8 --layers 1 --quiet"
    assert main([*line.split(" "), "--batch-size", "4", "--seq-len", "8", "--device", "cpu"]) == 1
    assert "nnkit-rescued-m.pt" in capsys.readouterr().err
    assert (tmp_path / "nnkit-rescued-m.pt").exists()


def test_mnist_help_is_true() -> None:
    from nnkit.cli import build_parser

    parser = build_parser()
    helped = parser._subparsers._group_actions[0].choices["mnist"].format_help()  # type: ignore[union-attr]
    assert "--full" not in helped and "--data" in helped and "$NNKIT_DATA" in helped


def _default_sigint() -> None:
    """In the child, before it starts: Ctrl-C as a terminal delivers it. A test run from a
    shell's background job (``pytest &``) inherits SIGINT ignored, and Python then keeps it
    ignored, so the signal these tests send would do nothing."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.slow
def test_one_ctrl_c_stops_the_whole_comparison_and_keeps_what_finished(tmp_path: Path) -> None:
    out = tmp_path / "h.json"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    # 200 epochs: the signal comes after epoch 1 of depth 1, long before the run could end
    command = [sys.executable, "-m", "nnkit", "mnist", "--depth", "1", "2", "3", "--epochs",
               "200", "--json", str(out), "--device", "cpu"]  # fmt: skip
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        preexec_fn=_default_sigint,
    )  # fmt: skip
    assert process.stderr is not None
    seen, deadline = b"", time.monotonic() + 300
    while b"epoch 1/200" not in seen and time.monotonic() < deadline:  # depth 1 is training
        chunk = os.read(process.stderr.fileno(), 4096)
        if not chunk:
            break
        seen += chunk
    assert b"epoch 1/200" in seen, seen[-500:]
    process.send_signal(signal.SIGINT)  # one Ctrl-C
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr and "interrupted" in stdout
    study = json.loads(out.read_text())
    assert study["interrupted"] is True
    runs = {depth: entry["runs"] for depth, entry in study["depths"].items()}
    assert [len(r) for r in runs.values()] == [1, 0, 0]  # depth 1 was running; 2, 3 never started
    assert runs["1"][0]["history"]["stop_reason"] == "interrupted"


def _handles_sigint(pid: int) -> bool:
    """True once the process has installed a handler for SIGINT (Python does so as the
    interpreter starts, before any import of nnkit)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) & (1 << (signal.SIGINT - 1)))
    return False


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
def test_ctrl_c_while_the_command_starts_exits_130_with_one_line(
    files: dict[str, Path], tmp_path: Path
) -> None:
    script = Path(sys.executable).with_name("nnkit")  # the console script, as a user runs it
    command = [str(script) if script.exists() else sys.executable, *([] if script.exists() else
               ["-m", "nnkit"]), "text", "train", str(files["corpus"]), "--out",
               str(tmp_path / "m.pt"), "--epochs", "1000", "--quiet"]  # fmt: skip
    started = time.monotonic()
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=_default_sigint,
    )  # fmt: skip
    deadline = started + 60
    while not _handles_sigint(process.pid) and time.monotonic() < deadline:
        time.sleep(0.005)  # the interpreter itself is starting (slow on a busy machine)
    time.sleep(max(0.0, started + 0.3 - time.monotonic()))  # 0.3 s: PyTorch is loading
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert stderr == "nnkit: interrupted\n"
    assert not (tmp_path / "m.pt").exists()


def test_ctrl_c_while_mixing_keeps_the_trained_model(
    files: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import nnkit.cli.text as cli_text
    from nnkit.text import load_file

    def interrupted(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_text, "_mix", interrupted)
    out = tmp_path / "m.pt"
    line = f"text train {files['corpus']} --out {out} --epochs 1 --hidden 8 --layers 1 --quiet"
    code = main([*line.split(" "), "--batch-size", "4", "--seq-len", "8", "--mix-ngram"])
    assert code == 130
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "interrupted while fitting the n-gram mixture" in err
    saved = load_file(out)  # the trained model, without the mixture
    assert saved.mixture is None and saved.model.hidden_size == 8
