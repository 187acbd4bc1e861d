from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch
from torch import nn

from nnkit.callbacks import Callback, TrainState
from nnkit.checkpoint import load_checkpoint
from nnkit.data import load_mnist, load_mnist_sample
from nnkit.errors import CheckpointError, InvalidArgumentError, NnkitError, TrainingDivergedError
from nnkit.history import EpochRecord
from nnkit.metrics import BitsPerChar
from nnkit.models import MnistCNN
from nnkit.runtime import Runtime
from nnkit.train import FAST_RECIPE, NOTES_RECIPE, Recipe, evaluate, fit

from ._data import PairDataset
from .conftest import requires_cuda


@pytest.fixture(scope="module")
def small() -> tuple[torch.Tensor, torch.Tensor]:
    """600 real MNIST images as float tensors (N, 1, 28, 28) and labels."""
    ds = load_mnist_sample(train=False)
    return ds.images[:600].unsqueeze(1).float() / 255, ds.labels[:600]


def blobs(n: int = 96, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (n,), generator=g)
    x = torch.randn(n, 2, generator=g) * 0.3 + torch.stack([y.float(), (y == 1).float()], 1) * 2
    return x, y


def mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 3))


def test_fit_learns_mnist_sample_and_fills_history() -> None:
    torch.manual_seed(0)
    train, test = load_mnist_sample(train=True), load_mnist_sample(train=False)
    history = fit(
        MnistCNN(depth=1), train, val=test, epochs=1, seed=0, device="cpu", progress=False
    )
    record = history.last
    assert record is not None and record.epoch == 1
    assert record.val_accuracy is not None and record.val_accuracy > 0.85
    assert record.train_accuracy is not None and 0.5 < record.train_accuracy <= 1.0
    assert record.val_loss is not None and record.val_loss < 0.6
    assert record.lr == pytest.approx(1e-3)
    assert record.seconds > 0 and record.samples_per_second > 0
    assert not history.interrupted and not history.stopped_early


@pytest.mark.mnist
@pytest.mark.slow
def test_one_epoch_on_full_mnist_reaches_98_percent(mnist_root: Path) -> None:
    torch.manual_seed(0)
    model = MnistCNN(depth=2)
    history = fit(
        model,
        load_mnist(mnist_root),
        val=load_mnist(mnist_root, train=False),
        seed=0,
        device="cpu",
        progress=False,
        **replace(FAST_RECIPE, epochs=1),
    )
    assert history.last.val_accuracy is not None
    assert history.last.val_accuracy >= 0.98


def test_evaluate_is_the_true_mean_over_samples() -> None:
    torch.manual_seed(1)
    model = nn.Linear(2, 3).double()
    x, y = blobs(10)
    x = x.double()
    result = evaluate(model, (x, y), batch_size=3, device="cpu")
    with torch.no_grad():
        per_sample = nn.functional.cross_entropy(model(x), y, reduction="none")
        hits = int((model(x).argmax(1) == y).sum())
    assert result.loss == pytest.approx(float(per_sample.mean()), rel=1e-12)
    assert (result.correct, result.total) == (hits, 10)
    assert result.accuracy == pytest.approx(hits / 10)
    # the notes' formula (sum of batch means / N) gives something else for batches of 3
    batch_means = [float(per_sample[i : i + 3].mean()) for i in range(0, 10, 3)]
    assert abs(sum(batch_means) / 10 - result.loss) > 1e-3


def test_evaluate_regression_has_no_accuracy() -> None:
    x = torch.randn(8, 2)
    result = evaluate(nn.Linear(2, 1), (x, x.sum(1, keepdim=True)), loss="mse", device="cpu")
    assert result.accuracy is None and result.total == 8


def _weights(model: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


class _StopAfter(Callback):
    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_epoch_end(self, state: TrainState, record: EpochRecord) -> None:
        if record.epoch == self.epoch:
            state.stop_training = True


def _run(
    small: tuple[torch.Tensor, torch.Tensor], epochs: int, ck: Path | None, **kwargs: object
) -> nn.Module:
    torch.manual_seed(5)
    model = MnistCNN(depth=1, dropout=0.3)  # dropout: the RNG state must be restored too
    fit(
        model,
        small,
        epochs=epochs,
        batch_size=64,
        seed=11,
        device="cpu",
        progress=False,
        checkpoint=ck,
        **kwargs,
    )  # type: ignore[arg-type]
    return model


def test_resume_is_bit_exact(small: tuple[torch.Tensor, torch.Tensor], tmp_path: Path) -> None:
    straight = _run(small, 2, None)
    ck = tmp_path / "run.pt"
    _run(small, 1, ck)
    assert load_checkpoint(ck)["epoch"] == 1
    resumed = _run(small, 2, ck, resume=True)
    for a, b in zip(_weights(straight), _weights(resumed), strict=True):
        assert torch.equal(a, b)
    state = load_checkpoint(ck)
    assert state["epoch"] == 2 and len(state["history"]["records"]) == 2


def test_resume_mid_schedule_is_bit_exact(
    small: tuple[torch.Tensor, torch.Tensor], tmp_path: Path
) -> None:
    straight = _run(small, 3, None, scheduler="cosine", optimizer="adamw")
    ck = tmp_path / "run.pt"
    _run(small, 3, ck, scheduler="cosine", optimizer="adamw", callbacks=[_StopAfter(2)])
    resumed = _run(small, 3, ck, scheduler="cosine", optimizer="adamw", resume=True)
    for a, b in zip(_weights(straight), _weights(resumed), strict=True):
        assert torch.equal(a, b)


def test_resume_rejects_a_checkpoint_of_another_model(
    small: tuple[torch.Tensor, torch.Tensor], tmp_path: Path
) -> None:
    ck = tmp_path / "ck.pt"
    fit(MnistCNN(depth=1), small, epochs=1, device="cpu", progress=False, checkpoint=ck)
    with pytest.raises(CheckpointError, match="does not match"):
        fit(
            MnistCNN(depth=2),
            small,
            epochs=2,
            device="cpu",
            progress=False,
            checkpoint=ck,
            resume=True,
        )


def test_divergence_names_epoch_and_step() -> None:
    calls = {"n": 0}

    def exploding(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        calls["n"] += 1
        loss = nn.functional.cross_entropy(out, y)
        return loss * math.inf if calls["n"] == 11 else loss

    with pytest.raises(TrainingDivergedError, match="epoch 2, step 5") as info:
        fit(mlp(), blobs(96), loss=exploding, epochs=3, batch_size=16, device="cpu", progress=False)
    assert (info.value.epoch, info.value.step) == (2, 5)


def test_huge_learning_rate_diverges() -> None:
    x = torch.randn(64, 2)
    with pytest.raises(TrainingDivergedError):
        fit(
            nn.Linear(2, 1),
            (x, x.sum(1, keepdim=True) * 1e3),
            loss="mse",
            optimizer="sgd",
            lr=1e6,
            epochs=5,
            device="cpu",
            progress=False,
        )


class _InterruptAt(Callback):
    def __init__(self, epoch: int, step: int) -> None:
        self.at = (epoch, step)

    def on_batch_end(self, state: TrainState) -> None:
        if (state.epoch, state.step) == self.at:
            raise KeyboardInterrupt


def test_ctrl_c_returns_history_and_keeps_last_checkpoint(tmp_path: Path) -> None:
    ck = tmp_path / "ck.pt"
    history = fit(
        mlp(),
        blobs(),
        epochs=5,
        batch_size=16,
        device="cpu",
        progress=False,
        checkpoint=ck,
        callbacks=[_InterruptAt(2, 3)],
    )
    assert history.interrupted and len(history) == 1
    assert history.weights_epoch is None  # the model holds epoch 2's weights part-way
    assert load_checkpoint(ck)["epoch"] == 1


@pytest.mark.parametrize(
    "name", ["sgd", "momentum", "nesterov", "adam", "adamw", "adagrad", "rmsprop", "adadelta"]
)
def test_every_named_optimizer_trains(name: str) -> None:
    torch.manual_seed(0)
    lr = {"adadelta": 1.0, "sgd": 0.1, "momentum": 0.05, "nesterov": 0.05}.get(name, 0.01)
    history = fit(
        mlp(),
        blobs(),
        optimizer=name,
        lr=lr,
        epochs=15,
        batch_size=16,
        seed=0,
        device="cpu",
        progress=False,
    )
    losses = history.column("train_loss")
    assert losses[-1] is not None and losses[0] is not None and losses[-1] < 0.6 * losses[0]


def test_lbfgs_closure_is_driven() -> None:
    torch.manual_seed(0)
    x = torch.randn(64, 3)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5]]) + 0.1
    model = nn.Linear(3, 1)
    history = fit(
        model,
        (x, y),
        loss="mse",
        optimizer="lbfgs",
        lr=1.0,
        epochs=3,
        batch_size=64,
        device="cpu",
        progress=False,
    )
    assert history.last.train_loss < 1e-6
    torch.testing.assert_close(
        model.weight.data, torch.tensor([[1.0, -2.0, 0.5]]), atol=1e-4, rtol=0
    )


class _Recorder(Callback):
    def __init__(self) -> None:
        self.lrs: list[float] = []
        self.grad_norms: list[float] = []
        self.events: list[str] = []

    def on_train_begin(self, state: TrainState) -> None:
        self.events.append("train_begin")

    def on_epoch_begin(self, state: TrainState) -> None:
        self.events.append(f"epoch_begin {state.epoch}")

    def on_batch_end(self, state: TrainState) -> None:
        self.lrs.append(float(state.optimizer.param_groups[0]["lr"]))
        grads = [p.grad.norm() for p in state.model.parameters() if p.grad is not None]
        self.grad_norms.append(float(torch.stack(grads).norm()))

    def on_epoch_end(self, state: TrainState, record: EpochRecord) -> None:
        self.events.append(f"epoch_end {record.epoch}")

    def on_train_end(self, state: TrainState) -> None:
        self.events.append("train_end")


def test_onecycle_steps_per_batch_and_cosine_per_epoch() -> None:
    rec = _Recorder()
    fit(
        mlp(),
        blobs(64),
        scheduler="onecycle",
        lr=0.01,
        epochs=2,
        batch_size=16,
        device="cpu",
        progress=False,
        callbacks=[rec],
    )
    assert len(set(rec.lrs)) == len(rec.lrs) == 8
    assert max(rec.lrs) <= 0.01 + 1e-9
    history = fit(
        mlp(),
        blobs(64),
        scheduler="cosine",
        optimizer="sgd",
        lr=0.1,
        epochs=2,
        device="cpu",
        progress=False,
    )
    assert history.column("lr") == [pytest.approx(0.1), pytest.approx(0.05)]
    step = fit(
        mlp(),
        blobs(64),
        scheduler="step",
        optimizer="sgd",
        lr=0.1,
        epochs=3,
        device="cpu",
        progress=False,
        scheduler_kwargs={"step_size": 1, "gamma": 0.5},
    )
    assert step.column("lr") == [pytest.approx(0.1), pytest.approx(0.05), pytest.approx(0.025)]


def test_scheduler_object_and_optimizer_object() -> None:
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.2)
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.5)
    history = fit(
        model, blobs(32), optimizer=opt, scheduler=sched, epochs=2, device="cpu", progress=False
    )
    assert history.column("lr") == [pytest.approx(0.2), pytest.approx(0.1)]
    with pytest.raises(ValueError, match="set them on the optimizer object"):
        fit(model, blobs(32), optimizer=opt, lr=0.1, device="cpu", progress=False)


def test_grad_clip_bounds_the_gradient_norm() -> None:
    rec = _Recorder()
    fit(
        mlp(),
        blobs(),
        lr=0.01,
        grad_clip=0.05,
        epochs=1,
        batch_size=16,
        device="cpu",
        progress=False,
        callbacks=[rec],
    )
    assert rec.grad_norms and max(rec.grad_norms) <= 0.05 * (1 + 1e-4)
    free = _Recorder()
    fit(
        mlp(),
        blobs(),
        lr=0.01,
        epochs=1,
        batch_size=16,
        device="cpu",
        progress=False,
        callbacks=[free],
    )
    assert max(free.grad_norms) > 0.05


def test_callback_order() -> None:
    rec = _Recorder()
    fit(mlp(), blobs(32), epochs=2, device="cpu", progress=False, callbacks=[rec])
    assert rec.events == [
        "train_begin",
        "epoch_begin 1",
        "epoch_end 1",
        "epoch_begin 2",
        "epoch_end 2",
        "train_end",
    ]


def test_amp_runs_layers_in_bfloat16() -> None:
    model = mlp()
    seen: list[torch.dtype] = []
    model[0].register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    history = fit(
        model,
        blobs(),
        runtime=Runtime(amp=True),
        epochs=2,
        batch_size=16,
        device="cpu",
        progress=False,
    )
    assert set(seen) == {torch.bfloat16}
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert math.isfinite(history.last.train_loss)


def test_channels_last_reaches_the_model(small: tuple[torch.Tensor, torch.Tensor]) -> None:
    model = MnistCNN(depth=1)
    formats: list[bool] = []
    model.conv1.register_forward_pre_hook(
        lambda m, i: formats.append(i[0].is_contiguous(memory_format=torch.channels_last))
    )
    fit(
        model,
        small,
        runtime=Runtime(channels_last=True),
        epochs=1,
        batch_size=200,
        device="cpu",
        progress=False,
    )
    assert formats and all(formats)
    assert model.conv1.weight.is_contiguous(memory_format=torch.channels_last)


@pytest.mark.slow
def test_compile_trains_the_original_model() -> None:
    torch.manual_seed(0)
    model = mlp()
    before = _weights(model)
    history = fit(
        model,
        blobs(),
        runtime=Runtime(compile=True),
        lr=0.01,
        epochs=3,
        batch_size=32,
        device="cpu",
        progress=False,
    )
    assert any(not torch.equal(a, b) for a, b in zip(before, _weights(model), strict=True))
    assert list(model.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    losses = history.column("train_loss")
    assert losses[-1] is not None and losses[0] is not None and losses[-1] < losses[0]


def test_progress_false_is_silent_and_log_every_prints_the_notes_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    fit(mlp(), blobs(64), epochs=1, batch_size=16, device="cpu", progress=False)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
    fit(mlp(), blobs(64), epochs=1, batch_size=16, device="cpu", progress=False, log_every=2)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("Train Epoch: 1 [0/64 (0%)]\tLoss: ")
    assert lines[1].startswith("Train Epoch: 1 [32/64 (50%)]\tLoss: ")
    assert len(lines[1].rsplit(" ", 1)[1].split(".")[1]) == 6


def test_progress_bar_goes_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    fit(mlp(), blobs(64), epochs=1, batch_size=16, device="cpu", progress=True)
    captured = capsys.readouterr()
    assert captured.out == "" and "epoch 1/1" in captured.err


def test_accepted_data_kinds() -> None:
    x, y = blobs(48)
    for data in (
        (x, y),
        torch.utils.data.TensorDataset(x, y),
        PairDataset(x, y),
        [(x[i : i + 16], y[i : i + 16]) for i in range(0, 48, 16)],
        torch.utils.data.DataLoader(PairDataset(x, y), batch_size=16),
    ):
        history = fit(mlp(), data, val=data, epochs=1, device="cpu", progress=False)
        assert history.last.val_accuracy is not None
    with pytest.raises(TypeError, match="one-shot iterator"):
        fit(mlp(), iter([(x, y)]), device="cpu", progress=False)
    with pytest.raises(TypeError, match="must be a Dataset"):
        fit(mlp(), 42, device="cpu", progress=False)


@pytest.mark.parametrize(
    ("kwargs", "parameter", "match"),
    [
        ({"epochs": 0}, "epochs", "epochs must be a positive integer, got 0"),
        ({"max_steps": 2.5}, "max_steps", "max_steps must be a positive integer, got 2.5"),
        ({"max_seconds": -1}, "max_seconds", "max_seconds must be positive and finite"),
        ({"resume": True}, "resume", "resume=True needs checkpoint"),
        ({"loss": "hing"}, "loss", "unknown loss 'hing'"),
        ({"optimizer": "adamm"}, "optimizer", "unknown optimizer 'adamm'"),
        ({"optimizer_kwargs": {"betas2": 1}}, "optimizer_kwargs", "Adam does not accept"),
        ({"scheduler": "linear"}, "scheduler", "unknown scheduler 'linear'"),
        ({"grad_clip": -1.0}, "grad_clip", "grad_clip must be positive"),
        ({"grad_clip": float("nan")}, "grad_clip", "grad_clip must be a number, got nan"),
        ({"lr": -0.1}, "lr", "lr must be positive"),
        ({"lr": "abc"}, "lr", "lr must be a number, got 'abc'"),
        ({"weight_decay": -1}, "weight_decay", "weight_decay must be a finite number >= 0"),
        ({"batch_size": 0}, "batch_size", "batch_size must be a positive integer"),
        ({"device": "gpu"}, "device", "device must be"),
        ({"log_every": 0}, "log_every", "log_every"),
        ({"shuffle": "yes"}, "shuffle", "shuffle must be True or False"),
        ({"seed": -1}, "seed", "seed must be an integer >= 0"),
        ({"runtime": {"amp": True}}, "runtime", "runtime must be an nnkit.runtime.Runtime"),
        ({"callbacks": [print]}, "callbacks", "callbacks must be nnkit Callback objects"),
        ({"metrics": {"loss": len}}, "metrics", "'loss' is taken"),
    ],
)
def test_bad_arguments(kwargs: dict[str, object], parameter: str, match: str) -> None:
    with pytest.raises(InvalidArgumentError, match=match) as info:
        fit(mlp(), blobs(16), progress=False, **kwargs)  # type: ignore[arg-type]
    # one error family: an nnkit error, a ValueError and a TypeError, naming the parameter
    assert isinstance(info.value, NnkitError | ValueError) and isinstance(info.value, TypeError)
    assert info.value.parameter == parameter


def test_bad_arguments_are_caught_before_anything_changes() -> None:
    model = mlp()
    before = _weights(model)
    with pytest.raises(InvalidArgumentError, match="max_steps"):
        fit(model, blobs(), epochs=2, max_steps=0, device="cpu", progress=False)
    assert all(torch.equal(a, b) for a, b in zip(before, _weights(model), strict=True))


def test_seed_makes_runs_reproducible() -> None:
    def run() -> list[torch.Tensor]:
        torch.manual_seed(3)
        model = mlp()
        fit(model, blobs(), epochs=2, batch_size=8, seed=4, device="cpu", progress=False)
        return _weights(model)

    for a, b in zip(run(), run(), strict=True):
        assert torch.equal(a, b)


@requires_cuda
@pytest.mark.gpu
def test_fit_on_cuda_computes_what_the_cpu_computes(
    small: tuple[torch.Tensor, torch.Tensor],
) -> None:
    def run(device: str) -> tuple[nn.Module, list[float | None]]:
        torch.manual_seed(0)
        model = MnistCNN(depth=2)
        history = fit(
            model,
            small,
            epochs=2,
            batch_size=64,
            optimizer="sgd",
            lr=0.05,
            seed=0,
            device=device,
            progress=False,
        )
        return model.cpu(), history.column("train_loss")

    cpu_model, cpu_losses = run("cpu")
    gpu_model, gpu_losses = run("cuda")
    assert gpu_losses == pytest.approx(cpu_losses, rel=1e-3)
    for a, b in zip(cpu_model.parameters(), gpu_model.parameters(), strict=True):
        torch.testing.assert_close(b, a, rtol=1e-3, atol=1e-4)


@requires_cuda
@pytest.mark.gpu
def test_fit_on_cuda_with_the_fast_recipe_and_bf16_learns() -> None:
    torch.manual_seed(0)
    model = MnistCNN(depth=2)
    history = fit(
        model,
        load_mnist_sample(),
        val=load_mnist_sample(train=False),
        seed=0,
        device="cuda",
        progress=False,
        **replace(FAST_RECIPE, runtime=Runtime(amp=True, channels_last=True)),
    )
    assert next(model.parameters()).device.type == "cuda"
    assert history.last.val_accuracy is not None
    assert history.last.val_accuracy > 0.93


class _Steps(Callback):
    def __init__(self) -> None:
        self.seen: list[tuple[int, int, int]] = []

    def on_batch_end(self, state: TrainState) -> None:
        self.seen.append((state.epoch, state.step, state.global_step))


def test_max_steps_ends_mid_epoch_and_the_partial_epoch_is_recorded() -> None:
    steps = _Steps()
    history = fit(
        mlp(), blobs(64), max_steps=6, batch_size=16, device="cpu", progress=False,
        callbacks=[steps],
    )  # fmt: skip
    assert steps.seen == [(1, 1, 1), (1, 2, 2), (1, 3, 3), (1, 4, 4), (2, 1, 5), (2, 2, 6)]
    assert history.stop_reason == "max_steps" and len(history) == 2
    assert history.records[-1].samples_per_second > 0  # two batches of 16 trained
    # each record says how far its epoch got: the second stopped after 2 of its 4 steps
    assert [(r.steps, r.planned_steps) for r in history] == [(4, 4), (2, 4)]
    assert all(r.val_seconds == 0.0 for r in history)  # no validation data
    validated = fit(mlp(), blobs(64), val=blobs(32), epochs=1, batch_size=16, device="cpu",
                    progress=False)  # fmt: skip
    assert validated.last.val_seconds > 0 and validated.last.seconds > 0
    # whichever budget ends first: two epochs of four steps end before 100 steps
    both = fit(mlp(), blobs(64), epochs=2, max_steps=100, batch_size=16, device="cpu",
               progress=False)  # fmt: skip
    assert both.stop_reason == "epochs" and len(both) == 2
    assert fit(mlp(), blobs(16), device="cpu", progress=False).stop_reason == "epochs"  # 1 epoch


def test_max_seconds_ends_the_run_and_counts_everything() -> None:
    history = fit(mlp(), blobs(64), max_seconds=0.3, batch_size=8, device="cpu", progress=False)
    assert history.stop_reason == "max_seconds" and len(history) > 1
    assert not history.stopped_early and not history.interrupted


def test_a_resumed_run_continues_the_step_budget(tmp_path: Path) -> None:
    ck = tmp_path / "ck.pt"
    first = fit(mlp(), blobs(64), max_steps=6, batch_size=16, seed=1, device="cpu",
                progress=False, checkpoint=ck)  # fmt: skip
    assert first.stop_reason == "max_steps"
    steps = _Steps()
    resumed = fit(mlp(), blobs(64), max_steps=10, batch_size=16, seed=1, device="cpu",
                  progress=False, checkpoint=ck, resume=True, callbacks=[steps])  # fmt: skip
    # the checkpoint holds epoch 2 (cut short at step 6): the resumed run starts epoch 3 at
    # global step 7 and stops at step 10, the end of its budget
    assert steps.seen == [(3, 1, 7), (3, 2, 8), (3, 3, 9), (3, 4, 10)]
    assert resumed.stop_reason == "max_steps" and [r.epoch for r in resumed.records] == [1, 2, 3]
    again = fit(mlp(), blobs(64), max_steps=10, batch_size=16, seed=1, device="cpu",
                progress=False, checkpoint=ck, resume=True)  # fmt: skip
    assert again.stop_reason == "max_steps" and len(again) == 3  # spent: nothing more to do


def test_progress_bar_knows_the_step_budget(capsys: pytest.CaptureFixture[str]) -> None:
    fit(mlp(), blobs(64), max_steps=3, batch_size=16, device="cpu", progress="bar")
    err = capsys.readouterr().err
    assert "epoch 1:" in err and "0/3 [" in err  # 4 batches in the epoch, 3 steps in the budget


class _OwnLoss(nn.Module):
    """A classifier that computes its own loss: forward(x, y) -> object with .loss/.logits."""

    def __init__(self) -> None:
        super().__init__()
        self.net = mlp()

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> Any:
        logits = self.net(x)
        return SimpleNamespace(loss=nn.functional.cross_entropy(logits, y), logits=logits)


def test_a_model_that_computes_its_own_loss_trains_with_loss_none() -> None:
    torch.manual_seed(0)
    own = _OwnLoss()
    torch.manual_seed(0)
    plain = mlp()
    kwargs: dict[str, Any] = {"epochs": 3, "batch_size": 16, "seed": 2, "device": "cpu",
                              "progress": False}  # fmt: skip
    a = fit(own, blobs(), val=blobs(32, 1), loss=None, **kwargs)
    b = fit(plain, blobs(), val=blobs(32, 1), **kwargs)
    # the same arithmetic as cross entropy on the same network: the same history
    assert a.column("train_loss") == pytest.approx(b.column("train_loss"), rel=1e-6)
    assert a.column("val_accuracy") == b.column("val_accuracy")
    # a bare loss tensor works too (no logits: no accuracy)
    scalar = fit(_ScalarLoss(), blobs(), loss=None, **kwargs)
    assert scalar.last.train_accuracy is None
    assert scalar.records[-1].train_loss < scalar.records[0].train_loss
    with pytest.raises(InvalidArgumentError, match=r"model\(inputs, targets\) must return"):
        fit(_Logits(), blobs(), loss=None, device="cpu", progress=False)


class _ScalarLoss(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Linear(2, 3)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return nn.functional.cross_entropy(self.net(x), y)


class _Logits(_ScalarLoss):
    """Takes the targets but forgets to compute the loss: returns (N, 3) logits."""

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class _Adaptive(nn.Module):
    """An adaptive-softmax classifier over 40 classes (its loss needs the targets)."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(8, 32), nn.ReLU())
        self.head = nn.AdaptiveLogSoftmaxWithLoss(32, 40, cutoffs=[8, 20], div_value=2.0)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> Any:
        return self.head(self.body(x), y)


def test_an_adaptive_softmax_model_trains_through_fit() -> None:
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 40, (400,), generator=g)
    x = torch.randn(400, 8, generator=g) + torch.randn(40, 8, generator=g)[y] * 3
    torch.manual_seed(0)
    model = _Adaptive()
    history = fit(model, (x, y), val=(x, y), loss=None, epochs=8, lr=0.01, batch_size=32,
                  metrics=[BitsPerChar()], device="cpu", progress=False)  # fmt: skip
    first, last = history.records[0], history.records[-1]
    assert last.val_loss is not None and first.val_loss is not None
    assert last.val_loss < 0.5 * first.val_loss
    assert last.extra["val_bpc"] == pytest.approx(last.val_loss / math.log(2), rel=1e-9)
    # the recorded loss is the adaptive softmax's own negative log-likelihood
    with torch.no_grad():
        nll = -model.head.log_prob(model.body(x)).gather(1, y[:, None]).mean()
    assert last.val_loss == pytest.approx(float(nll), rel=1e-5)


def test_recipes_are_typed_mappings() -> None:
    assert dict(NOTES_RECIPE) == {"batch_size": 32, "optimizer": "adam"}
    assert set(FAST_RECIPE) == {"epochs", "batch_size", "optimizer", "lr", "scheduler", "loss"}
    slower = replace(FAST_RECIPE, lr=1e-3)
    assert slower.lr == 1e-3 and slower["lr"] == 1e-3 and FAST_RECIPE.lr == 8e-3
    history = fit(mlp(), blobs(1280), device="cpu", progress=False, **slower)
    assert len(history) == 2  # the recipe's epochs
    assert history.column("lr")[0] == pytest.approx(1e-3 / 25)  # OneCycle starts at max/25
    with pytest.raises(KeyError):
        FAST_RECIPE["runtime"]  # None: not a key, so fit's default applies
    unplanned = replace(FAST_RECIPE, epochs=None)
    assert len(fit(mlp(), blobs(), epochs=1, device="cpu", progress=False, **unplanned)) == 1
    with pytest.raises(InvalidArgumentError, match="batch_size must be a positive integer, got 0"):
        Recipe(batch_size=0)


def test_runtime_is_checked_and_device_given_once() -> None:
    with pytest.raises(InvalidArgumentError, match="Runtime amp must be True, False, 'bf16'"):
        Runtime(amp=1)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="Runtime distributed must be one of"):
        Runtime(distributed="always")  # type: ignore[arg-type]
    other = "cuda" if torch.cuda.is_available() else "cuda:0"
    words = "contradicts runtime" if torch.cuda.is_available() else "CUDA is not available"
    with pytest.raises(InvalidArgumentError, match=words):
        fit(mlp(), blobs(), runtime=Runtime(device="cpu"), device=other, progress=False)
    history = fit(mlp(), blobs(), runtime=Runtime(device="cpu"), device="cpu", progress=False)
    assert len(history) == 1


def test_numpy_arrays_are_data() -> None:
    x, y = blobs(64)
    torch.manual_seed(0)
    a = fit(mlp(), (x.numpy(), y.numpy()), val=(x.numpy(), y.numpy()), epochs=2, seed=1,
            device="cpu", progress=False)  # fmt: skip
    torch.manual_seed(0)
    b = fit(mlp(), (x, y), val=(x, y), epochs=2, seed=1, device="cpu", progress=False)
    assert a.column("train_loss") == b.column("train_loss")
    assert a.column("val_accuracy") == b.column("val_accuracy")


class _Ids(nn.Module):
    """A bag of embeddings over uint8 token ids (the ids must reach it unchanged)."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.EmbeddingBag(256, 8)
        self.head = nn.Linear(8, 2)
        self.seen: list[torch.Tensor] = []

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        self.seen.append(ids)
        return self.head(self.embed(ids.long()))


def test_uint8_token_ids_reach_an_embedding_unchanged() -> None:
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, 256, (128, 6), generator=g, dtype=torch.uint8)
    labels = (ids[:, 0] >= 128).long()
    copy = ids.clone()
    model = _Ids()
    history = fit(model, (ids, labels), epochs=20, lr=0.05, batch_size=32, shuffle=False,
                  device="cpu", progress=False)  # fmt: skip
    assert model.seen[0].dtype == torch.uint8 and torch.equal(model.seen[0], ids[:32])
    assert torch.equal(ids, copy)  # the user's tensor is untouched
    assert history.last.train_accuracy is not None and history.last.train_accuracy > 0.95


def test_validation_split_holds_out_a_seeded_share() -> None:
    x, y = blobs(100)
    histories = []
    for _ in range(2):
        torch.manual_seed(0)
        histories.append(fit(mlp(), (x, y), validation_split=0.2, epochs=2, seed=3,
                             device="cpu", progress=False))  # fmt: skip
    assert histories[0].last.val_accuracy is not None
    assert histories[0].column("val_loss") == histories[1].column("val_loss")
    # the held-out 20 samples are evaluated, not trained on
    steps = fit(mlp(), (x, y), validation_split=0.2, max_steps=3, batch_size=80, device="cpu",
                progress=False)  # fmt: skip
    assert steps.records[-1].samples_per_second * steps.records[-1].seconds == pytest.approx(80)


def test_fp16_autocast_with_loss_scaling_on_the_cpu(tmp_path: Path) -> None:
    model = mlp()
    seen: list[torch.dtype] = []
    model[0].register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    ck = tmp_path / "ck.pt"
    history = fit(model, blobs(), runtime=Runtime(amp="fp16"), epochs=2, batch_size=16,
                  device="cpu", progress=False, checkpoint=ck)  # fmt: skip
    assert set(seen) == {torch.float16}
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert history.records[-1].train_loss < history.records[0].train_loss
    assert load_checkpoint(ck)["scaler"]["scale"] == 65536.0  # the GradScaler's state is kept
    with pytest.raises(InvalidArgumentError, match="LBFGS cannot take"):
        fit(mlp(), blobs(), optimizer="lbfgs", runtime=Runtime(amp="fp16"), progress=False)


@requires_cuda
@pytest.mark.gpu
def test_fp16_with_loss_scaling_on_cuda_learns_and_keeps_its_scale(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = MnistCNN(depth=2)
    ck = tmp_path / "ck.pt"
    history = fit(model, load_mnist_sample(), val=load_mnist_sample(train=False), seed=0,
                  device="cuda", progress=False, checkpoint=ck,
                  **replace(FAST_RECIPE, runtime=Runtime(amp="fp16")))  # fmt: skip
    assert history.last.val_accuracy is not None and history.last.val_accuracy > 0.93
    assert load_checkpoint(ck)["scaler"]["scale"] > 0
