"""Networks used by the experiments."""

from __future__ import annotations

import torch
from torch import nn


class SeedConvNet(nn.Module):
    """The MNIST ConvNet of seed 002 (Adam vs Adadelta), for 1×28×28 inputs:

    conv 1→16 (3×3) + ReLU, conv 16→32 (3×3) + ReLU, max-pool 2, dropout 0.10,
    flatten (32·12·12 = 4608), linear 4608→64 + ReLU, dropout 0.25, linear 64→10,
    log-softmax. 300 426 parameters in 8 tensors.
    """

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3)
        self.conv2 = nn.Conv2d(16, 32, 3)
        self.dropout1 = nn.Dropout(0.10)
        self.fc1 = nn.Linear(4608, 64)
        self.dropout2 = nn.Dropout(0.25)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, 1, 28, 28) -> (N, 10)
        x = torch.relu(self.conv1(x))  # (N, 16, 26, 26)
        x = torch.relu(self.conv2(x))  # (N, 32, 24, 24)
        x = self.dropout1(torch.max_pool2d(x, 2)).flatten(1)  # (N, 4608)
        x = self.dropout2(torch.relu(self.fc1(x)))  # (N, 64)
        return torch.log_softmax(self.fc2(x), dim=1)
