"""descend: a laboratory for gradient-based optimizers on PyTorch."""

from importlib.metadata import PackageNotFoundError, version

from descend import optim, schedules
from descend.lrfind import LRFindResult, lr_find, lr_find_task
from descend.store import open_store
from descend.studies import CompareStudy, SurfaceStudy, compare, surface
from descend.studies.recipes import run

try:
    __version__ = version("descend")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = [
    "CompareStudy",
    "LRFindResult",
    "SurfaceStudy",
    "__version__",
    "compare",
    "lr_find",
    "lr_find_task",
    "open_store",
    "optim",
    "run",
    "schedules",
    "surface",
]
