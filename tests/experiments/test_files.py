"""Experiment files: what a valid one gives, and every mistake located in the file."""

from __future__ import annotations

import textwrap

import pytest

from descend import experiments
from descend.experiments.files import ExperimentError, parse
from descend.studies.recipes import studies_of

GOOD = textwrap.dedent(
    """\
    title = "A small study"

    [study]
    surfaces = ["anisotropic", "w1**2 + 3*w2**2"]
    start = [1.0, 1.0]
    steps = 20
    lr = 0.1

    [[optimizers]]
    rule = "sgd"

    [[optimizers]]
    rule = "sgd"
    label = "momentum {momentum}"
    sweep = { momentum = [0.5, 0.9] }

    [[optimizers]]
    rule = "adam"
    betas = [0.8, 0.99]
    """
)


def test_a_valid_file_gives_its_optimizers_expanded():
    experiment = parse(GOOD, "small", "small.toml")
    assert experiment.title == "A small study"
    assert experiment.surfaces == ["anisotropic", "w1**2 + 3*w2**2"]
    assert [(o.rule, o.label) for o in experiment.optimizers] == [
        ("sgd", ""),  # no label chosen: the study derives one
        ("sgd", "momentum 0.5"),
        ("sgd", "momentum 0.9"),
        ("adam", ""),
    ]
    assert experiment.optimizers[3].hyperparams["betas"] == (0.8, 0.99)  # a TOML list is a pair
    assert experiment.settings == {
        "surfaces": ("anisotropic", "w1**2 + 3*w2**2"),
        "start": (1.0, 1.0),
        "steps": 20,
        "lr": 0.1,
    }


def test_a_valid_file_runs():
    studies = studies_of(parse(GOOD, "small", "small.toml"))
    assert [s.surface.name for s in studies] == ["anisotropic", "formula"]
    assert [len(s.results) for s in studies] == [4, 4]
    assert all(r.spec.steps == 20 for s in studies for r in s.results)


def _bad(replace: str, by: str) -> str:
    assert replace in GOOD
    return GOOD.replace(replace, by)


MISTAKES = [
    (
        _bad("steps = 20", "stpes = 20"),
        r"bad\.toml, line 6 \(study\.stpes\): unknown key 'stpes'\. Did you mean 'steps'\? Allowed: kind, surfaces, start",
    ),
    (
        _bad("steps = 20", 'steps = "20"'),
        r"line 6 \(study\.steps\): 'steps' must be an integer >= 1, not '20'",
    ),
    (_bad("lr = 0.1", "lr = -"), r"bad\.toml: not valid TOML"),
    (
        _bad("start = [1.0, 1.0]", "start = [1.0]"),
        r"line 5 \(study\.start\): 'start' must be a point \[w1, w2\], not \[1\.0\]",
    ),
    (
        _bad('"anisotropic", ', '"anisotropik", '),
        r"line 4 \(study\.surfaces\): Unknown surface 'anisotropik'\. Did you mean 'anisotropic'\?",
    ),
    (_bad("w1**2 + 3*w2**2", "w1**2 + os.system(1)"), r"line 4 \(study\.surfaces\): .*not allowed"),
    (
        _bad('rule = "adam"', 'rule = "adamm"'),
        r"line 18 \(optimizers\[2\]\.rule\): unknown optimizer 'adamm'\. Did you mean 'adam'\? Known: adadelta",
    ),
    (
        _bad("betas = [0.8, 0.99]", "betas = [1.8, 0.99]"),
        r"line 19 \(optimizers\[2\]\.betas\): Invalid betas\[0\]: 1\.8 \(allowed: 0 <= betas\[0\] < 1\)\.$",
    ),
    (
        _bad("betas = [0.8, 0.99]", "beta = [0.8, 0.99]"),
        r"line 19 \(optimizers\[2\]\.beta\): Optimizer 'adam' has no hyper-parameter 'beta'\. Did you mean 'betas'\?",
    ),
    (
        _bad("momentum = [0.5, 0.9]", "momentum = [0.5, -0.9]"),
        r"line 15 \(optimizers\[1\]\.sweep\): Invalid momentum: -0\.9",
    ),
    (
        _bad("momentum = [0.5, 0.9]", "momentum = []"),
        r"line 15 \(optimizers\[1\]\.sweep\): sweep must be a table of non-empty lists",
    ),
    (_bad('rule = "adam"\n', ""), r"line 17 \(optimizers\[2\]\): missing key 'rule'"),
    (
        _bad('title = "A small study"', 'titel = "A small study"'),
        r"line 1 \(titel\): unknown key 'titel'\. Did you mean 'title'\?",
    ),
    (
        _bad("lr = 0.1", 'lr = 0.1\nschedule = "cosine:T_mx=10"'),
        r"line 8 \(study\.schedule\): Schedule 'cosine' has no parameter 'T_mx'\. Did you mean 'T_max'\?",
    ),
]


@pytest.mark.parametrize(("text", "message"), MISTAKES)
def test_mistakes_are_located_and_explained(text, message):
    with pytest.raises(ExperimentError, match=message):
        parse(text, "bad", "bad.toml")


def test_no_optimizers_is_a_mistake():
    text = GOOD[: GOOD.index("[[optimizers]]")]
    with pytest.raises(ExperimentError, match=r"no \[\[optimizers\]\]: give at least one"):
        parse(text, "bad", "bad.toml")


def test_recipes_are_listed_and_load():
    """Every recipe loads (one on MNIST with its dataset set to digits: MNIST's files are
    not on every machine); each has a title that listing reads without loading."""
    assert {"momentum-vs-rmsprop", "gd-vs-sgd", "adam-vs-adadelta"} <= set(experiments.recipes())
    for name in experiments.recipes():
        text = (experiments.files.RECIPES / f"{name}.toml").read_text()
        overrides = {"dataset": "digits"} if "dataset =" in text else None
        experiment = experiments.load(name, overrides)
        assert experiment.optimizers and experiment.plans
        assert experiments.title_of(name) == experiment.title


def test_unknown_experiment_names_the_recipes(tmp_path):
    with pytest.raises(
        ExperimentError,
        match=r"Unknown experiment 'momentum-vs-rmsrop'.*Did you mean 'momentum-vs-rmsprop'\? Recipes: ",
    ):
        experiments.load("momentum-vs-rmsrop")
    with pytest.raises(ExperimentError, match=r"No experiment file"):
        experiments.load(tmp_path / "missing.toml")


def test_a_file_is_loaded_by_path(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(GOOD)
    experiment = experiments.load(path)
    assert experiment.name == "mine" and len(experiment.optimizers) == 4
