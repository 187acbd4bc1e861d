from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

import nnkit
from nnkit.cli import main
from nnkit.history import History
from nnkit.models import CharTransformer
from nnkit.text import load_file


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nnkit", *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_version_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    result = run("--version")  # one real process: the command starts as a user starts it
    source = Path(nnkit.__file__).resolve().parents[2]  # the checkout of this editable install
    assert result.returncode == 0 and result.stdout == (
        f"nnkit {nnkit.__version__} from {source} (editable install); not the unrelated "
        "'nnkit' of the Python package index\n"
    )
    for args in ([], ["data"], ["data", "info"], ["mnist"], ["summary"]):
        with pytest.raises(SystemExit) as exited:
            main([*args, "--help"])
        assert exited.value.code == 0 and "usage: nnkit" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        ([], "the following arguments are required: COMMAND"),
        (["mnist", "--depth", "4"], "invalid choice: 4"),
        (["mnist", "--epochs", "x"], "invalid int value: 'x'"),
        (["summary", "--depth", "0"], "invalid choice: 0"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(
    args: list[str], match: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:  # argparse's own errors end the process
        main(args)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and match in err and "Traceback" not in err


def test_semantic_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mnist", "--epochs", "0"]) == 2
    err = capsys.readouterr().err
    assert "argument --epochs: epochs must be a positive integer, got 0" in err
    assert main(["mnist", "--batch-size", "0", "--epochs", "1", "--depth", "1"]) == 2
    assert "argument --batch-size: batch_size must be a positive integer" in capsys.readouterr().err
    assert main(["mnist", "--seeds", "0", "--depth", "1"]) == 2
    assert "argument --seeds: seeds must be a positive integer, got 0" in capsys.readouterr().err


def test_missing_data_folder_is_a_one_line_failure_in_the_cli_s_words(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["mnist", "--data", str(tmp_path), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err == (
        f"nnkit: error: --data {tmp_path}: MNIST file train-images-idx3-ubyte not found (looked "
        f"in {tmp_path}/MNIST/raw/train-images-idx3-ubyte, {tmp_path}/train-images-idx3-ubyte); "
        "pass --data a folder holding the four MNIST files (MNIST/raw/ inside it, or the folder "
        "itself; plain or gzipped), or leave out --data to train on the embedded sample\n"
    )
    assert "=" not in err  # no root=FOLDER or download=True: those are Python arguments


def test_data_info_without_and_with_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["data", "info", "--root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"MNIST folder: {tmp_path} (--root)\n")
    assert "train-images-idx3-ubyte" in out and "missing" in out
    assert "10,000 training and 2,000 test images" in out
    assert out.rstrip().endswith(
        "full MNIST not found: copy the four MNIST files into a folder (MNIST/raw/ inside it, "
        "or the folder itself; plain or gzipped) and pass --root DIR or set NNKIT_DATA=DIR"
    )
    monkeypatch.setenv("NNKIT_DATA", str(tmp_path))
    assert main(["data", "info"]) == 0
    assert capsys.readouterr().out.startswith(f"MNIST folder: {tmp_path} (from $NNKIT_DATA)\n")
    monkeypatch.delenv("NNKIT_DATA")
    assert main(["data", "info"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.endswith("/nnkit (the user cache; NNKIT_DATA is not set)")


def test_help_texts_are_plain_text(capsys: pytest.CaptureFixture[str]) -> None:
    for args in (["mnist"], ["data"], ["data", "info"], ["text", "eval"], ["summary"]):
        with pytest.raises(SystemExit):
            main([*args, "--help"])
        out = capsys.readouterr().out
        assert "%%" not in out and "``" not in out and ":func:" not in out, args
    with pytest.raises(SystemExit):
        main(["mnist", "--help"])
    assert "95% interval" in capsys.readouterr().out.replace("\n", " ")


def test_a_reader_that_leaves_early_ends_the_command_quietly(tmp_path: Path) -> None:
    """``nnkit ... | head -1``: the pipe closes, the command stops without a word (141, as a
    tool killed by SIGPIPE reports in a shell)."""
    command = f"{sys.executable} -m nnkit data info --root {tmp_path}"
    shell = f"{command} | head -c 1; exit ${{PIPESTATUS[0]}}"
    result = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, timeout=120,
                            check=False)  # fmt: skip
    assert result.stdout == "M" and result.stderr == "" and result.returncode == 141


@pytest.mark.mnist
def test_data_info_verifies_full_mnist(
    mnist_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["data", "info", "--root", str(mnist_root)]) == 0
    assert capsys.readouterr().out.count("SHA-256 verified") == 4


def test_summary_text_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["summary", "--depth", "2"]) == 0
    out = capsys.readouterr().out
    assert "conv1.weight" in out and "[128, 800]" in out and "total: 116,234 parameters" in out
    shown = Path(__file__).resolve().parents[2] / "docs" / "_static" / "summary_depth2.txt"
    assert out == shown.read_text(encoding="utf-8")  # the tutorial shows this very output
    assert main(["summary", "--depth", "3", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["summary"]["total_params"] == sum(r["numel"] for r in payload["parameters"])


@pytest.mark.slow
def test_mnist_on_the_sample_end_to_end(tmp_path: Path) -> None:
    plot, out = tmp_path / "depth.png", tmp_path / "out.json"
    result = run(
        "mnist", "--depth", "1", "2", "3", "--seeds", "3", "--epochs", "1", "--device", "cpu",
        "--quiet", "--plot", str(plot), "--json", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "embedded MNIST sample" in result.stdout
    assert "recipe: fast (epochs=1, batch_size=128" in result.stdout
    lines = result.stdout.splitlines()
    table = [line for line in lines if line.strip()[:1] in {"1", "2", "3"}]
    assert [row.split()[0] for row in table] == ["1", "2", "3"]
    for row, params in zip(table, ("355,306", "116,234", "40,522"), strict=True):
        assert re.search(rf" {params} +[0-9.]+M +3 +[0-9.]+ ± [0-9.]+ +\[", row), row
    pairs = [line for line in result.stdout.splitlines() if " vs depth " in line]
    assert [p.split(":")[0] for p in pairs] == [
        "depth 1 vs depth 2", "depth 1 vs depth 3", "depth 2 vs depth 3",
    ]  # fmt: skip
    assert all("(95% interval, 3 paired seeds)" in p for p in pairs)
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    study = json.loads(out.read_text())
    assert study["seeds"] == [0, 1, 2] and study["settings"]["recipe"] == "fast"
    for depth in ("1", "2", "3"):
        runs = study["depths"][depth]["runs"]
        histories = [History.from_dict(r["history"]) for r in runs]
        assert [r["seed"] for r in runs] == [0, 1, 2] and all(len(h) == 1 for h in histories)
        accuracies = [h.records[-1].val_accuracy for h in histories]
        final = study["depths"][depth]["final_val_accuracy"]
        assert final["mean"] == pytest.approx(sum(accuracies) / 3)  # type: ignore[arg-type]
        assert final["min"] == min(accuracies) > 0.8  # type: ignore[type-var]
    notes = run("mnist", "--depth", "2", "--recipe", "notes", "--epochs", "1", "--batch-size",
                "64", "--device", "cpu", "--quiet")  # fmt: skip
    assert notes.returncode == 0, notes.stderr
    assert (
        "recipe: notes (with overrides) (epochs=1, batch_size=64, optimizer='adam'" in notes.stdout
    )
    assert "one seed" not in notes.stdout  # one depth: no pairs


def test_mnist_with_chosen_seeds_one_seed_table_and_typed_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "study.json"
    args = ["mnist", "--depth", "1", "--seeds", "7,", "--epochs", "1", "--quiet", "--json",
            str(out)]  # fmt: skip
    assert main(args) == 0
    printed = capsys.readouterr().out
    row = next(line for line in printed.splitlines() if line.lstrip().startswith("1 "))
    # one seed has no spread: the value alone, no "± 0.00" and no [min, max]
    assert "±" not in row and re.search(r" 1 +[0-9.]+ +- +[0-9.]+ +[0-9.]+$", row), row
    assert "device=None" in printed and "optimizer='adam'" in printed
    study = json.loads(out.read_text())
    assert study["seeds"] == [7]
    settings = study["settings"]
    assert settings["epochs"] == 1 and settings["batch_size"] == 128 and settings["lr"] == 0.008
    assert settings["device"] is None and settings["optimizer"] == "adam"


def test_mnist_seeds_flag_takes_a_count_or_a_list(capsys: pytest.CaptureFixture[str]) -> None:
    from nnkit.cli import build_parser

    parse = build_parser().parse_args
    assert parse(["mnist", "--seeds", "3"]).seeds == 3
    assert parse(["mnist", "--seeds", "7,11"]).seeds == [7, 11]
    assert parse(["mnist", "--seeds", "7,"]).seeds == [7]
    with pytest.raises(SystemExit) as exited:
        parse(["mnist", "--seeds", "7,x"])
    assert exited.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err == (
        "nnkit mnist: error: argument --seeds: expected a count N (seeds 0..N-1) or a "
        "comma-separated list of seeds such as 7,11 (7, for seed 7 alone), got '7,x' "
        "(see nnkit mnist --help)"
    )
    assert main(["mnist", "--seeds", "3,3", "--depth", "1"]) == 2
    assert "argument --seeds: seeds must be distinct, got [3, 3]" in capsys.readouterr().err


def test_mnist_with_an_optimizer_without_momentum_and_its_log(tmp_path: Path) -> None:
    """``--optimizer adagrad`` under the fast recipe's OneCycle finishes; with stderr sent to a
    pipe (not a terminal) the run's progress is one plain line per epoch, with no carriage
    returns and no cursor codes."""
    result = run("mnist", "--depth", "1", "2", "--optimizer", "adagrad", "--epochs", "2",
                 "--device", "cpu")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "\r" not in result.stderr and "\x1b" not in result.stderr
    lines = result.stderr.splitlines()
    epochs = [line for line in lines if line.startswith("epoch ")]
    assert [line.split(" - ")[0] for line in epochs] == ["epoch 1/2", "epoch 2/2"] * 2
    assert all(" - val_loss " in line and " - train_loss " in line for line in epochs)
    assert lines == ["run 1/2: depth 1, seed 0", *epochs[:2], "run 2/2: depth 2, seed 0",
                     *epochs[2:]]  # fmt: skip
    assert "optimizer='adagrad'" in result.stdout


def test_optim_writes_figure_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from nnkit.optim_viz import load_trajectories

    png, data = tmp_path / "paths.png", tmp_path / "paths.json"
    assert main(["optim", "--out", str(png), "--json", str(data)]) == 0
    assert png.read_bytes()[:4] == b"\x89PNG"
    paths = load_trajectories(data)
    assert list(paths) == ["sgd", "adagrad", "rmsprop", "adadelta", "adam", "adamw"]
    assert all(t.points.shape == (101, 2) and t.start == (1.0, 1.5) for t in paths.values())
    assert "adadelta" in capsys.readouterr().out


def test_optim_bad_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    for args in (["--out", "x.png", "--lr", "fast"], ["--out", "x.png", "--fn", "banana"], []):
        with pytest.raises(SystemExit) as exited:
            main(["optim", *args])
        assert exited.value.code == 2 and capsys.readouterr().err.count("\n") == 1


def test_text_train_generate_eval(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = tmp_path / "weather.txt"
    corpus.write_text("今日は晴れです。明日も晴れです。" * 80, encoding="utf-8")
    model = tmp_path / "model.pt"
    args = [
        "text",
        "train",
        str(corpus),
        "--out",
        str(model),
        "--hidden",
        "32",
        "--layers",
        "1",
        "--epochs",
        "3",
        "--seq-len",
        "16",
        "--batch-size",
        "4",
        "--weight-decay",
        "0.1",
        "--device",
        "cpu",
        "--quiet",
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "epoch 3" in out and "bits/char" in out and model.exists()
    assert re.search(r"validation: [0-9.]+ bits/char after 3 epochs\n", out), out
    timing = out.splitlines()[-1]  # where the seconds went, in the order they were spent
    assert re.fullmatch(r"time: [0-9.]+ s in all: (.*, )?[0-9.]+ s training(, .*)?", timing), timing
    assert (
        main(["text", "generate", str(model), "--start", "今日", "--length", "10", "--seed", "0"])
        == 0
    )
    generated = capsys.readouterr().out.strip()
    assert generated.startswith("今日") and len(generated) == 12
    assert main(["text", "eval", str(model), str(corpus), "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    expected = f"scoring the validation split of {corpus}, the model's training corpus (130 of"
    assert expected + " 1,280" in out
    assert "neural model: " in out and "mixture" not in out
    assert "vocabulary: every character is in the model's vocabulary of 10" in out
    english = tmp_path / "english.txt"
    english.write_text("It is sunny today. " * 10 + "今日は晴れです。", encoding="utf-8")
    assert main(["text", "eval", str(model), str(english), "--device", "cpu"]) == 1
    captured = capsys.readouterr()
    assert captured.err == (
        f"nnkit: error: {english}: 96.0% of its characters (190) are outside the model's "
        "vocabulary of 10 and would all score as the unknown character, so the score would "
        "measure little (at most 5%); score text of the model's own language, or pass --force "
        "to score it anyway\n"
    )
    assert "neural model" not in captured.out
    assert main(["text", "eval", str(model), str(english), "--force", "--device", "cpu"]) == 0
    captured = capsys.readouterr()
    assert captured.err.startswith(f"nnkit: warning: {english}: 96.0% of its characters")
    assert "neural model: " in captured.out
    mixed = tmp_path / "mostly.txt"
    mixed.write_text("今日は晴れです。" * 30 + "雨", encoding="utf-8")
    assert main(["text", "eval", str(model), str(mixed), "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert (
        "vocabulary: 0.4% of its characters (1) are outside the model's vocabulary of 10; " in out
    )
    assert main(["text", "generate", str(model), "--start", "雨"]) == 2
    err = capsys.readouterr().err
    assert "argument --start: start character '雨' is not in the vocabulary" in err


def _weather(folder: Path) -> Path:
    """A small Japanese corpus that a tiny model learns in two epochs."""
    corpus = folder / "weather.txt"
    corpus.write_text("今日は晴れです。明日は雨です。" * 60, encoding="utf-8")
    return corpus


def test_text_mixture_and_what_eval_scores(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = _weather(tmp_path)
    model = tmp_path / "model.pt"
    args = ["text", "train", str(corpus), "--out", str(model), "--hidden", "16", "--layers",
            "1", "--epochs", "2", "--seq-len", "16", "--batch-size", "4", "--device", "cpu",
            "--quiet", "--mix-ngram", "--ngram-order", "3"]  # fmt: skip
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "mixture with the 3-gram (" in out and "bits/char on validation" in out
    assert main(["text", "eval", str(model), str(corpus), "--dynamic", "--device", "cpu"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"scoring the validation split of {corpus}")
    assert out[1] == "vocabulary: every character is in the model's vocabulary of 10"
    assert out[2].startswith("neural model: ") and "with dynamic evaluation" in out[2]
    assert out[3].startswith("mixture with the 3-gram: ") and "with dynamic" in out[3]
    assert main(["text", "eval", str(model), str(corpus), "--whole", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert f"all of {corpus} (900 characters), the model's training corpus: training" in out
    other = tmp_path / "other.txt"
    other.write_text("明日は晴れです。" * 20, encoding="utf-8")
    assert main(["text", "eval", str(model), str(other), "--device", "cpu"]) == 0
    assert "(160 characters; not the model's training corpus)" in capsys.readouterr().out
    assert main(["text", "generate", str(model), "--start", "今日", "--length", "8"]) == 0
    assert capsys.readouterr().out.startswith("今日")
    assert main(["text", "generate", str(model), "--neural-only", "--length", "3"]) == 0
    for flag, value, message in (
        ("--dynamic-lr", "-1", "dynamic_lr must be positive and finite, got -1.0"),
        ("--segment-len", "0", "segment_len must be a positive integer, got 0"),
    ):
        assert main(["text", "eval", str(model), str(corpus), "--dynamic", flag, value]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"argument {flag}: {message}" in err, err
    out2 = str(tmp_path / "m2.pt")
    assert main(["text", "train", str(corpus), "--out", out2, "--ngram-order", "3"]) == 2
    assert "argument --ngram-order: only applies with --mix-ngram" in capsys.readouterr().err
    assert main(["text", "train", str(corpus), "--out", out2, "--mix-ngram",
                 "--ngram-order", "13"]) == 2  # fmt: skip
    assert "argument --ngram-order: must be between 1 and 12, got 13" in capsys.readouterr().err


def test_text_bad_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "sjis.txt"
    bad.write_bytes("吾輩は猫".encode("shift_jis"))
    assert main(["text", "train", str(bad), "--out", str(tmp_path / "m.pt")]) == 1
    assert "is not UTF-8 text" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        main(["text", "train", "x.txt"])  # --out is required
    assert exited.value.code == 2 and "--out" in capsys.readouterr().err
    out = str(tmp_path / "m.pt")
    good = tmp_path / "good.txt"
    good.write_text("今日は晴れです。" * 100, encoding="utf-8")
    # the library checks the arguments (before any training); the CLI names the flag
    for flag, value, message in (
        ("--weight-decay", "-1", "weight_decay must be a finite number >= 0, got -1.0"),
        ("--hidden", "0", "CharRNN hidden_size must be an integer in [1, 65536], got 0"),
        ("--seq-len", "0", "seq_len must be a positive integer, got 0"),
        ("--dropout", "1.5", "dropout must be in [0, 1), got 1.5"),
        ("--minutes", "0", "must be positive, got 0.0"),
    ):
        assert main(["text", "train", str(good), "--out", out, flag, value, "--quiet"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"argument {flag}: " in err and message in err, err
    assert not (tmp_path / "m.pt").exists()


def test_text_train_says_how_far_training_got() -> None:
    from nnkit.cli.text import _how_far
    from nnkit.history import EpochRecord

    def record(epoch: int, steps: int, planned: int | None = 72) -> EpochRecord:
        return EpochRecord(epoch, 1.0, steps=steps, planned_steps=planned)

    cut = History([record(1, 20)], stop_reason="max_seconds")
    assert _how_far(cut) == "20 of 72 steps of epoch 1 (the --minutes budget ran out)"
    later = History([record(1, 72), record(2, 72), record(3, 5)], stop_reason="max_seconds")
    assert _how_far(later) == "2 epochs and 5 of 72 steps of epoch 3 (the --minutes budget ran out)"
    assert _how_far(History([record(1, 72), record(2, 3)], stop_reason="max_seconds")) == (
        "1 epoch and 3 of 72 steps of epoch 2 (the --minutes budget ran out)"
    )
    assert _how_far(History([record(1, 72)], stop_reason="epochs")) == "1 epoch"
    whole = History([record(1, 72), record(2, 72)], stop_reason="schedule")
    assert _how_far(whole) == "2 epochs (the validation loss stopped improving)"
    assert _how_far(History([record(1, 9, None)], stop_reason="epochs")) == "1 epoch"


def test_the_time_report_lists_the_phases_in_order_and_adds_up() -> None:
    from nnkit.cli._common import time_report

    started = time.perf_counter() - 7.5  # a command that has run for 7.5 s
    line = time_report([("starting", 1.9), ("training", 3.0), ("writing", 0.01)], started)
    assert re.fullmatch(r"time: 7\.5 s in all: 1\.9 s starting, 3\.0 s training", line), line


def test_text_train_a_transformer_and_eval_adapting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = _weather(tmp_path)
    model = tmp_path / "model.pt"
    args = ["text", "train", str(corpus), "--out", str(model), "--model", "transformer",
            "--hidden", "16", "--heads", "2", "--layers", "1", "--context", "16", "--epochs", "2",
            "--seq-len", "16", "--batch-size", "4", "--device", "cpu", "--quiet", "--mix-ngram",
            "--ngram-order", "3"]  # fmt: skip
    assert main(args) == 0
    assert "mixture with the 3-gram (" in capsys.readouterr().out
    saved = load_file(model)
    assert isinstance(saved.model, CharTransformer)
    assert saved.model.config()["context"] == 16 and saved.model.config()["d_model"] == 16
    assert main(["text", "eval", str(model), str(corpus), "--adapt", "--device", "cpu"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[2].startswith("neural model: ") and "adapting" not in out[2]
    pattern = r"mixture with the 3-gram: [\d.]+ bits/char, [\d.]+ adapting while reading"
    assert re.fullmatch(pattern, out[3]), out[3]
    line = ["text", "eval", str(model), str(corpus), "--adapt", "--dynamic", "--device", "cpu"]
    assert main(line) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[3].endswith(" adapting while reading and dynamic evaluation")
    assert main(["text", "generate", str(model), "--start", "今日", "--length", "8"]) == 0
    assert capsys.readouterr().out.startswith("今日")
