"""descend: a laboratory for gradient-based optimizers on PyTorch."""

from importlib.metadata import PackageNotFoundError, version

from descend import optim, schedules
from descend.surface_lab import SurfaceStudy, surface

try:
    __version__ = version("descend")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = ["SurfaceStudy", "__version__", "optim", "schedules", "surface"]
