"""Datasets held as tensors, loaded once: scikit-learn's digits (offline, the default),
MNIST and Fashion-MNIST from their IDX files.

    data = load("digits")                    # or load("mnist", data_dir="~/data")
    data.train_x  # (N, 1, H, W) float, scaled to [0, 1] then normalised
    data.train_y  # (N,) long class indices
    print(data.description)                  # source, sizes, split and seed, normalisation

Where IDX files are looked for, and how to fetch them: `data_root`, `search_folders`,
`find_idx_files` here and `descend.tasks.download.download`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from descend.errors import DescendError, UnknownNameError
from descend.tasks.idx import IdxError, read_idx

# seed 002 normalised MNIST with these (the usual 0.1307, 0.3081 are the full train set's)
SEED_MNIST_NORMALIZATION = (0.1302, 0.3069)
DIGITS_SPLIT_SEED = 0
DIGITS_TEST_SIZE = 360  # of 1797: 20 %, stratified by class -> 1437 train / 360 test

# role -> the file's standard name (without .gz); MNIST and Fashion-MNIST share them
IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


@dataclass(frozen=True)
class IdxDataset:
    """What a dataset stored as the four standard IDX files needs to be loaded."""

    title: str
    classes: tuple[str, ...]
    normalization: tuple[float, float] | None  # None: the train set's own mean and std
    normalization_note: str
    train_counts: tuple[int, ...]  # published images per class: tells the datasets apart


FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt")
FASHION_CLASSES += ("Sneaker", "Bag", "Ankle boot")
IDX_DATASETS = {
    "mnist": IdxDataset(
        "MNIST (LeCun, Cortes & Burges)",
        tuple(str(digit) for digit in range(10)),
        SEED_MNIST_NORMALIZATION,
        "seed 002's values",
        (5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949),
    ),
    "fashion-mnist": IdxDataset(
        "Fashion-MNIST (Xiao, Rasul & Vollgraf, Zalando)",
        FASHION_CLASSES,
        None,
        "the train set's",
        (6000,) * 10,
    ),
}


class DataNotFoundError(DescendError):
    """The files of a dataset are in none of the folders looked in."""


@dataclass(frozen=True, eq=False)
class Dataset:
    """A dataset as tensors: images (N, C, H, W), labels (N,) long class indices."""

    name: str
    train_x: torch.Tensor  # (N_train, C, H, W) float
    train_y: torch.Tensor  # (N_train,) long
    test_x: torch.Tensor  # (N_test, C, H, W) float
    test_y: torch.Tensor  # (N_test,) long
    classes: tuple[str, ...]
    description: str  # what a summary says: source, sizes, split and seed, normalisation
    normalization: tuple[float, float] | None  # (mean, std) applied after scaling to [0, 1]

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(self.train_x.shape[1:])  # type: ignore[return-value]

    def to(self, device: str | torch.device | None = None, dtype: torch.dtype | None = None):
        """The same data on `device`, images in `dtype` (labels stay long)."""
        return dataclasses.replace(
            self,
            train_x=self.train_x.to(device=device, dtype=dtype),
            train_y=self.train_y.to(device=device),
            test_x=self.test_x.to(device=device, dtype=dtype),
            test_y=self.test_y.to(device=device),
        )

    def __repr__(self) -> str:
        return (
            f"Dataset({self.name!r}, train={tuple(self.train_x.shape)}, "
            f"test={tuple(self.test_x.shape)}, {self.train_x.dtype}, {self.train_x.device})"
        )


def names() -> list[str]:
    """The names `load` accepts."""
    return sorted(["digits", *IDX_DATASETS])


def load(
    name: str,
    *,
    data_dir: str | Path | None = None,
    normalize: tuple[float, float] | bool | None = None,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
) -> Dataset:
    """Load a dataset into tensors on `device`.

    normalize: None for the dataset's default (MNIST: seed 002's mean 0.1302, std 0.3069;
    digits, Fashion-MNIST: the train set's mean and std), a (mean, std) pair, or False to
    keep the pixels in [0, 1]. data_dir: where IDX files are (see `search_folders`).
    """
    if name not in names():
        raise UnknownNameError("dataset", name, names())
    normalize = _check_normalize(normalize)
    if not dtype.is_floating_point:
        raise DescendError(f"Invalid dtype {dtype}: images need a floating-point dtype.")
    raw = _digits_raw() if name == "digits" else _idx_raw(name, data_dir)
    train_x, train_y, test_x, test_y = (torch.from_numpy(a).to(device) for a in raw.arrays)
    # uint8 travels to the device, 4× lighter than floats; scaled and normalised there
    train_x = train_x.to(dtype).div_(raw.scale).unsqueeze(1)  # (N, 1, H, W) in [0, 1]
    test_x = test_x.to(dtype).div_(raw.scale).unsqueeze(1)
    note = raw.normalization_note if normalize is None else "given"
    if normalize is None:
        normalize = raw.normalization or _mean_std(train_x)
    if normalize:
        mean, std = normalize
        train_x.sub_(mean).div_(std)
        test_x.sub_(mean).div_(std)
        how = f"then normalised with mean {mean:.4f} and std {std:.4f} ({note})"
    else:
        how = "not normalised"
    scaling = f"pixels scaled from 0..{raw.scale:g} to [0, 1], {how}"
    return Dataset(
        name,
        train_x,
        train_y.long(),
        test_x,
        test_y.long(),
        raw.classes,
        f"{name}: {raw.source}; {scaling}.",
        normalize or None,
    )


@dataclass(frozen=True)
class _Raw:
    """A dataset as read: numpy arrays before scaling, and what to say about them."""

    arrays: tuple[np.ndarray, ...]  # train images (N, H, W), train labels, test ..., test ...
    scale: float  # the pixels' maximum: dividing by it maps them to [0, 1]
    classes: tuple[str, ...]
    normalization: tuple[float, float] | None  # None: the train set's mean and std
    normalization_note: str
    source: str


def _check_normalize(normalize: object) -> tuple[float, float] | bool | None:
    if normalize is None or normalize is False:
        return normalize
    if isinstance(normalize, Sequence) and not isinstance(normalize, str) and len(normalize) == 2:
        with contextlib.suppress(TypeError, ValueError):  # not numbers: the error below
            mean, std = (float(v) for v in normalize)
            if math.isfinite(mean) and math.isfinite(std) and std > 0:
                return mean, std
    raise DescendError(
        f"Invalid normalize {normalize!r}: expected None (the dataset's default), "
        f"False (keep [0, 1]) or a (mean, std) pair of finite numbers with std > 0."
    )


def _mean_std(x: torch.Tensor) -> tuple[float, float]:
    x = x.double()  # one mean over ~10^7 pixels: float64 keeps it exact to print
    return x.mean().item(), x.std().item()


def _digits_raw() -> _Raw:
    """scikit-learn's digits, split stratified by class with a fixed seed."""
    from sklearn.datasets import load_digits  # imported here: slow, and only digits needs it
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images, labels = digits.images, digits.target  # (1797, 8, 8) in 0..16, (1797,)
    train_x, test_x, train_y, test_y = train_test_split(
        images,
        labels,
        test_size=DIGITS_TEST_SIZE,
        stratify=labels,
        random_state=DIGITS_SPLIT_SEED,
    )
    source = (
        f"scikit-learn's handwritten digits (load_digits: {len(images)} images of 8×8, "
        f"10 classes), split stratified by class with seed {DIGITS_SPLIT_SEED} into "
        f"{len(train_x)} train / {len(test_x)} test images"
    )
    classes = tuple(str(digit) for digit in range(10))
    return _Raw((train_x, train_y, test_x, test_y), 16.0, classes, None, "the train set's", source)


def _idx_raw(name: str, data_dir: str | Path | None) -> _Raw:
    spec = IDX_DATASETS[name]
    paths = find_idx_files(name, data_dir)
    arrays = {role: read_idx(path) for role, path in paths.items()}
    for split in ("train", "test"):
        _check_pair(paths, arrays, split, len(spec.classes))
    _check_not_other(name, paths["train_labels"], arrays["train_labels"])
    train, test = arrays["train_images"], arrays["test_images"]
    if train.shape[1:] != test.shape[1:]:
        raise IdxError(
            paths["test_images"], f"images of {test.shape[1:]}, train images of {train.shape[1:]}."
        )
    source = (
        f"{spec.title} from the IDX files in {paths['train_images'].parent}: the standard "
        f"split, {len(train)} train / {len(test)} test images of {train.shape[1]}×"
        f"{train.shape[2]}, {len(spec.classes)} classes"
    )
    return _Raw(
        tuple(arrays[role] for role in IDX_FILES),
        255.0,
        spec.classes,
        spec.normalization,
        spec.normalization_note,
        source,
    )


def _check_not_other(name: str, path: Path, labels: np.ndarray) -> None:
    """MNIST and Fashion-MNIST files have the same names: refuse one loaded as the other."""
    counts = tuple(np.bincount(labels, minlength=10).tolist())
    for other, spec in IDX_DATASETS.items():
        if other != name and counts == spec.train_counts:
            raise DataNotFoundError(
                f"{path} holds {other}'s train labels (their class counts), not {name}'s: the "
                f"two share file names, so keep each in a sub-folder named after it "
                f"(DATA_DIR/{name}, DATA_DIR/{other})."
            )


def _check_pair(paths: dict[str, Path], arrays: dict[str, np.ndarray], split: str, classes: int):
    """Images and labels of one split: the shapes and types MNIST uses, counts that agree."""
    images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
    image_path, label_path = paths[f"{split}_images"], paths[f"{split}_labels"]
    if images.ndim != 3 or images.dtype != np.uint8:
        raise IdxError(
            image_path, f"expected 3-D uint8 images, found {images.ndim}-D {images.dtype}."
        )
    if labels.ndim != 1 or labels.dtype != np.uint8:
        raise IdxError(
            label_path, f"expected 1-D uint8 labels, found {labels.ndim}-D {labels.dtype}."
        )
    if len(images) != len(labels):
        raise IdxError(
            label_path, f"{len(labels)} labels for the {len(images)} images of {image_path.name}."
        )
    if labels.size and labels.max() >= classes:
        raise IdxError(label_path, f"label {labels.max()} outside the classes 0..{classes - 1}.")


def data_root(data_dir: str | Path | None = None) -> Path:
    """`data_dir`, else $DESCEND_DATA, else $XDG_CACHE_HOME/descend (~/.cache/descend)."""
    if data_dir is not None:
        return Path(data_dir).expanduser()
    if os.environ.get("DESCEND_DATA"):
        return Path(os.environ["DESCEND_DATA"]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache).expanduser() / "descend"


def search_folders(name: str, data_dir: str | Path | None = None) -> list[Path]:
    """The folders looked in, in order: the sub-folder named after the dataset, then the root.

    The sub-folder comes first because MNIST and Fashion-MNIST files have the same names.
    """
    root = data_root(data_dir)
    return [root / name, root]


def _candidates(stem: str) -> list[str]:
    # the standard names, and the variant with a dot (train-images.idx3-ubyte) some copies use
    dotted = stem.replace("-idx", ".idx")
    return [stem, f"{stem}.gz", dotted, f"{dotted}.gz"]


def find_idx_files(name: str, data_dir: str | Path | None = None) -> dict[str, Path]:
    """role -> path of the four IDX files, from the first folder that holds all four."""
    folders = search_folders(name, data_dir)
    partial = []
    for folder in folders:
        found = {}
        for role, stem in IDX_FILES.items():
            paths = [folder / file for file in _candidates(stem) if (folder / file).is_file()]
            if paths:
                found[role] = paths[0]
        if len(found) == len(IDX_FILES):
            return found
        if found:
            missing = [IDX_FILES[role] for role in IDX_FILES if role not in found]
            partial.append(f" {folder} lacks {', '.join(missing)}.")
    raise DataNotFoundError(
        f"No {name} IDX files found: looked in {' and '.join(str(f) for f in folders)} "
        f"({_root_origin(data_dir)}) for {', '.join(IDX_FILES.values())} (each may end in "
        f".gz).{''.join(partial)} Run `descend data download {name}`, or put files obtained "
        f"another way in {folders[0]} (or point --data-dir or DESCEND_DATA at their folder)."
    )


def _root_origin(data_dir: str | Path | None) -> str:
    if data_dir is not None:
        return "the data directory given"
    if os.environ.get("DESCEND_DATA"):
        return "from $DESCEND_DATA"
    return "the cache folder: neither a data directory nor $DESCEND_DATA is set"
