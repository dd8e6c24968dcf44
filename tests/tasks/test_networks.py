import re
import warnings

import pytest
import torch
from torch import nn

from descend.errors import DescendError
from descend.tasks.networks import ConvNet, SeedConvNet, convnet, mlp


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_seed_convnet_shapes_and_size():
    model = SeedConvNet()
    out = model(torch.zeros(3, 1, 28, 28))
    assert out.shape == (3, 10)
    torch.testing.assert_close(out.exp().sum(dim=1), torch.ones(3))  # log-probabilities
    assert parameter_count(model) == 300_426
    assert len(list(model.parameters())) == 8
    assert isinstance(model, ConvNet) and model.fc1.in_features == 4608


@pytest.mark.parametrize(
    ("shape", "classes", "flat", "count"),
    [
        # conv1 16·(9C+1), conv2 32·(16·9+1), fc1 (flat+1)·64, fc2 65·classes
        ((1, 28, 28), 10, 4608, 160 + 4640 + 4609 * 64 + 650),  # 300 426
        ((1, 8, 8), 10, 128, 160 + 4640 + 129 * 64 + 650),  # 13 706: digits
        ((3, 9, 7), 4, 32 * 2 * 1, 16 * 28 + 4640 + 65 * 64 + 65 * 4),
    ],
)
def test_convnet_is_sized_from_its_input(shape, classes, flat, count):
    model = convnet(shape, classes)
    assert model.fc1.in_features == flat and parameter_count(model) == count
    model.eval()
    out = model(torch.randn(5, *shape))
    assert out.shape == (5, classes)
    torch.testing.assert_close(out.exp().sum(dim=1), torch.ones(5))


def test_convnet_layers_are_the_seeds():
    model = convnet()
    assert [name for name, _ in model.named_parameters()] == [
        f"{layer}.{kind}"
        for layer in ("conv1", "conv2", "fc1", "fc2")
        for kind in ("weight", "bias")
    ]
    assert type(model.dropout1) is nn.Dropout and model.dropout1.p == 0.10
    assert type(model.dropout2) is nn.Dropout and model.dropout2.p == 0.25


def test_dropout_only_in_training_and_without_warnings():
    torch.manual_seed(0)
    model, x = convnet((1, 8, 8)), torch.randn(4, 1, 8, 8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the seed's Dropout2d on (N, 64) warned here
        first, second = model(x), model(x)
    assert not torch.allclose(first, second)  # a different dropout mask each call
    model.eval()
    torch.testing.assert_close(model(x), model(x))


def test_seed_convnet_is_the_28x28_convnet():
    torch.manual_seed(0)
    seed = SeedConvNet()
    torch.manual_seed(0)
    same = convnet((1, 28, 28), 10)
    for (name, a), (_, b) in zip(seed.named_parameters(), same.named_parameters(), strict=True):
        assert torch.equal(a, b), name


@pytest.mark.parametrize(
    ("shape", "classes"), [((1, 5, 28), 10), ((28, 28), 10), ((0, 8, 8), 10), ((1, 8, 8), 1)]
)
def test_convnet_bad_sizes(shape, classes):
    with pytest.raises(
        DescendError,
        match=re.escape(
            f"Invalid ConvNet input_shape {shape} or classes {classes}: expected (C, H, W) with "
            "C ≥ 1, H and W ≥ 6, and at least 2 classes."
        ),
    ):
        convnet(shape, classes)


def test_mlp():
    model = mlp((1, 8, 8), widths=(32, 16), classes=10, dropout=0.5)
    assert [name for name, _ in model.named_children()] == [
        "flatten",
        "fc1",
        "relu1",
        "dropout1",
        "fc2",
        "relu2",
        "dropout2",
        "fc3",
        "log_softmax",
    ]
    assert parameter_count(model) == 65 * 32 + 33 * 16 + 17 * 10
    out = model.eval()(torch.randn(7, 1, 8, 8))
    assert out.shape == (7, 10)
    torch.testing.assert_close(out.exp().sum(dim=1), torch.ones(7))
    plain = mlp(784)
    assert [name for name, _ in plain.named_children()] == [
        "flatten",
        "fc1",
        "relu1",
        "fc2",
        "log_softmax",
    ]
    assert parameter_count(plain) == 785 * 64 + 65 * 10
    assert mlp(20, widths=(), classes=3)(torch.randn(2, 20)).shape == (2, 3)  # logistic


def test_mlp_bad_sizes():
    with pytest.raises(
        DescendError,
        match=re.escape(
            "Invalid MLP sizes: input_size 64, widths (0,), classes 10; expected sizes ≥ 1 and "
            "at least 2 classes."
        ),
    ):
        mlp(64, widths=(0,))
    with pytest.raises(DescendError, match=r"^Invalid dropout 1\.0: expected a probability in"):
        mlp(64, dropout=1.0)
