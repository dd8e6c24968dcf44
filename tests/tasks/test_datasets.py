import re
from pathlib import Path

import numpy as np
import pytest
import torch

from descend.errors import DescendError, UnknownNameError
from descend.tasks import datasets
from descend.tasks.datasets import DataNotFoundError, load, names, search_folders
from descend.tasks.idx import IdxError, write_idx

STEMS = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
]
MNIST = Path("/work/shared/data/mnist")  # real MNIST on the project's machines (may be absent)


def write_tiny_idx(folder: Path, *, train=12, test=6, size=(5, 4), suffix="", seed=0):
    """The four IDX files of a tiny MNIST-like dataset; returns (images, labels) per split."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    arrays = {}
    for split, count in (("train", train), ("t10k", test)):
        images = rng.integers(0, 256, size=(count, *size), dtype=np.uint8)
        labels = (np.arange(count) % 10).astype(np.uint8)
        write_idx(folder / f"{split}-images-idx3-ubyte{suffix}", images)
        write_idx(folder / f"{split}-labels-idx1-ubyte{suffix}", labels)
        arrays[split] = images, labels
    return arrays


@pytest.fixture
def no_env(monkeypatch, tmp_path):
    """No $DESCEND_DATA, and a cache folder inside tmp_path."""
    monkeypatch.delenv("DESCEND_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_dataset_is_scaled_then_normalised(tmp_path, no_env, suffix):
    arrays = write_tiny_idx(tmp_path / "data", suffix=suffix)
    data = load("mnist", data_dir=tmp_path / "data")
    mean, std = 0.1302, 0.3069  # seed 002's
    for x, y, (images, labels) in [
        (data.train_x, data.train_y, arrays["train"]),
        (data.test_x, data.test_y, arrays["t10k"]),
    ]:
        expected = (torch.from_numpy(images).float()[:, None] / 255 - mean) / std
        torch.testing.assert_close(x, expected)
        assert y.dtype == torch.long and y.tolist() == labels.tolist()
    assert data.train_x.shape == (12, 1, 5, 4) and data.input_shape == (1, 5, 4)
    assert data.classes == tuple("0123456789") and data.normalization == (mean, std)
    assert data.description == (
        f"mnist: MNIST (LeCun, Cortes & Burges) from the IDX files in {tmp_path / 'data'}: "
        "the standard split, 12 train / 6 test images of 5×4, 10 classes; pixels scaled from "
        "0..255 to [0, 1], then normalised with mean 0.1302 and std 0.3069 (seed 002's values)."
    )


def test_normalisation_is_configurable(tmp_path, no_env):
    images = write_tiny_idx(tmp_path)["train"][0]
    scaled = torch.from_numpy(images).float()[:, None] / 255
    raw = load("mnist", data_dir=tmp_path, normalize=False)
    torch.testing.assert_close(raw.train_x, scaled)
    assert raw.normalization is None and raw.description.endswith("[0, 1], not normalised.")
    given = load("mnist", data_dir=tmp_path, normalize=(0.5, 0.25))
    torch.testing.assert_close(given.train_x, (scaled - 0.5) / 0.25)
    assert given.description.endswith("with mean 0.5000 and std 0.2500 (given).")
    # Fashion-MNIST by default: the train set's own mean and std
    fashion = load("fashion-mnist", data_dir=tmp_path)
    assert abs(fashion.train_x.mean().item()) < 1e-6
    assert fashion.train_x.std().item() == pytest.approx(1.0, abs=1e-5)
    assert fashion.classes[-1] == "Ankle boot"
    assert fashion.description.endswith(
        f"mean {scaled.mean():.4f} and std {scaled.std():.4f} (the train set's)."
    )


@pytest.mark.parametrize("bad", [(0.1, 0.0), (0.1, -1.0), (float("nan"), 1.0), (1.0,), True])
def test_bad_normalisation(bad):
    with pytest.raises(
        DescendError,
        match=re.escape(
            f"Invalid normalize {bad!r}: expected None (the dataset's default), False (keep "
            "[0, 1]) or a (mean, std) pair of finite numbers with std > 0."
        ),
    ):
        load("digits", normalize=bad)


def test_dtype_and_device(tmp_path, no_env):
    write_tiny_idx(tmp_path)
    data = load("mnist", data_dir=tmp_path, dtype=torch.float64, device="cpu")
    assert data.train_x.dtype == data.test_x.dtype == torch.float64
    half = data.to(dtype=torch.float16)
    assert half.train_x.dtype == torch.float16 and half.train_y.dtype == torch.long
    assert half.description == data.description and data.train_x.dtype == torch.float64
    assert (
        repr(half) == "Dataset('mnist', train=(12, 1, 5, 4), test=(6, 1, 5, 4), torch.float16, cpu)"
    )


def test_folders_looked_in(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("DESCEND_DATA", raising=False)
    assert search_folders("mnist") == [tmp_path / "xdg/descend/mnist", tmp_path / "xdg/descend"]
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert search_folders("mnist")[1] == Path.home() / ".cache/descend"
    monkeypatch.setenv("DESCEND_DATA", str(tmp_path / "env"))
    assert search_folders("fashion-mnist") == [tmp_path / "env/fashion-mnist", tmp_path / "env"]
    assert search_folders("mnist", tmp_path / "given") == [
        tmp_path / "given/mnist",
        tmp_path / "given",
    ]


def test_files_found_in_the_folder_or_its_named_sub_folder(tmp_path, monkeypatch):
    # a copy named with dots (train-images.idx3-ubyte.gz), as in the project's shared folder
    write_tiny_idx(tmp_path / "data/mnist", suffix=".gz")
    for stem in STEMS:
        old = tmp_path / "data/mnist" / f"{stem}.gz"
        old.rename(old.with_name(f"{stem.replace('-idx', '.idx')}.gz"))
    for root in (tmp_path / "data", tmp_path / "data/mnist"):
        monkeypatch.setenv("DESCEND_DATA", str(root))
        assert len(load("mnist").train_y) == 12
    monkeypatch.delenv("DESCEND_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    write_tiny_idx(tmp_path / "cache/descend/fashion-mnist", train=20)
    assert len(load("fashion-mnist").train_y) == 20


def test_missing_files(tmp_path, no_env):
    write_tiny_idx(tmp_path / "data")
    (tmp_path / "data/t10k-images-idx3-ubyte").unlink()
    expected = (
        f"No mnist IDX files found: looked in {tmp_path / 'data/mnist'} and {tmp_path / 'data'} "
        "(the data directory given) for train-images-idx3-ubyte, train-labels-idx1-ubyte, "
        "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (each may end in .gz). "
        f"{tmp_path / 'data'} lacks t10k-images-idx3-ubyte. Run `descend data download mnist`, "
        f"or put files obtained another way in {tmp_path / 'data/mnist'} "
        "(or point --data-dir or DESCEND_DATA at their folder)."
    )
    with pytest.raises(DataNotFoundError, match=f"^{re.escape(expected)}$"):
        load("mnist", data_dir=tmp_path / "data")
    cache = tmp_path / "cache/descend"
    with pytest.raises(
        DataNotFoundError,
        match=re.escape(
            f"looked in {cache / 'fashion-mnist'} and {cache} (the cache folder: neither a data "
            "directory nor $DESCEND_DATA is set)"
        ),
    ):
        load("fashion-mnist")


def test_unknown_dataset():
    assert names() == ["digits", "fashion-mnist", "mnist"]
    with pytest.raises(
        UnknownNameError,
        match=re.escape(
            "Unknown dataset 'mnsit'. Did you mean 'mnist'? Known datasets: digits, "
            "fashion-mnist, mnist."
        ),
    ):
        load("mnsit")


def rewrite(folder: Path, stem: str, array: np.ndarray) -> Path:
    return write_idx(folder / stem, array)


INCONSISTENT = [
    (
        "train-labels-idx1-ubyte",
        np.zeros(11, np.uint8),
        "11 labels for the 12 images of train-images-idx3-ubyte.",
    ),
    ("t10k-labels-idx1-ubyte", np.full(6, 10, np.uint8), "label 10 outside the classes 0..9."),
    (
        "train-images-idx3-ubyte",
        np.zeros((12, 20), np.uint8),
        "expected 3-D uint8 images, found 2-D uint8.",
    ),
    (
        "train-labels-idx1-ubyte",
        np.zeros(12, np.int32),
        "expected 1-D uint8 labels, found 1-D int32.",
    ),
    (
        "t10k-images-idx3-ubyte",
        np.zeros((6, 4, 5), np.uint8),
        "images of (4, 5), train images of (5, 4).",
    ),
]


@pytest.mark.parametrize(("stem", "array", "problem"), INCONSISTENT)
def test_inconsistent_files(tmp_path, no_env, stem, array, problem):
    write_tiny_idx(tmp_path)
    path = rewrite(tmp_path, stem, array)
    with pytest.raises(IdxError, match=f"^{re.escape(f'{path}: {problem}')}$"):
        load("mnist", data_dir=tmp_path)


def test_a_corrupted_file_is_named(tmp_path, no_env):
    write_tiny_idx(tmp_path, suffix=".gz")
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-9])  # the last bytes lost
    with pytest.raises(IdxError, match=f"^{re.escape(str(path))}: the gzip stream ends early"):
        load("mnist", data_dir=tmp_path)


def test_mnist_is_not_loaded_as_fashion_mnist(tmp_path, no_env):
    # the two share file names; the train labels' class counts tell them apart
    counts = datasets.IDX_DATASETS["mnist"].train_counts
    labels = np.repeat(np.arange(10, dtype=np.uint8), counts)
    write_tiny_idx(tmp_path)
    rewrite(tmp_path, "train-images-idx3-ubyte", np.zeros((len(labels), 5, 4), np.uint8))
    path = rewrite(tmp_path, "train-labels-idx1-ubyte", labels)
    assert len(load("mnist", data_dir=tmp_path).train_y) == 60_000
    with pytest.raises(
        DataNotFoundError,
        match=re.escape(
            f"{path} holds mnist's train labels (their class counts), not fashion-mnist's: the "
            "two share file names, so keep each in a sub-folder named after it "
            "(DATA_DIR/fashion-mnist, DATA_DIR/mnist)."
        ),
    ):
        load("fashion-mnist", data_dir=tmp_path)


def test_digits():
    data = load("digits")
    assert data.train_x.shape == (1437, 1, 8, 8) and data.test_x.shape == (360, 1, 8, 8)
    # stratified: every class has 1/5 of its images (± 1) in the test set
    totals = torch.cat([data.train_y, data.test_y]).bincount()
    assert (data.test_y.bincount() - totals / 5).abs().max() <= 1
    # normalised with the train set's statistics
    assert abs(data.train_x.mean().item()) < 1e-6
    assert data.train_x.std().item() == pytest.approx(1.0, abs=1e-5)
    mean, std = data.normalization
    assert data.description == (
        "digits: scikit-learn's handwritten digits (load_digits: 1797 images of 8×8, 10 "
        "classes), split stratified by class with seed 0 into 1437 train / 360 test images; "
        f"pixels scaled from 0..16 to [0, 1], then normalised with mean {mean:.4f} and std "
        f"{std:.4f} (the train set's)."
    )
    again = load("digits", normalize=False)  # the same split every time
    torch.testing.assert_close(again.train_x, data.train_x * std + mean)
    assert torch.equal(again.test_y, data.test_y)
    assert again.train_x.min() == 0 and again.train_x.max() == 1


@pytest.mark.slow
def test_real_mnist(monkeypatch):
    if not (MNIST / "train-images.idx3-ubyte.gz").is_file():
        pytest.skip(f"real MNIST is not at {MNIST}")
    monkeypatch.setenv("DESCEND_DATA", str(MNIST.parent))
    data = load("mnist")
    assert data.train_x.shape == (60_000, 1, 28, 28) and data.test_x.shape == (10_000, 1, 28, 28)
    train = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    test = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert data.train_y.bincount().tolist() == train
    assert data.test_y.bincount().tolist() == test
    # the pixels: 0..255 scaled, so the unnormalised train mean is MNIST's well-known 0.1307
    raw = load("mnist", data_dir=MNIST, normalize=False)
    assert raw.train_x.mean().item() == pytest.approx(0.1307, abs=1e-4)
    assert raw.train_x.max() == 1 and raw.train_x.min() == 0
