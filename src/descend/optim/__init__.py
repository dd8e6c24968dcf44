"""Update rules: one definition each, pure functions on dicts of tensors.

    opt = descend.optim.get("adam", lr=1e-3)        # or descend.optim.adam(lr=1e-3)
    state = opt.init(params)
    updates, state = opt.update(grads, state, params)
    params = descend.optim.apply_updates(params, updates)

Hyper-parameter names and defaults are torch.optim's; state entries are named as
torch.optim names them. Every rule registers itself by name: adding one is a new module
and one import line below.
"""

from descend.optim.adadelta import adadelta
from descend.optim.adafactor import adafactor
from descend.optim.adagrad import adagrad
from descend.optim.adam import adam, adamw
from descend.optim.adamax import adamax
from descend.optim.asgd import asgd
from descend.optim.base import (
    Elementwise,
    Matrixwise,
    Optimizer,
    apply_updates,
    get,
    hyperparameter_defaults,
    names,
    register,
)
from descend.optim.ftrl import ftrl
from descend.optim.lbfgs import lbfgs
from descend.optim.muon import muon
from descend.optim.nadam import nadam
from descend.optim.radam import radam
from descend.optim.rmsprop import rmsprop
from descend.optim.rprop import rprop
from descend.optim.sgd import sgd

__all__ = [
    "Elementwise",
    "Matrixwise",
    "Optimizer",
    "adadelta",
    "adafactor",
    "adagrad",
    "adam",
    "adamax",
    "adamw",
    "apply_updates",
    "asgd",
    "ftrl",
    "get",
    "hyperparameter_defaults",
    "lbfgs",
    "muon",
    "nadam",
    "names",
    "radam",
    "register",
    "rmsprop",
    "rprop",
    "sgd",
]
