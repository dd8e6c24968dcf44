import functools
import hashlib
import http.server
import io
import re
import socket
import ssl
import threading
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch

from descend.errors import DescendError, UnknownNameError
from descend.tasks import datasets
from descend.tasks import download as download_module
from descend.tasks.datasets import DataNotFoundError, load, names, search_folders
from descend.tasks.download import SOURCES, DownloadError, download
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


@pytest.mark.parametrize(
    "bad", [(0.1, 0.0), (0.1, -1.0), (float("nan"), 1.0), (1.0,), True, "ab", ("a", 1), 0.5]
)
def test_bad_normalisation(bad):
    with pytest.raises(
        DescendError,
        match=re.escape(
            f"Invalid normalize {bad!r}: expected None (the dataset's default), False (keep "
            "[0, 1]) or a (mean, std) pair of finite numbers with std > 0."
        ),
    ):
        load("digits", normalize=bad)


def test_images_need_a_float_dtype():
    with pytest.raises(
        DescendError, match=r"^Invalid dtype torch\.int64: images need a floating-point dtype\.$"
    ):
        load("digits", dtype=torch.int64)


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


# downloads, from a loopback HTTP server

FILES = [f"{stem}.gz" for stem in STEMS]


class Handler(http.server.SimpleHTTPRequestHandler):
    """Serves files from a folder; /short/... announces more bytes than it sends."""

    def do_GET(self):
        self.server.requests.append(self.path)
        if self.path.startswith("/short/"):
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.write(b"\x1f\x8b" + bytes(100))
            return
        super().do_GET()

    def log_message(self, *args):  # keep pytest's output clean
        pass


@pytest.fixture
def server(tmp_path):
    """A loopback HTTP server over tmp_path/www: yields (that folder, base URL, requests)."""
    root = tmp_path / "www"
    root.mkdir()
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Handler, directory=str(root))
    )
    httpd.requests = []
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_port}", httpd.requests
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def md5s(folder: Path) -> dict[str, str]:
    return {file: hashlib.md5((folder / file).read_bytes()).hexdigest() for file in FILES}


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def closed_port() -> int:
    with socket.socket() as probe:  # a port nothing listens on once the probe is closed
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_download_then_load(tmp_path, server):
    www, base, requests = server
    write_tiny_idx(www / "mnist", suffix=".gz")
    calls = []
    folder = download(
        "mnist",
        tmp_path / "data",
        mirrors=[f"{base}/mnist/"],
        checksums=md5s(www / "mnist"),
        progress=lambda url, done, total: calls.append((url, done, total)),
    )
    assert folder == tmp_path / "data/mnist"
    for file in FILES:
        assert (folder / file).read_bytes() == (www / "mnist" / file).read_bytes()
    assert leftovers(folder) == []
    size = (folder / FILES[0]).stat().st_size
    assert (f"{base}/mnist/{FILES[0]}", size, size) in calls
    assert len(load("mnist", data_dir=tmp_path / "data").train_y) == 12
    # a second download finds every file verified and fetches nothing
    download("mnist", tmp_path / "data", mirrors=[f"{base}/mnist/"], checksums=md5s(www / "mnist"))
    assert len(requests) == 4


def test_a_file_that_changed_is_fetched_again(tmp_path, server):
    www, base, requests = server
    write_tiny_idx(www, suffix=".gz")
    write_tiny_idx(tmp_path / "data/mnist", suffix=".gz", seed=1)  # other images, same labels
    download("mnist", tmp_path / "data", mirrors=[base], checksums=md5s(www))
    assert md5s(tmp_path / "data/mnist") == md5s(www)
    assert requests == [f"/{FILES[0]}", f"/{FILES[2]}"]  # the labels were already right


def test_checksum_mismatch_keeps_nothing(tmp_path, server):
    www, base, _ = server
    write_tiny_idx(www, suffix=".gz")
    published = md5s(www)
    (www / FILES[1]).write_bytes(b"corrupted" + (www / FILES[1]).read_bytes())
    served = hashlib.md5((www / FILES[1]).read_bytes()).hexdigest()
    folder = tmp_path / "data/mnist"
    expected = (
        f"Could not download mnist's {FILES[1]}: {base}/{FILES[1]}: checksum mismatch (MD5 "
        f"{served}, published {published[FILES[1]]}); nothing kept. If this machine is offline"
    )
    with pytest.raises(DownloadError, match=f"^{re.escape(expected)}"):
        download("mnist", tmp_path / "data", mirrors=[base], checksums=published)
    # the file verified before the failure stays; of the corrupted one, not a byte
    assert sorted(p.name for p in folder.iterdir()) == [FILES[0]]


def test_404_on_the_first_mirror_falls_back_to_the_second(tmp_path, server):
    www, base, requests = server
    write_tiny_idx(www / "good", suffix=".gz")
    mirrors = [f"{base}/missing", f"{base}/good"]
    folder = download("mnist", tmp_path, mirrors=mirrors, checksums=md5s(www / "good"))
    assert md5s(folder) == md5s(www / "good")
    assert requests[:2] == [f"/missing/{FILES[0]}", f"/good/{FILES[0]}"]


def test_a_transfer_cut_short_falls_back(tmp_path, server):
    www, base, _ = server
    write_tiny_idx(www, suffix=".gz")
    with pytest.raises(
        DownloadError,
        match=r"short/train-images-idx3-ubyte.gz: the transfer stopped after 102 of 100000 bytes\. If",
    ):
        download("mnist", tmp_path, mirrors=[f"{base}/short"], checksums=md5s(www))
    assert not (tmp_path / "mnist").exists()
    download("mnist", tmp_path, mirrors=[f"{base}/short", base], checksums=md5s(www))
    assert md5s(tmp_path / "mnist") == md5s(www) and leftovers(tmp_path / "mnist") == []


def test_a_connection_lost_mid_transfer_leaves_nothing(tmp_path, monkeypatch):
    class Dropped(io.BytesIO):
        length = 1000

        def read(self, size=-1):
            if self.tell():
                raise ssl.SSLError("record layer failure")
            return super().read(10)

    monkeypatch.setattr(
        download_module.urllib.request, "urlopen", lambda url, timeout: Dropped(bytes(1000))
    )
    with pytest.raises(
        DownloadError,
        match=r"^Could not download mnist's train-images-idx3-ubyte\.gz: http://x/train-images-idx3-ubyte\.gz: the transfer failed \(SSLError: .*record layer failure.*\)\. If",
    ):
        download("mnist", tmp_path, mirrors=["http://x"])
    assert not (tmp_path / "mnist").exists()


def test_unreachable_mirror_says_what_to_do(tmp_path, server):
    www, _, _ = server
    write_tiny_idx(www, suffix=".gz")
    mirror = f"http://127.0.0.1:{closed_port()}/"
    expected = (
        f"Could not download mnist's {FILES[0]}: {mirror}{FILES[0]}: unreachable ([Errno N] "
        "Connection refused). If this machine is offline or the mirrors are down, fetch "
        f"{', '.join(FILES)} from {mirror} another way and put them in {tmp_path / 'mnist'} "
        "(or in any folder, then point --data-dir or DESCEND_DATA at it)."
    )
    pattern = re.escape(expected).replace(
        r"Errno\ N", r"Errno\ \d+"
    )  # the errno differs between systems
    with pytest.raises(DownloadError, match=f"^{pattern}$"):
        download("mnist", tmp_path, mirrors=[mirror], checksums=md5s(www))
    assert not (tmp_path / "mnist").exists()  # a download that fetched nothing leaves nothing


def test_offline_with_the_published_mirrors(tmp_path, monkeypatch):
    def offline(url, timeout):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(download_module.urllib.request, "urlopen", offline)
    monkeypatch.setenv("DESCEND_DATA", str(tmp_path))
    with pytest.raises(DownloadError) as caught:
        download("fashion-mnist")
    message = str(caught.value)
    assert message.startswith(
        "Could not download fashion-mnist's train-images-idx3-ubyte.gz: "
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/train-images-idx3-ubyte.gz: "
        "unreachable ([Errno -3] Temporary failure in name resolution); https://raw.githubusercontent"
    )
    assert f"put them in {tmp_path / 'fashion-mnist'} (or in any folder" in message
    assert "t10k-labels-idx1-ubyte.gz from http://fashion-mnist.s3-website" in message


def test_a_truncated_file_is_a_clear_error_when_loaded(tmp_path, server):
    www, base, _ = server
    write_tiny_idx(www, suffix=".gz")
    (www / FILES[2]).write_bytes((www / FILES[2]).read_bytes()[:-20])
    download("mnist", tmp_path, mirrors=[base], checksums=md5s(www))  # its MD5 is as served
    with pytest.raises(IdxError, match=f"^{re.escape(str(tmp_path / 'mnist' / FILES[2]))}: "):
        load("mnist", data_dir=tmp_path)


def test_cannot_write(tmp_path):
    (tmp_path / "a-file").write_text("")
    with pytest.raises(
        DownloadError,
        match=re.escape(
            f"Cannot write the mnist files in {tmp_path / 'a-file/mnist'} (Not a directory): "
            "choose another data directory (--data-dir or DESCEND_DATA)."
        ),
    ):
        download("mnist", tmp_path / "a-file", mirrors=[])


def test_names():
    with pytest.raises(
        UnknownNameError,
        match=re.escape(
            "Unknown downloadable dataset 'digits'. Known downloadable datasets: fashion-mnist, "
            "mnist. digits ships with scikit-learn: nothing to download."
        ),
    ):
        download("digits")


def test_published_sources():
    for source in SOURCES.values():
        assert list(source.md5) == FILES
        assert all(re.fullmatch("[0-9a-f]{32}", md5) for md5 in source.md5.values())
        assert all(mirror.endswith("/") for mirror in source.mirrors)
    assert SOURCES["mnist"].mirrors[0] == "https://ossci-datasets.s3.amazonaws.com/mnist/"


@pytest.mark.slow
def test_real_mnist(monkeypatch):
    if not MNIST.is_dir():
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


def test_a_study_finds_the_files_where_its_data_dir_says(tmp_path, no_env):
    """Only data_dir knows where MNIST is (no $DESCEND_DATA, an empty cache): the task is
    built with it, by descend.compare and by the command line alike."""
    from typer.testing import CliRunner

    import descend
    from descend.cli import app

    write_tiny_idx(tmp_path / "data", train=40, test=10)
    study = descend.compare(
        "mnist-mlp", ["sgd:lr=0.1"], epochs=1, seeds=1, data_dir=str(tmp_path / "data")
    )
    assert study.results[0].evaluated_at.tolist() == [0, 2]  # 40 examples in batches of 32
    result = CliRunner().invoke(
        app,
        ["compare", "--task", "mnist-mlp", "--data-dir", str(tmp_path / "data"), "--epochs", "1",
         "--seeds", "1", "--no-store", "--out", str(tmp_path / "out")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "summary.csv").exists()
