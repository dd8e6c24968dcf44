"""What a training run did: where its loss settled, and how two runs' weights differ.

Settling point. The batch loss is smoothed by a moving average over w updates (w =
max(10, U/50)); its final level is the mean of the smoothed curve over the last tenth of
training. The run has settled at the first update after which the smoothed loss stays
within 10 % of its whole descent (first smoothed value − final level) of the final level,
for good. SETTLED_DEFINITION says it in one line for tables.

Per-layer comparison of two runs A and B that started from the same weights W0, per
parameter tensor:

    mean difference    mean(A − B)
    L2 distance        ‖A − B‖
    relative change    ‖A − W0‖ / ‖W0‖ and ‖B − W0‖ / ‖W0‖: how far each moved
    cosine similarity  ⟨A, B⟩ / (‖A‖‖B‖)
    seed 002's "normalised difference"  (max A − mean(A − B)) / (max A − min A)

The last is kept to compare with the seed's printout; it mostly says where max A sits in
A's range (≈ max A / (max A − min A), about 0.5 for weights spread evenly around 0,
whatever B is, when mean(A − B) is small), so read the L2 distance and the relative
changes to see which layers the two optimizers moved differently.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import Tensor

SETTLED_DEFINITION = (
    "settled at: the first update after which the batch loss, smoothed over max(10, U/50) "
    "updates, stays within 10 % of its whole descent of its final level (the mean of the "
    "last tenth)"
)
BAND = 0.10


def smoothed(losses: Tensor, window: int | None = None) -> Tensor:
    """The moving average of the batch losses (U,) over `window` updates (U − w + 1,): entry
    i is the mean of updates i … i + w − 1."""
    values = losses.to(torch.float64)
    values = values[torch.isfinite(values)]
    w = window or max(10, len(values) // 50)
    if len(values) < w:
        return values
    sums = torch.cat([torch.zeros(1, dtype=torch.float64), values.cumsum(0)])
    return (sums[w:] - sums[:-w]) / w


def settled_at(losses: Tensor) -> int | None:
    """The update at which the batch loss settled (see the module's docstring), or None for
    a loss that did not descend (or a run too short to tell)."""
    curve = smoothed(losses)
    if len(curve) < 10:
        return None
    w = len(losses) - len(curve) + 1
    final = curve[-max(1, len(curve) // 10) :].mean()
    descent = curve[0] - final
    if not bool(descent > 0):
        return None
    outside = ((curve - final).abs() > BAND * descent).nonzero()
    first_inside = int(outside[-1]) + 1 if len(outside) else 0
    return first_inside + w - 1  # the update that ends the first window inside the band


@dataclass(frozen=True)
class LayerDifference:
    layer: str
    numbers: int
    mean_difference: float
    l2_distance: float
    relative_change_a: float
    relative_change_b: float
    cosine_similarity: float
    normalised_difference: float  # seed 002's


def layer_differences(
    a: Mapping[str, Tensor], b: Mapping[str, Tensor], start: Mapping[str, Tensor]
) -> list[LayerDifference]:
    """Per parameter tensor, how runs A and B (from the same start) differ."""
    rows = []
    for name, wa in a.items():
        x, y, w0 = (t.detach().to(torch.float64).reshape(-1) for t in (wa, b[name], start[name]))
        difference = x - y
        norm0 = float(w0.norm()) or float("nan")
        spread = float(x.max() - x.min()) or float("nan")
        rows.append(
            LayerDifference(
                layer=name,
                numbers=x.numel(),
                mean_difference=float(difference.mean()),
                l2_distance=float(difference.norm()),
                relative_change_a=float((x - w0).norm()) / norm0,
                relative_change_b=float((y - w0).norm()) / norm0,
                cosine_similarity=float(torch.nn.functional.cosine_similarity(x, y, dim=0)),
                normalised_difference=(float(x.max()) - float(difference.mean())) / spread,
            )
        )
    return rows
