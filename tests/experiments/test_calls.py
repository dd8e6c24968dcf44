import pytest

from descend.experiments.calls import CallSpecError, parse_call


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sgd", ("sgd", {})),
        ("sgd:momentum=0.9,nesterov=true", ("sgd", {"momentum": 0.9, "nesterov": True})),
        ("adam:betas=(0.9,0.99),lr=3e-4", ("adam", {"betas": (0.9, 0.99), "lr": 3e-4})),
        ("adam:betas=[0.5, 0.9]", ("adam", {"betas": (0.5, 0.9)})),
        ("lbfgs:line_search_fn=strong_wolfe", ("lbfgs", {"line_search_fn": "strong_wolfe"})),
        ("lbfgs:line_search_fn=None", ("lbfgs", {"line_search_fn": None})),
        (
            "cyclic:lr=0.01,max_lr=0.1,mode='triangular2'",
            ("cyclic", {"lr": 0.01, "max_lr": 0.1, "mode": "triangular2"}),
        ),
        (
            " rmsprop : alpha = 0.9 , centered = FALSE ",
            ("rmsprop", {"alpha": 0.9, "centered": False}),
        ),
        (
            "multistep:lr=1,milestones=[10,20],gamma=0.5",
            ("multistep", {"lr": 1, "milestones": (10, 20), "gamma": 0.5}),
        ),
        ("sgd:label='heavy ball, classic'", ("sgd", {"label": "heavy ball, classic"})),
    ],
)
def test_parse_call(text, expected):
    assert parse_call(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (":momentum=0.9", r"must start with a name"),
        ("sgd momentum", r"must start with a name"),
        ("sgd:momentum", r"Cannot read 'momentum' in 'sgd:momentum': expected key=value"),
        ("sgd:momentum=0.9,momentum=0.5", r"'momentum' is given twice"),
        ("sgd:0.9=momentum", r"expected key=value"),
    ],
)
def test_unreadable_calls_are_refused(text, message):
    with pytest.raises(CallSpecError, match=message):
        parse_call(text)
