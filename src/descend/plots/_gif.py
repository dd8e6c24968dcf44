"""Writing frames as a GIF with one palette for all of them.

A GIF frame holds at most 256 colours. Left to itself, Pillow chooses a palette per
frame (and dithers with it): a colour then changes from frame to frame (a legend swatch
brown in one frame, orange in the next), and the dither noise makes every frame differ
everywhere, so the GIF cannot store only what changed. Here the palette is chosen once,
from the first and last frames (together they hold every colour the animation shows),
with the colours that carry meaning kept exactly; each frame is mapped to it without
dithering.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from matplotlib.colors import to_rgb
from PIL import Image

PALETTE_SIZE = 256


def fixed_palette(frames: Sequence[Image.Image], exact: Iterable) -> Image.Image:
    """A "P" image whose palette holds the `exact` colours (matplotlib colour specs:
    labels, markers, white, black) and, in the other entries, the colours of the first
    and last frames as median cut finds them."""
    kept = list(dict.fromkeys(tuple(round(255 * c) for c in to_rgb(color)) for color in exact))
    kept = kept[: PALETTE_SIZE // 2]  # room for the background's shades and antialiasing
    sample = np.concatenate([np.asarray(frames[0]), np.asarray(frames[-1])], axis=0)
    others = Image.fromarray(sample).quantize(
        PALETTE_SIZE - len(kept), method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
    )
    rest = np.array(others.getpalette() or [], dtype=np.uint8).reshape(-1, 3).tolist()
    colors = kept + [tuple(c) for c in rest]
    colors += [colors[-1]] * (PALETTE_SIZE - len(colors))  # pad: a palette has 256 entries
    palette = Image.new("P", (1, 1))
    palette.putpalette([v for color in colors[:PALETTE_SIZE] for v in color])
    return palette


def save_gif(frames: Sequence[Image.Image], path: str | Path, fps: float, exact: Iterable) -> None:
    """The RGB `frames` as a looping GIF at `fps`, all mapped to one palette."""
    palette = fixed_palette(frames, exact)
    indexed = [frame.quantize(palette=palette, dither=Image.Dither.NONE) for frame in frames]
    first, *rest = indexed
    duration = round(1000 / fps)  # ms per frame
    first.save(path, save_all=True, append_images=rest, duration=duration, loop=0)
