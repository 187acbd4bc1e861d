from __future__ import annotations

import pytest
import torch
from torch import nn

from nnkit.models import MnistCNN
from nnkit.summary import parameter_table, summary


def test_parameter_table_follows_parameters_order() -> None:
    model = MnistCNN(depth=2)
    table = parameter_table(model)
    assert [r.shape for r in table.rows] == [tuple(p.shape) for p in model.parameters()]
    assert [r.name for r in table.rows][:4] == [
        "conv1.weight",
        "conv1.bias",
        "conv2.weight",
        "conv2.bias",
    ]
    assert [r.layer_type for r in table.rows] == ["Conv2d"] * 4 + ["Linear"] * 6
    assert table.total == sum(p.numel() for p in model.parameters()) == 116_234
    text = str(table)
    assert "fc1.weight" in text and "[128, 800]" in text and "102,400" in text
    assert table.to_dict()[4]["shape"] == [128, 800]


def test_frozen_parameters_are_reported() -> None:
    model = MnistCNN(depth=1)
    model.conv1.requires_grad_(False)
    table = parameter_table(model)
    assert table.trainable == table.total - 160
    assert summary(model).trainable_params == table.trainable


def test_summary_shapes_and_macs() -> None:
    s = summary(MnistCNN(depth=2), (4, 1, 28, 28))
    rows = {r.name: r for r in s.layers}
    assert rows["conv1"].output_shape == (4, 16, 26, 26)
    assert rows["conv1"].macs == 4 * 16 * 26 * 26 * 9
    assert rows["conv2"].macs == 4 * 32 * 11 * 11 * 16 * 9
    assert rows["fc1"].macs == 4 * 128 * 800
    assert s.total_macs == sum(r.macs for r in s.layers)
    assert "mult-adds for input [4, 1, 28, 28]" in str(s)


class Tied(nn.Module):
    """Two layers sharing one weight matrix (each with its own bias), plus a free parameter."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(3, 3)
        self.b = nn.Linear(3, 3)
        self.b.weight = self.a.weight
        self.scale = nn.Parameter(torch.ones(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.b(torch.relu(self.a(x))) * self.scale


def test_shared_parameters_are_counted_once() -> None:
    model = Tied()
    expected = sum(p.numel() for p in model.parameters())
    assert expected == 9 + 3 + 3 + 1
    assert parameter_table(model).total == expected
    s = summary(model, (2, 3))
    assert s.total_params == expected
    assert sum(r.params for r in s.layers) == expected


def test_reused_layer_counts_its_work_twice() -> None:
    layer = nn.Linear(4, 4)
    s = summary(nn.Sequential(layer, nn.ReLU(), layer), (2, 4))
    assert s.total_params == 20 and s.total_macs == 2 * 2 * 4 * 4


def test_summary_restores_training_mode() -> None:
    model = MnistCNN(1)
    model.train()
    summary(model, (1, 1, 28, 28))
    assert model.training


def test_collapse_linear_computes_the_same_function() -> None:
    from nnkit.models import MLP
    from nnkit.summary import collapse_linear

    torch.manual_seed(0)
    for sizes in ([3, 2], [3, 16, 2], [5, 32, 32, 32, 4]):
        for bias in (True, False):
            model = MLP(sizes, activation=None, bias=bias).double()
            single = collapse_linear(model)
            assert (single.in_features, single.out_features) == (sizes[0], sizes[-1])
            assert (single.bias is None) == (not bias)
            x = torch.randn(50, sizes[0], dtype=torch.float64)
            torch.testing.assert_close(single(x), model(x), rtol=1e-12, atol=1e-12)


def test_collapse_linear_handles_nesting_and_float32() -> None:
    from nnkit.summary import collapse_linear

    model = nn.Sequential(
        nn.Flatten(), nn.Sequential(nn.Linear(6, 4), nn.Identity()), nn.Linear(4, 2)
    )
    single = collapse_linear(model)
    x = torch.randn(3, 2, 3)
    torch.testing.assert_close(single(x.flatten(1)), model(x), rtol=1e-5, atol=1e-6)
    assert single.weight.dtype == torch.float32


def test_collapse_linear_names_the_non_linear_layer() -> None:
    from nnkit.models import MLP
    from nnkit.summary import collapse_linear

    with pytest.raises(ValueError, match=r"layer 3 \(ReLU\) makes the model non-linear"):
        collapse_linear(nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2), nn.Linear(2, 2), nn.ReLU()))
    with pytest.raises(ValueError, match=r"layer 1 \(Sigmoid\)"):
        collapse_linear(MLP([2, 3, 1], activation="sigmoid"))
    with pytest.raises(ValueError, match=r"layer 1.0 \(Conv2d\)"):
        collapse_linear(nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.Conv2d(1, 1, 1))))
    with pytest.raises(ValueError, match="no Linear layer"):
        collapse_linear(nn.Sequential(nn.Identity()))


# Multiply-adds at the operator level: each count below is derived by hand from the layer's
# definition, one multiply-add per scalar product, no bias adds.


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_char_rnn_counts_its_recurrent_layers(cell: str) -> None:
    from nnkit.models import CharRNN

    gates = {"gru": 3, "lstm": 4}[cell]
    steps, hidden, embed, vocab = 100, 256, 64, 84
    s = summary(CharRNN(vocab, cell=cell), (1, steps))  # type: ignore[arg-type]
    rows = {r.name: r for r in s.layers}
    # each step: gates x hidden rows, each a dot product over (input + hidden)
    assert rows["layers.0"].macs == steps * gates * hidden * (embed + hidden)
    assert rows["layers.1"].macs == steps * gates * hidden * (hidden + hidden)
    assert rows["head"].macs == steps * hidden * vocab
    assert rows["embedding"].macs == 0  # a lookup
    if cell == "gru":  # the figure the issue measured by hand: 66,048,000
        assert s.total_macs == 24_576_000 + 39_321_600 + 2_150_400 == 66_048_000
    states = ((1, 1, hidden),) * (2 if cell == "lstm" else 1)
    assert rows["layers.0"].output_shapes == ((1, steps, hidden), *states)
    assert "[1, 100, 256], [1, 1, 256]" in str(s)


def test_every_recurrent_kind_is_counted() -> None:
    t, n, i, h, p = 5, 3, 8, 16, 4
    lstm2 = summary(nn.LSTM(i, h, num_layers=2), (t, n, i)).total_macs
    assert lstm2 == t * n * 4 * h * (i + h) + t * n * 4 * h * (h + h)
    bi = summary(nn.GRU(i, h, bidirectional=True), (t, n, i)).total_macs
    assert bi == 2 * t * n * 3 * h * (i + h)
    rnn = summary(nn.RNN(i, h, batch_first=True), (n, t, i)).total_macs
    assert rnn == t * n * h * (i + h)
    # a projected LSTM: the recurrence reads the projection p, and h -> p is one more product
    proj = summary(nn.LSTM(i, h, proj_size=p), (t, n, i)).total_macs
    assert proj == t * n * (4 * h * (i + p) + h * p)
    assert summary(nn.LSTMCell(i, h), (n, i)).total_macs == n * 4 * h * (i + h)
    assert summary(nn.GRUCell(i, h), (n, i)).total_macs == n * 3 * h * (i + h)
    assert summary(nn.RNNCell(i, h), (n, i)).total_macs == n * h * (i + h)


def test_fused_kernels_are_switched_off_while_counting_and_restored() -> None:
    before = (
        torch.backends.mkldnn.enabled,
        torch.backends.cudnn.enabled,
        torch.backends.mha.get_fastpath_enabled(),
    )
    assert summary(nn.LSTM(8, 16), (5, 3, 8)).total_macs == 5 * 3 * 4 * 16 * 24
    after = (
        torch.backends.mkldnn.enabled,
        torch.backends.cudnn.enabled,
        torch.backends.mha.get_fastpath_enabled(),
    )
    assert after == before


class Refused(nn.Module):
    """Turns oneDNN back on inside its forward, so the LSTM runs the fused kernel."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(8, 16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.backends.mkldnn.flags(enabled=True):
            return self.lstm(x)[0]


@pytest.mark.skipif(not torch.backends.mkldnn.is_available(), reason="needs oneDNN")
@pytest.mark.filterwarnings("ignore:TF32")
def test_a_fused_kernel_that_runs_anyway_is_named_not_counted_as_zero() -> None:
    s = summary(Refused(), (5, 3, 8))
    assert s.uncounted == ("aten.mkldnn_rnn_layer.default in lstm",)
    assert "not counted (fused kernels): aten.mkldnn_rnn_layer.default in lstm" in str(s)


def test_convolutions_transposed_grouped_and_dilated() -> None:
    # transposed: every input element (16 x 10 x 10) is multiplied into 8 x 4 x 4 outputs
    s = summary(nn.ConvTranspose2d(16, 8, 4, stride=2), (1, 16, 10, 10))
    assert s.layers[0].output_shape == (1, 8, 22, 22)
    assert s.total_macs == 16 * 10 * 10 * 8 * 4 * 4 == 204_800
    grouped = summary(nn.ConvTranspose1d(6, 4, 3, groups=2), (2, 6, 9)).total_macs
    assert grouped == 2 * 6 * 9 * (4 // 2) * 3
    # grouped direct: each of 8 x 10 x 10 outputs sums 12 / 4 input channels x 3 x 3
    assert summary(nn.Conv2d(12, 8, 3, padding=1, groups=4), (1, 12, 10, 10)).total_macs == (
        8 * 10 * 10 * 3 * 9
    )
    # dilation changes the output size, not the products per output
    dilated = summary(nn.Conv1d(2, 3, 3, dilation=2), (1, 2, 11))
    assert dilated.layers[0].output_shape == (1, 3, 7)
    assert dilated.total_macs == 3 * 7 * 2 * 3


def test_multi_head_attention_counts_projections_and_both_products() -> None:
    n, length, source, e, heads = 2, 7, 5, 32, 4
    mha = nn.MultiheadAttention(e, heads, batch_first=True)
    q, kv = torch.zeros(n, length, e), torch.zeros(n, source, e)
    s = summary(mha, input_data=(q, kv, kv))
    rows = {r.name: r for r in s.layers}
    projections = n * length * e * e + 2 * n * source * e * e  # q from q; k and v from kv
    scores = n * heads * length * source * (e // heads)  # q k^T per head
    weighted = n * heads * length * source * (e // heads)  # softmax(.) v per head
    out = n * length * e * e  # out_proj, called functionally: its own hook never fires
    assert rows["(model)"].macs == projections + scores + weighted + out
    assert rows["out_proj"].macs == 0 and rows["out_proj"].output_shapes is None
    assert rows["(model)"].output_shapes == ((n, length, e), (n, length, source))


def test_a_transformer_layer_is_counted_past_its_fast_path() -> None:
    n, t, e, ff = 2, 6, 16, 24
    layer = nn.TransformerEncoderLayer(e, 2, ff, batch_first=True)
    attention = n * t * e * 3 * e + 2 * n * t * t * e + n * t * e * e
    assert summary(layer, (n, t, e)).total_macs == attention + 2 * n * t * e * ff


class OwnMatmul(nn.Module):
    """Work in a module's own forward: a matmul, an einsum, a bmm and fused attention."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.randn(6, 5))
        self.proj = nn.Linear(5, 5, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x (B, T, 6)
        y = torch.matmul(x, self.w)  # (B, T, 5)
        z = torch.einsum("btc,bsc->bts", y, y)  # (B, T, T)
        z = torch.bmm(z, y)  # (B, T, 5)
        heads = self.proj(z).unflatten(-1, (5, 1)).transpose(1, 2)  # (B, 5, T, 1)
        return nn.functional.scaled_dot_product_attention(heads, heads, heads)


def test_a_module_s_own_matmul_einsum_bmm_and_attention() -> None:
    b, t = 3, 4
    s = summary(OwnMatmul(), (b, t, 6))
    rows = {r.name: r for r in s.layers}
    own = b * t * 6 * 5 + b * t * t * 5 + b * t * t * 5 + b * 5 * t * t * (1 + 1)
    assert rows["(model)"].macs == own
    assert rows["proj"].macs == b * t * 5 * 5
    assert s.total_macs == own + b * t * 5 * 5


def test_bilinear() -> None:
    assert summary(nn.Bilinear(4, 5, 6), [(2, 4), (2, 5)]).total_macs == 2 * 6 * 4 * 5


def test_resnet18_without_weights() -> None:
    from torchvision.models import resnet18

    def conv(size: int, out: int, inp: int, k: int) -> int:  # output pixels x products each
        return size * size * out * inp * k * k

    total = conv(112, 64, 3, 7)  # the stem, stride 2
    total += 4 * conv(56, 64, 64, 3)  # layer1
    for size, width in ((28, 128), (14, 256), (7, 512)):  # layer2..4: the first block halves
        total += conv(size, width, width // 2, 3) + 3 * conv(size, width, width, 3)
        total += conv(size, width, width // 2, 1)  # the 1x1 downsample
    total += 512 * 1000  # fc
    assert total == 1_814_073_344
    assert summary(resnet18(), (1, 3, 224, 224)).total_macs == total


def test_vit_b_16_without_weights() -> None:
    from torchvision.models import vit_b_16

    tokens, dim, mlp, layers = 14 * 14 + 1, 768, 3072, 12  # 196 patches and the class token
    patches = 196 * dim * (3 * 16 * 16)
    attention = tokens * dim * 3 * dim + 2 * tokens * tokens * dim + tokens * dim * dim
    block = attention + 2 * tokens * dim * mlp
    total = patches + layers * block + dim * 1000
    assert total == 17_563_828_224
    s = summary(vit_b_16(), (1, 3, 224, 224))
    assert s.total_macs == total
    rows = {r.name: r for r in s.layers}
    assert rows["encoder.layers.encoder_layer_0.self_attention"].macs == attention


def test_several_inputs_example_tensors_and_embedding_ids() -> None:
    class Two(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b = nn.Linear(3, 4), nn.Linear(5, 4)

        def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            return self.a(x) + self.b(y)

    s = summary(Two(), [(2, 3), (2, 5)])
    assert s.total_macs == 2 * 4 * 3 + 2 * 4 * 5
    assert s.input_shapes == ((2, 3), (2, 5)) and s.input_size == (2, 3)
    assert "mult-adds for input [2, 3] and [2, 5]: 64" in str(s)
    same = summary(Two(), input_data=(torch.randn(2, 3), torch.randn(2, 5)))
    assert same.total_macs == s.total_macs
    embedded = nn.Sequential(nn.Embedding(10, 4), nn.Flatten(), nn.Linear(12, 2))
    assert summary(embedded, (2, 3)).total_macs == 2 * 2 * 12  # int64 zeros, no dtype given
    with pytest.raises(ValueError, match="not both"):
        summary(Two(), (2, 3), input_data=torch.zeros(2, 3))
    with pytest.raises(TypeError, match="input_data must be a tensor or a sequence of tensors"):
        summary(Two(), input_data=[1, 2])  # type: ignore[list-item]
    with pytest.raises(ValueError, match=r"one such shape per input, got \(\(2, 3\), 5\)"):
        summary(Two(), [(2, 3), 5])  # type: ignore[list-item]


def test_lazy_layers_are_materialised_by_the_probe_or_refused() -> None:
    lazy = nn.Sequential(nn.LazyLinear(7), nn.ReLU(), nn.LazyLinear(2))
    with pytest.raises(ValueError, match=r"lazy layers .*: 0 \(LazyLinear\), 2 \(LazyLinear\); "):
        summary(lazy)
    with pytest.raises(ValueError, match="lazy layers"):
        parameter_table(lazy)
    s = summary(lazy, (3, 5))
    assert s.total_params == 5 * 7 + 7 + 7 * 2 + 2
    assert s.total_macs == 3 * 5 * 7 + 3 * 7 * 2
    assert parameter_table(lazy).total == s.total_params  # now materialised


def test_to_dict_keeps_every_output_shape() -> None:
    data = summary(nn.GRU(4, 3), (2, 1, 4)).to_dict()
    assert data["layers"][0]["output_shapes"] == [[2, 1, 3], [1, 1, 3]]
    assert data["input_shapes"] == [[2, 1, 4]] and data["uncounted"] == []
