"""Networks used by the experiments: seed 002's ConvNet, sized from its input, and MLPs.

Both end in log-softmax, so their outputs go straight into `nll_loss`.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence

import torch
from torch import nn

from descend.errors import DescendError


class ConvNet(nn.Module):
    """Seed 002's ConvNet (Adam vs Adadelta on MNIST), for C×H×W inputs:

    conv C→16 (3×3) + ReLU, conv 16→32 (3×3) + ReLU, max-pool 2, dropout 0.10, flatten
    (32·⌊(H−4)/2⌋·⌊(W−4)/2⌋: 4608 for 28×28, 128 for 8×8), linear →64 + ReLU, dropout 0.25,
    linear 64→classes, log-softmax. 300 426 parameters for 1×28×28 and 10 classes.

    The seed used `nn.Dropout2d` for both dropouts; on the flattened (N, 64) tensor that is
    not channel dropout (PyTorch warns), so both are plain `nn.Dropout` here.
    """

    def __init__(self, input_shape: Sequence[int] = (1, 28, 28), classes: int = 10) -> None:
        super().__init__()
        channels, height, width = _check_shape(input_shape, classes)
        self.input_shape = (channels, height, width)
        self.conv1 = nn.Conv2d(channels, 16, 3)
        self.conv2 = nn.Conv2d(16, 32, 3)
        self.dropout1 = nn.Dropout(0.10)
        self.fc1 = nn.Linear(32 * ((height - 4) // 2) * ((width - 4) // 2), 64)
        self.dropout2 = nn.Dropout(0.25)
        self.fc2 = nn.Linear(64, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, C, H, W) -> (N, classes)
        x = torch.relu(self.conv1(x))  # (N, 16, H-2, W-2)
        x = torch.relu(self.conv2(x))  # (N, 32, H-4, W-4)
        x = self.dropout1(torch.max_pool2d(x, 2)).flatten(1)  # (N, 32·⌊(H-4)/2⌋·⌊(W-4)/2⌋)
        x = self.dropout2(torch.relu(self.fc1(x)))  # (N, 64)
        return torch.log_softmax(self.fc2(x), dim=1)


class SeedConvNet(ConvNet):
    """Seed 002's ConvNet exactly as it ran: 1×28×28 MNIST images, 10 classes."""

    def __init__(self) -> None:
        super().__init__((1, 28, 28), 10)


def convnet(input_shape: Sequence[int] = (1, 28, 28), classes: int = 10) -> ConvNet:
    """Seed 002's ConvNet for images of `input_shape` (C, H, W); see `ConvNet`."""
    return ConvNet(input_shape, classes)


def mlp(
    input_size: int | Sequence[int],
    widths: Sequence[int] = (64,),
    classes: int = 10,
    dropout: float = 0.0,
) -> nn.Sequential:
    """flatten, then per width: linear + ReLU (+ dropout), then linear →classes, log-softmax.

    input_size: the number of input features, or the input's shape (C, H, W) to flatten.
    Layers are named fc1, fc2, ... so per-layer tables read like the ConvNet's.
    """
    features = input_size if isinstance(input_size, int) else math.prod(input_size)
    if features < 1 or any(width < 1 for width in widths) or classes < 2:
        raise DescendError(
            f"Invalid MLP sizes: input_size {input_size}, widths {tuple(widths)}, classes "
            f"{classes}; expected sizes ≥ 1 and at least 2 classes."
        )
    if not 0 <= dropout < 1:
        raise DescendError(f"Invalid dropout {dropout}: expected a probability in [0, 1).")
    layers: OrderedDict[str, nn.Module] = OrderedDict(flatten=nn.Flatten())
    for i, width in enumerate(widths, start=1):
        layers[f"fc{i}"] = nn.Linear(features, width)
        layers[f"relu{i}"] = nn.ReLU()
        if dropout > 0:
            layers[f"dropout{i}"] = nn.Dropout(dropout)
        features = width
    layers[f"fc{len(widths) + 1}"] = nn.Linear(features, classes)
    layers["log_softmax"] = nn.LogSoftmax(dim=1)
    return nn.Sequential(layers)


def _check_shape(input_shape: Sequence[int], classes: int) -> tuple[int, int, int]:
    shape = tuple(input_shape)
    # two 3×3 convolutions take 4 pixels off each side, and the pool needs 2 of what is left
    if len(shape) != 3 or shape[0] < 1 or min(shape[1:]) < 6 or classes < 2:
        raise DescendError(
            f"Invalid ConvNet input_shape {shape} or classes {classes}: expected (C, H, W) "
            f"with C ≥ 1, H and W ≥ 6, and at least 2 classes."
        )
    return shape  # type: ignore[return-value]
