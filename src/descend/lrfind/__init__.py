"""The learning-rate range test: `descend.lr_find` on any model, `descend.lr_find_task`
on a descend network task, and the rules that read a suggested lr off the curve.

    result = descend.lr_find(model, loss_fn, (x, y), descend.optim.adam(), seeds=3)
    result.suggestion        # the 'valley' rule's lr
    result.suggestions       # {'steepest': ..., 'minimum/10': ..., 'valley': ...}
    result.plot()            # smoothed loss vs lr, seeds as a band, suggestions marked
    descend.report.save(result, "out/lrf")
"""

from descend.lrfind.curves import RULES, minimum_tenth, smoothed, steepest, sweep, valley
from descend.lrfind.result import LRFindResult, SeedCurve
from descend.lrfind.run import lr_find
from descend.lrfind.task import lr_find_task

__all__ = [
    "RULES",
    "LRFindResult",
    "SeedCurve",
    "lr_find",
    "lr_find_task",
    "minimum_tenth",
    "smoothed",
    "steepest",
    "sweep",
    "valley",
]
