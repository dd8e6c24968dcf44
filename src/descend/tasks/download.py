"""Fetch MNIST and Fashion-MNIST from their usual mirrors, checked against the published MD5s.

    folder = download("mnist")               # -> ~/.cache/descend/mnist, where load() looks

Each file goes to a temporary file beside its target, is checked, then renamed into place
(`os.replace`): a failed or interrupted download never leaves a half-written file. Files
already there and matching their checksum are not fetched again.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from descend.errors import DescendError, UnknownNameError
from descend.tasks.datasets import IDX_FILES, search_folders

Progress = Callable[[str, int, int | None], None]  # (url, bytes so far, total or None)


@dataclass(frozen=True)
class Source:
    """Where a dataset's files are published, and their published MD5 sums."""

    mirrors: tuple[str, ...]  # base URLs, tried in order
    md5: Mapping[str, str]  # file name -> MD5 of the file as the mirrors serve it


def _files(*sums: str) -> dict[str, str]:
    return {f"{stem}.gz": md5 for stem, md5 in zip(IDX_FILES.values(), sums, strict=True)}


# Mirrors and MD5s as torchvision lists them (torchvision/datasets/mnist.py, MNIST and
# FashionMNIST `mirrors` / `resources`); Fashion-MNIST's also in zalandoresearch/fashion-mnist's
# README, whose repository serves the same files under data/fashion. The S3 mirror comes
# first for MNIST: yann.lecun.com has refused downloads at times.
SOURCES = {
    "mnist": Source(
        ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
        _files(
            "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            "d53e105ee54ea40749a09fcbcd1e9432",
            "9fb629c4189551a2d022fa330f9573f3",
            "ec29112dd5afa0611ce80d1b7f02629c",
        ),
    ),
    "fashion-mnist": Source(
        (
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
            "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
        ),
        _files(
            "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "25c81989df183df01b3e8a0aad5dffbe",
            "bef4ecab320f06d8554ea6380940ec79",
            "bb300cfdad3c16e7a12a480ee83cd310",
        ),
    ),
}


class DownloadError(DescendError):
    """A dataset that could not be downloaded: every mirror failed, or no place to write."""


def download(
    name: str,
    data_dir: str | Path | None = None,
    *,
    mirrors: Iterable[str] | None = None,
    checksums: Mapping[str, str] | None = None,
    progress: Progress | None = None,
    timeout: float = 30.0,
) -> Path:
    """Fetch a dataset's files into `<data root>/<name>` (the first folder `load` looks in).

    data_dir: the data root, as for `load` (default $DESCEND_DATA, else the cache folder).
    mirrors, checksums (file name -> MD5): instead of the published ones, e.g. for tests.
    progress: called as progress(url, bytes so far, total bytes or None) while fetching.
    Returns the folder. Files already verified are kept when a later one fails.
    """
    if name not in SOURCES:
        known = sorted(SOURCES)
        hint = "digits ships with scikit-learn: nothing to download." if name == "digits" else ""
        raise UnknownNameError("downloadable dataset", name, known, hint)
    source = SOURCES[name]
    mirrors = tuple(mirrors) if mirrors is not None else source.mirrors
    checksums = dict(checksums) if checksums is not None else dict(source.md5)
    folder = search_folders(name, data_dir)[0]
    created = not folder.exists()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for file, md5 in checksums.items():
            if not (folder / file).is_file() or _md5(folder / file) != md5:
                _fetch_from_any(name, folder / file, md5, mirrors, checksums, progress, timeout)
    except BaseException as error:
        if created:
            with contextlib.suppress(OSError):  # not empty: verified files stay
                folder.rmdir()  # a download that fetched nothing leaves no folder behind
        if isinstance(error, OSError):  # creating the folder or writing in it
            raise DownloadError(
                f"Cannot write the {name} files in {folder} ({error.strerror or error}): "
                f"choose another data directory (--data-dir or DESCEND_DATA)."
            ) from None
        raise
    return folder


def _fetch_from_any(
    name: str,
    target: Path,
    md5: str,
    mirrors: tuple[str, ...],
    checksums: Mapping[str, str],
    progress: Progress | None,
    timeout: float,
) -> None:
    """Try each mirror in turn; raise a DownloadError that says what to do if all fail."""
    failures = []
    for mirror in mirrors:
        url = f"{mirror.rstrip('/')}/{target.name}"
        problem = _fetch(url, target, md5, progress, timeout)
        if problem is None:
            return
        failures.append(f"{url}: {problem}")
    raise DownloadError(
        f"Could not download {name}'s {target.name}: {'; '.join(failures) or 'no mirror given'}. "
        f"If this machine is offline or the mirrors are down, fetch {', '.join(checksums)} "
        f"from {' or '.join(mirrors) or 'a mirror'} another way and put them in "
        f"{target.parent} (or in any folder, then point --data-dir or DESCEND_DATA at it)."
    )


def _fetch(url: str, target: Path, md5: str, progress: Progress | None, timeout: float):
    """Download `url` to `target` if its MD5 is `md5`; None, or what went wrong."""
    handle, temporary = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=".part"
    )
    try:
        digest = hashlib.md5(usedforsecurity=False)
        with (
            os.fdopen(handle, "wb") as out,
            urllib.request.urlopen(url, timeout=timeout) as response,
        ):
            total, done = response.length, 0
            while chunk := response.read(1 << 16):
                out.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(url, done, total)
        if total is not None and done != total:  # http.client returns short reads silently
            return f"the transfer stopped after {done} of {total} bytes"
        if digest.hexdigest() != md5:
            return f"checksum mismatch (MD5 {digest.hexdigest()}, published {md5}); nothing kept"
        os.replace(temporary, target)
        return None
    except urllib.error.HTTPError as error:
        return f"HTTP {error.code} {error.reason}"
    except urllib.error.URLError as error:
        return f"unreachable ({error.reason})"
    except (http.client.HTTPException, OSError) as error:  # dropped, timed out, TLS, disk full
        return f"the transfer failed ({type(error).__name__}: {error})"
    finally:
        Path(temporary).unlink(missing_ok=True)


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
