"""Networks learning to classify images: seed 002's ConvNet and MLPs on digits and MNIST.

    mnist-convnet, fashion-mnist-convnet, digits-convnet, digits-mlp, mnist-mlp

A run's initial weights are the network's own (nn.Module) initialisation under
`torch.manual_seed` of the run's init stream: runs with the same seed start from the
same weights (seed 002's deepcopy). The engine trains K runs through one stacked forward
(`stacked.py`: grouped convolutions, batched matrix products), each run on its own batch
with its own dropout masks. A run's masks come from its dropout stream and the update's
index alone, so a run draws the same masks alone or in a group of any size.

The loss is the mean negative log-likelihood of the batch (seed 002's F.nll_loss); at
each evaluation, the test split's loss is the summed NLL over N (seed 002's "test loss")
and its accuracy, and the train loss is taken on a fixed subset of the training data
(all of it up to `train_eval` examples: 5 000 of MNIST's 60 000 by default, stated in the
description) — without dropout, in batches of 500 (seed 002's test batch).
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from descend import checks
from descend.tasks import datasets, networks, stacked

EVAL_BATCH = 500


@dataclass(frozen=True, eq=False)
class Classification:
    """A network on a labelled dataset: the engine's Task (descend.engine.runs.Task)."""

    name: str
    params: dict[str, Any]  # the settings given, for labels
    data: datasets.Dataset
    make_network: Callable[[], nn.Module]
    forward: stacked.Forward  # (params (K, ...), x (K, B, ...), masks) -> (K, B, classes)
    dropout: tuple[float, ...]  # the network's dropout probabilities, in order
    train_eval: int  # training examples the evaluation's train loss is taken on
    description: str = ""
    _moved: dict = field(default_factory=dict, repr=False)

    default_regime = "minibatch:32:shuffle"  # seed 002's batches

    # --- the engine's Task protocol ---

    @property
    def examples(self) -> int:
        return len(self.data.train_y)

    @property
    def label(self) -> str:
        args = ", ".join(f"{k}={v}" for k, v in self.params.items())
        return f"{self.name}({args})" if args else self.name

    def stacks_on(self, device: torch.device) -> bool:
        """Whether K runs should share one stacked computation on `device`. Not a ConvNet
        on the CPU: K runs as one grouped convolution cost more per run-step than runs
        one by one (measured on this project's 2-core CPU, seed 002's batch of 32, Adam:
        7.3 ms per run-step for K = 6 stacked and 6.8 ms for K = 2, on two threads;
        6.3 ms for one run on two threads; two one-thread workers side by side, 10–12 ms
        each, i.e. 5–6 ms per run-step for the machine). MLPs (matrix products) stack
        well everywhere; on CUDA ConvNets do too (K = 8 seeds cost 1.4× one seed)."""
        return device.type != "cpu" or self.forward.dropout_features == ()

    def check(self, run: Any) -> None:
        checks.no_start(self.name, run)

    def initial_params(self, run: Any, generator: torch.Generator) -> dict[str, Tensor]:
        """The network's own initialisation under torch.manual_seed(the init stream)."""
        with torch.random.fork_rng(devices=[]):  # leaves the caller's global RNG alone
            torch.manual_seed(run.stream("init"))
            network = self.make_network()
        return {k: v.detach() for k, v in network.named_parameters()}

    def on(self, device: torch.device, dtype: torch.dtype) -> Classification:
        key = (str(device), dtype)
        if key not in self._moved:
            self._moved[key] = dataclasses.replace(
                self, data=self.data.to(device, dtype), _moved={}
            )
        return self._moved[key]

    def losses(self, params: Mapping[str, Tensor], batch: Tensor | None, step: Any) -> Tensor:
        """Mean NLL (K,) of each run on its batch ((K, B) indices; None: all data)."""
        x = self.data.train_x if batch is None else self.data.train_x[batch]
        y = self.data.train_y if batch is None else self.data.train_y[batch]
        if batch is None:  # every run on all the data
            runs = next(iter(params.values())).shape[0]
            x, y = x.expand(runs, *x.shape), y.expand(runs, *y.shape)
        masks = self._masks(step, x.shape[:2], x.device, x.dtype) if step is not None else None
        log_p = self.forward(params, x, masks)  # (K, B, classes)
        return -log_p.gather(2, y[..., None]).squeeze(2).mean(dim=1)

    def _masks(self, step: Any, shape: torch.Size, device, dtype) -> list[Tensor] | None:
        """Each dropout layer's mask (K, B, features), scaled by 1/(1 − p) as nn.Dropout,
        from each run's own generator for this update."""
        if not any(self.dropout):
            return None
        batch = shape[1]
        generators = [
            torch.Generator(device).manual_seed(mix(seed, step.index))
            for seed in step.dropout_seeds
        ]
        masks = []
        for p, features in zip(self.dropout, self.forward.dropout_features, strict=True):
            draws = torch.empty(len(generators), batch, features, device=device)  # float32
            for run, g in enumerate(generators):
                torch.rand(batch, features, generator=g, device=device, out=draws[run])
            # kept where the draw is ≥ p, then ÷ (1 − p); in place (an update's largest
            # tensors after the convolutions': a third less time than a bool mask, cast)
            masks.append(draws.ge_(p).to(dtype).div_(1 - p))  # (K, B, features)
        return masks

    def evaluate(self, params: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """Test loss (summed NLL / N) and accuracy, and the train loss on `train_eval`
        examples: no dropout, in batches of 500."""
        test_loss, accuracy = self._scores(params, self.data.test_x, self.data.test_y)
        train_loss, _ = self._scores(
            params, self.data.train_x[: self.train_eval], self.data.train_y[: self.train_eval]
        )
        return {"train_loss": train_loss, "test_loss": test_loss, "test_accuracy": accuracy}

    def _scores(self, params: Mapping[str, Tensor], x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        runs = next(iter(params.values())).shape[0]
        total = torch.zeros(runs, dtype=torch.float64, device=x.device)
        right = torch.zeros(runs, dtype=torch.float64, device=x.device)
        with torch.no_grad():
            for start in range(0, len(y), EVAL_BATCH):
                xs, ys = x[start : start + EVAL_BATCH], y[start : start + EVAL_BATCH]
                log_p = self.forward(params, xs.expand(runs, *xs.shape), None)  # (K, B, C)
                total += -log_p.gather(2, ys.expand(runs, -1)[..., None]).sum(dim=(1, 2))
                right += (log_p.argmax(dim=2) == ys).sum(dim=1)
        return total / len(y), right / len(y)


def mix(seed: int, index: int) -> int:
    """A seed for update `index` of a dropout stream (distinct updates, distinct seeds)."""
    return (seed * 1_000_003 + index) % (2**63 - 1)


def _task(
    name: str,
    dataset: str,
    architecture: str,
    *,
    data_dir: str | None,
    widths: tuple[int, ...] = (64,),
    train_eval: int | None = None,
    normalize: Any = None,
    params: dict[str, Any],
) -> Classification:
    data = datasets.load(dataset, data_dir=data_dir, normalize=normalize)
    shape, classes = data.input_shape, len(data.classes)
    if architecture == "convnet":
        make: Callable[[], nn.Module] = lambda: networks.convnet(shape, classes)  # noqa: E731
        forward, dropout = stacked.convnet(shape), (0.10, 0.25)
    else:
        make = lambda: networks.mlp(shape, widths, classes)  # noqa: E731
        forward, dropout = stacked.mlp(len(widths)), ()
    n = len(data.train_y)
    subset = min(n, 5_000) if train_eval is None else checks.integer("train_eval", train_eval, 1, n)
    what = "all training examples" if subset == n else f"the first {subset} training examples"
    return Classification(
        name, params, data, make, forward, dropout, subset,
        f"{data.description.rstrip('.')}. Network: {architecture}"
        + (f" with hidden widths {widths}" if architecture == "mlp" else " (seed 002)")
        + f"; train loss evaluated on {what}",
    )  # fmt: skip


def convnet(
    dataset: str = "digits",
    data_dir: str | None = None,
    train_eval: int | None = None,
    normalize: tuple[float, float] | None = None,
) -> Classification:
    """Seed 002's ConvNet on `dataset` (digits, mnist, fashion-mnist), sized from its
    images. data_dir: where IDX files are (else $DESCEND_DATA, else ~/.cache/descend)."""
    return _task(
        f"{dataset}-convnet", dataset, "convnet", data_dir=data_dir, train_eval=train_eval,
        normalize=normalize, params=_given(dataset=dataset, normalize=normalize),
    )  # fmt: skip


def mlp(
    dataset: str = "digits",
    widths: tuple[int, ...] = (64,),
    data_dir: str | None = None,
    train_eval: int | None = None,
    normalize: tuple[float, float] | None = None,
) -> Classification:
    """An MLP (hidden layers of `widths`, ReLU, no dropout) on `dataset`."""
    widths = tuple(widths) if isinstance(widths, tuple | list) else (widths,)
    for width in widths:
        checks.integer("widths", width, 1)
    return _task(
        f"{dataset}-mlp", dataset, "mlp", data_dir=data_dir, widths=widths,
        train_eval=train_eval, normalize=normalize,
        params=_given(dataset=dataset, widths=widths if widths != (64,) else None,
                      normalize=normalize),
    )  # fmt: skip


def _given(**settings: Any) -> dict[str, Any]:
    return {k: v for k, v in settings.items() if v is not None}


def named(
    architecture: Callable[..., Classification], dataset: str
) -> Callable[..., Classification]:
    """The task `dataset-architecture` (mnist-convnet, ...): the architecture with its
    dataset fixed."""

    def make(**settings: Any) -> Classification:
        return architecture(dataset=dataset, **settings)

    defaults = {
        k: v for k, v in inspect.signature(architecture).parameters.items() if k != "dataset"
    }
    make.__signature__ = inspect.Signature(list(defaults.values()))  # type: ignore[attr-defined]
    make.__name__ = f"{dataset}_{architecture.__name__}"
    return make


NAMED = {
    "mnist-convnet": named(convnet, "mnist"),
    "fashion-mnist-convnet": named(convnet, "fashion-mnist"),
    "digits-convnet": named(convnet, "digits"),
    "digits-mlp": named(mlp, "digits"),
    "mnist-mlp": named(mlp, "mnist"),
}
