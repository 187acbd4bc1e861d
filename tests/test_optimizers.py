from __future__ import annotations

import pytest
import torch
from torch import optim

from nnkit.optimizers import OPTIMIZER_NAMES, build_optimizer, default_lr


def params() -> list[torch.nn.Parameter]:
    return [torch.nn.Parameter(torch.zeros(3))]


@pytest.mark.parametrize("name", OPTIMIZER_NAMES)
def test_every_name_builds_with_pytorch_defaults(name: str) -> None:
    opt = build_optimizer(name, params())
    assert opt.defaults["lr"] == default_lr(name)


def test_presets_and_settings() -> None:
    nesterov = build_optimizer("nesterov", params(), lr=0.1)
    assert isinstance(nesterov, optim.SGD) and nesterov.defaults["nesterov"] is True
    adamw = build_optimizer("adamw", params(), lr=0.01, weight_decay=0.1, betas=(0.8, 0.9))
    assert adamw.defaults["weight_decay"] == 0.1 and adamw.defaults["betas"] == (0.8, 0.9)
    assert default_lr("adam") == 1e-3


def test_bad_optimizer_arguments() -> None:
    with pytest.raises(ValueError, match="unknown optimizer 'adan'; expected one of sgd"):
        build_optimizer("adan", params())
    with pytest.raises(ValueError, match="lbfgs has no weight_decay"):
        build_optimizer("lbfgs", params(), weight_decay=0.1)
    with pytest.raises(TypeError, match=r"name or a torch\.optim\.Optimizer"):
        build_optimizer(3, params())  # type: ignore[arg-type]


def test_fused_on_cpu_and_cuda_only_where_it_exists() -> None:
    cpu = build_optimizer("adam", params(), device=torch.device("cpu"))
    assert cpu.defaults["fused"] is True
    assert build_optimizer("nesterov", params(), device=torch.device("cpu")).defaults["fused"]
    assert not build_optimizer("adam", params(), device=torch.device("meta")).defaults.get("fused")
    assert not build_optimizer("adam", params()).defaults.get("fused")  # device unknown
    meta = torch.device("cuda")  # building does not touch the device, so this runs without one
    assert build_optimizer("adamw", params(), device=meta).defaults["fused"] is True
    assert not build_optimizer("rmsprop", params(), device=meta).defaults.get("fused")
    assert build_optimizer("adam", params(), device=meta, fused=False).defaults["fused"] is False
