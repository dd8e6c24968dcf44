"""Studies: run specs, hold their results, and offer tables and figures.

descend.surface(...)   optimizers on a 2-D landscape (descend.studies.surface)
descend.compare(...)   optimizers and data regimes on a task with data
descend.run("gd-vs-sgd")   a recipe or TOML file: the study it describes
"""

from descend.studies.claims import Claim
from descend.studies.compare import CompareStudy, compare
from descend.studies.surface import SurfaceStudy, surface

__all__ = ["Claim", "CompareStudy", "SurfaceStudy", "compare", "surface"]
