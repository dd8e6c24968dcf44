"""K networks at once: the forward of seed 002's ConvNet and of an MLP for parameters
stacked along a leading run axis, each run on its own inputs.

    x (K, B, C, H, W), params {name: (K, ...)}  ->  log-probabilities (K, B, classes)

Convolutions of K runs are one grouped convolution (groups = K: the K runs' channels side
by side, each group convolved with its own run's kernels), linear layers one batched
matrix product. The arithmetic per run is that of the nn.Module (tests compare them); the
names of the parameters are the module's (`conv1.weight`, `fc1.bias`, ...).

Dropout takes its masks from the caller (K, B, features), already scaled by 1/(1 − p),
so that each run's masks can come from its own random stream; None means no dropout.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor
from torch.nn import functional

Params = Mapping[str, Tensor]


class Forward:
    """A stacked forward; `dropout_features` sizes the masks it takes, one per layer."""

    dropout_features: tuple[int, ...] = ()

    def __call__(self, params: Params, x: Tensor, masks: Sequence[Tensor] | None) -> Tensor:
        raise NotImplementedError


def _linear(x: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    """x (K, B, in) @ weight (K, out, in)ᵀ + bias (K, out) -> (K, B, out)."""
    return torch.baddbmm(bias[:, None, :], x, weight.transpose(1, 2))


def _conv(x: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    """x (B, K·C, H, W), weight (K, out, C, h, w) -> (B, K·out, H', W'), one conv per run."""
    runs, out = weight.shape[:2]
    return functional.conv2d(
        x, weight.reshape(runs * out, *weight.shape[2:]), bias.reshape(-1), groups=runs
    )


class ConvNetForward(Forward):
    """conv 16 + ReLU, conv 32 + ReLU, max-pool 2, dropout, fc 64 + ReLU, dropout, fc,
    log-softmax (seed 002; descend.tasks.networks.ConvNet)."""

    def __init__(self, input_shape: Sequence[int]):
        _, height, width = input_shape
        self.dropout_features = (32 * ((height - 4) // 2) * ((width - 4) // 2), 64)

    def __call__(self, params: Params, x: Tensor, masks: Sequence[Tensor] | None) -> Tensor:
        runs, batch = x.shape[:2]
        x = x.transpose(0, 1).reshape(batch, -1, *x.shape[3:])  # (B, K·C, H, W)
        x = torch.relu(_conv(x, params["conv1.weight"], params["conv1.bias"]))  # (B, K·16, ..)
        x = torch.relu(_conv(x, params["conv2.weight"], params["conv2.bias"]))  # (B, K·32, ..)
        x = torch.max_pool2d(x, 2)  # (B, K·32, h, w)
        x = x.reshape(batch, runs, -1).transpose(0, 1)  # (K, B, 32·h·w)
        if masks is not None:
            x = x * masks[0]
        x = torch.relu(_linear(x, params["fc1.weight"], params["fc1.bias"]))  # (K, B, 64)
        if masks is not None:
            x = x * masks[1]
        return torch.log_softmax(_linear(x, params["fc2.weight"], params["fc2.bias"]), dim=2)


class MLPForward(Forward):
    """flatten, (linear + ReLU) per hidden layer, linear, log-softmax (networks.mlp, no
    dropout)."""

    def __init__(self, hidden: int):
        self.layers = hidden + 1

    def __call__(self, params: Params, x: Tensor, masks: Sequence[Tensor] | None) -> Tensor:
        x = x.flatten(2)  # (K, B, features)
        for i in range(1, self.layers + 1):
            x = _linear(x, params[f"fc{i}.weight"], params[f"fc{i}.bias"])
            if i < self.layers:
                x = torch.relu(x)
        return torch.log_softmax(x, dim=2)


def convnet(input_shape: Sequence[int]) -> ConvNetForward:
    return ConvNetForward(input_shape)


def mlp(hidden: int) -> MLPForward:
    return MLPForward(hidden)
