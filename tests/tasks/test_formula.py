"""A user's formula: evaluated as the same expression written in torch by hand, and
everything outside the whitelist refused with a message that says what and where."""

import ast
import builtins
import faulthandler
import math
import re
from collections.abc import Callable

import pytest
import torch
from torch import Tensor

from descend import expressions
from descend.errors import DescendError, HyperparameterError, UnknownNameError
from descend.tasks import surfaces
from descend.tasks.formula import MAX_LENGTH, FormulaError, parse_formula, surface_from
from descend.tasks.surfaces import Minimum

# (formula, the same function written in torch by hand)
FORMULAS: list[tuple[str, Callable[[Tensor, Tensor], Tensor]]] = [
    ("w1**2 + 8*w2**2", lambda w1, w2: w1**2 + 8 * w2**2),
    (
        "sin(w1)*cos(w2) + 0.1*(w1**2+w2**2)",
        lambda w1, w2: w1.sin() * w2.cos() + 0.1 * (w1**2 + w2**2),
    ),
    ("-w1", lambda w1, w2: -w1),
    ("2e-3*w1**2", lambda w1, w2: 0.002 * w1**2),
    ("sqrt(abs(w1)) + exp(-w2**2)", lambda w1, w2: w1.abs().sqrt() + torch.exp(-(w2**2))),
    ("pi*w1 + e*w2", lambda w1, w2: math.pi * w1 + math.e * w2),
    ("-w1**2 + w2", lambda w1, w2: -(w1**2) + w2),  # ** binds tighter than unary minus
    ("2**3**2*w1", lambda w1, w2: 512 * w1),  # ** is right-associative: 2**9
    ("w1/2/4 - w2", lambda w1, w2: w1 / 8 - w2),  # / is left-associative
    ("+w1 - -w2", lambda w1, w2: w1 + w2),
    ("1.5E+1*w1 - .5*w2 + 3.", lambda w1, w2: 15 * w1 - 0.5 * w2 + 3),
    (
        "tan(w1/4) - tanh(w2) * log(1 + w1**2 + w2**2)",
        lambda w1, w2: torch.tan(w1 / 4) - torch.tanh(w2) * torch.log(1 + w1**2 + w2**2),
    ),
    ("(w1 - 1)**2 / (1 + w2**2)", lambda w1, w2: (w1 - 1) ** 2 / (1 + w2**2)),
    ("w1 * w2 ** -1.5 + 0 * w1", lambda w1, w2: w1 * w2**-1.5),
]

ALLOWED = re.escape(
    "(allowed names: w1, w2, pi, e; functions: sin, cos, tan, exp, log, sqrt, abs, tanh "
    "(one argument each); operators: + - * / ** and unary -; numbers; parentheses)."
)
# (formula, the message it must give: a regular expression)
REFUSALS = [
    ("x", r"^Formula: 'x' at column 1 is not allowed " + ALLOWED + "$"),
    ("w1 + x", r"^Formula: 'x' at column 6 is not allowed \(allowed names: w1, w2"),
    (
        "__import__('os').system('x')",
        r"""call of "__import__\('os'\)\.system" at column 1 is not allowed""",
    ),
    ("os", r"'os' at column 1 is not allowed"),
    ("w1.__class__", r"attribute access 'w1\.__class__' at column 1 is not allowed"),
    ("().__class__", r"attribute access '\(\)\.__class__' at column 1 is not allowed"),
    ("w1.real", r"attribute access 'w1\.real' at column 1 is not allowed"),
    ("(lambda: 1)()", r"call of 'lambda: 1' at column 1 is not allowed"),
    ("lambda: w1", r"lambda 'lambda: w1' at column 1 is not allowed"),
    ("[w1][0]", r"subscript '\[w1\]\[0\]' at column 1 is not allowed"),
    ("w1 if w2 else 1", r"conditional expression 'w1 if w2 else 1' at column 1 is not allowed"),
    ("print(1)", r"call of 'print' at column 1 is not allowed"),
    ("sin(w1)(w2)", r"call of 'sin\(w1\)' at column 1 is not allowed"),
    (
        "sin(w1, w2)",
        r"^Formula: sin\(\) at column 1 takes exactly one argument, got 2 \(allowed names",
    ),
    ("2*cos()", r"cos\(\) at column 3 takes exactly one argument, got 0"),
    ("sin(x=w1)", r"^Formula: sin\(\) at column 1 takes no keyword arguments, got x= \(allowed"),
    ("sin(**w1)", r"sin\(\) at column 1 takes no keyword arguments, got \*\*"),
    ("sin(*w1)", r"starred expression '\*w1' at column 5 is not allowed"),
    ("sin", r"'sin' at column 1 is not allowed"),
    ("w1 < w2", r"comparison 'w1 < w2' at column 1 is not allowed"),
    ("w1 and w2", r"boolean operator in 'w1 and w2' at column 1 is not allowed"),
    ("not w1", r"operator 'not' at column 1 is not allowed"),
    ("~w1", r"operator '~' at column 1 is not allowed"),
    ("w1 ^ 2", r"operator '\^' \(for a power write \*\*\) at column 4 is not allowed"),
    ("(w1 + 1) % 2", r"operator '%' at column 10 is not allowed"),
    ("w1 // 2", r"operator '//' at column 4 is not allowed"),
    ("w1 @ w2", r"operator '@' at column 4 is not allowed"),
    ("[x for x in w1]", r"comprehension '\[x for x in w1\]' at column 1 is not allowed"),
    ("(w1 for w1 in w2)", r"comprehension '\(?w1 for w1 in w2\)?' at column 1 is not allowed"),
    ("[w1, w2]", r"list '\[w1, w2\]' at column 1 is not allowed"),
    ("w1, w2", r"tuple 'w1, w2' at column 1 is not allowed"),
    ("{w1: 1}", r"dict '\{w1: 1\}' at column 1 is not allowed"),
    ("'w1'", r"string 'w1' at column 1 is not allowed"),
    ("b'w1'", r"bytes b'w1' at column 1 is not allowed"),
    ("f'{w1}'", r"""f-string "f'\{w1\}'" at column 1 is not allowed"""),
    ("(w1 := 2)", r"assignment expression 'w1 := 2' at column 2 is not allowed"),
    ("True * w1", r"boolean True at column 1 is not allowed"),
    ("None", r"constant None at column 1 is not allowed"),
    ("1j * w1", r"complex number 1j at column 1 is not allowed"),
    ("π * w1", r"'π' at column 1 is not allowed"),
    ("w1 + (yield)", r"yield 'yield' at column 7 is not allowed"),
    ("1e999 * w1", r"the number '1e999' at column 1 is too large for a float\."),
    ("1" + "0" * 400 + " * w1", r"the number '10{38}…' at column 1 is too large"),
    ("", r"^Formula: empty; write an expression in w1 and w2, e\.g\. 'w1\*\*2 \+ 8\*w2\*\*2'\.$"),
    (" \n\t ", r"^Formula: empty"),
    ("w1 +", r"^Formula: syntax error at the end: invalid syntax\.$"),
    ("w1 w2", r"^Formula: syntax error at column 4: invalid syntax\.$"),
    ("(w1 + w2", r"^Formula: syntax error at column 1: '\(' was never closed\.$"),
    (
        "(" * 201 + "w1" + ")" * 201,
        r"^Formula: syntax error at column 201: too many nested parentheses\.$",
    ),
    ("w1\x00", r"^Formula: control character '\\x00' at column 3\.$"),
    ("w1 + " * 99 + "w12", r"^Formula: 'w12' at column 496 is not allowed"),
    ("w1" + " + w1" * 100, r"^Formula: 502 characters long; the limit is 500\.$"),
    (
        "1 + 2*pi",
        r"^Formula: '1 \+ 2\*pi' does not depend on w1 or w2: it is a constant, with nothing to minimise\.",
    ),
    ("9**9**9**9", r"^Formula: '9\*\*9\*\*9\*\*9' does not depend on w1 or w2"),
    (
        "w1 + 9**9**9**9",
        r"^Formula: 'w1 \+ 9\*\*9\*\*9\*\*9' has no finite value anywhere on the window \(\(-2\.0, 2\.0\), \(-2\.0, 2\.0\)\)\.$",
    ),
    ("log(-1 - w1**2 - w2**2)", r"has no finite value anywhere on the window"),
]


def grid(n: int = 11, dtype: torch.dtype = torch.float64) -> Tensor:
    """(n*n, 2) points over [-2, 2]², the default window."""
    axis = torch.linspace(-2, 2, n, dtype=dtype)
    return torch.stack(torch.meshgrid(axis, axis, indexing="ij"), dim=-1).reshape(-1, 2)


@pytest.mark.parametrize(("text", "by_hand"), FORMULAS, ids=[text for text, _ in FORMULAS])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_formula_evaluates_like_torch_by_hand(text, by_hand, dtype: torch.dtype):
    surface = parse_formula(text)
    w = grid(dtype=dtype) + 0.01  # off zero: w2**-1.5 and sqrt(abs(w1)) stay finite, or NaN alike
    expected = by_hand(w[:, 0], w[:, 1])
    values = surface(w)
    assert values.shape == (121,) and values.dtype == dtype
    torch.testing.assert_close(values, expected, equal_nan=True)
    assert surface(w[5]).shape == ()
    torch.testing.assert_close(
        surface(w.reshape(11, 11, 2)), expected.reshape(11, 11), equal_nan=True
    )


@pytest.mark.parametrize(("text", "by_hand"), FORMULAS, ids=[text for text, _ in FORMULAS])
def test_formula_gradients_match_autograd_of_the_hand_written_function(text, by_hand):
    w = (grid() + 0.01).requires_grad_(True)
    (expected,) = torch.autograd.grad(by_hand(w[:, 0], w[:, 1]).sum(), w)
    (g,) = torch.autograd.grad(parse_formula(text)(w).sum(), w)
    torch.testing.assert_close(g, expected, equal_nan=True)
    assert torch.isfinite(g).any()


def test_formula_works_under_vmap_and_func_grad():
    surface = parse_formula("sin(w1)*cos(w2) + 0.1*(w1**2+w2**2)")
    w = grid()
    g = torch.func.vmap(torch.func.grad(surface.fn))(w)
    expected = torch.stack(
        [
            w[:, 0].cos() * w[:, 1].cos() + 0.2 * w[:, 0],
            -w[:, 0].sin() * w[:, 1].sin() + 0.2 * w[:, 1],
        ],
        dim=-1,
    )
    torch.testing.assert_close(g, expected)


def test_formula_equals_the_anisotropic_surface():
    w = grid()
    torch.testing.assert_close(parse_formula("w1**2 + 8*w2**2")(w), surfaces.get("anisotropic")(w))


@pytest.mark.parametrize("name", sorted(set(surfaces.names()) - {"rotated_quadratic"}))
def test_each_surfaces_formula_text_is_that_surface(name: str):
    """The `formula` shown in titles is the function itself (rotated_quadratic's is prose)."""
    surface = surfaces.get(name)
    (low1, high1), (low2, high2) = surface.window
    w = torch.stack(
        torch.meshgrid(
            torch.linspace(low1, high1, 13, dtype=torch.float64),
            torch.linspace(low2, high2, 13, dtype=torch.float64),
            indexing="ij",
        ),
        -1,
    )
    parsed = parse_formula(surface.formula, window=surface.window)
    torch.testing.assert_close(parsed(w), surface(w), rtol=1e-12, atol=1e-9)


def test_formula_surface_attributes():
    surface = parse_formula("  w1**2 +\n   8*w2**2  ")
    assert surface.name == "formula" and surface.label == "formula"
    assert surface.formula == "w1**2 + 8*w2**2"  # whitespace runs collapsed, ends stripped
    assert surface.minima == (Minimum((0.0, 0.0), 0.0),) and surface.minima_found_numerically
    assert surface.minimum_value == 0.0 and surface.hessian is None
    assert surface.window == ((-2.0, 2.0), (-2.0, 2.0))
    assert surface.default_start == (1.0, 1.0)
    assert parse_formula("w1").formula == "w1"
    assert parse_formula("w2 - w2").formula == "w2 - w2"  # depends on w2 in form: accepted


def test_formula_window_and_start():
    surface = parse_formula("w1**2 + w2**2", window=((-5, 5), (0, 3)))
    assert surface.window == ((-5.0, 5.0), (0.0, 3.0)) and surface.default_start == (1.0, 1.0)
    outside = parse_formula("w1**2 + w2**2", window=((2, 4), (-1, 0)))
    assert outside.default_start == (3.0, -0.5)  # (1, 1) is outside: the window's centre
    for bad in [((1, -1), (0, 1)), ((0, 1),), ((0, math.inf), (0, 1)), "big"]:
        with pytest.raises(
            FormulaError,
            match=r"^Invalid window: .* \(allowed: \(\(w1 min, w1 max\), \(w2 min, w2 max\)\), finite, with min < max\)\.$",
        ):
            parse_formula("w1", window=bad)


def test_formula_partly_undefined_is_accepted_and_nan_where_undefined():
    surface = parse_formula("log(w1) + w2")  # NaN for w1 < 0, like torch.log
    values = surface(torch.tensor([[1.0, 2.0], [-1.0, 2.0]], dtype=torch.float64))
    assert values[0].item() == 2.0 and math.isnan(values[1].item())


@pytest.mark.parametrize(("text", "message"), REFUSALS, ids=[repr(t[:30]) for t, _ in REFUSALS])
def test_formula_refusals(text: str, message: str):
    with pytest.raises(FormulaError, match=message):
        parse_formula(text)


def test_formula_error_is_a_descend_error_and_a_value_error():
    with pytest.raises(DescendError):
        parse_formula("x")
    assert issubclass(FormulaError, ValueError)
    with pytest.raises(FormulaError, match=r"^Formula: must be a string, got int\.$"):
        parse_formula(3)  # type: ignore[arg-type]


def test_length_limit_is_500_characters():
    longest = "w1" + " + w1" * 99 + " +1"  # exactly 500 characters
    assert len(longest) == MAX_LENGTH
    assert parse_formula(longest)(torch.tensor([1.0, 0.0])).item() == 101.0
    with pytest.raises(FormulaError, match=r"^Formula: 501 characters long; the limit is 500\.$"):
        parse_formula(longest + "1")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("9**9**9**9", "does not depend on w1 or w2"),
        ("w1 + 9**9**9**9", "has no finite value anywhere"),
        ("w1 * (9**9**9**9)**9**9", "has no finite value anywhere"),
        ("w1 ** 9**9**9**9", None),  # accepted: 0 for |w1| < 1, inf beyond
    ],
)
def test_huge_powers_are_float_arithmetic(text: str, message: str | None, monkeypatch):
    """9**9**9**9 as Python ints would never finish; every constant must become a float
    before any arithmetic (so it overflows to inf at once). Checked by recording what the
    parser makes of each constant, and by the values; a watchdog turns a hang (the failure
    this guards against) into a loud failure instead of a stuck run."""
    made: list[type] = []
    original = expressions._number

    def recording(node, text):
        number = original(node, text)
        made.append(type(number))
        return number

    monkeypatch.setattr(expressions, "_number", recording)
    faulthandler.dump_traceback_later(60, exit=True)
    try:
        if message is None:
            values = parse_formula(text)(torch.tensor([[0.5, 0.0], [1.5, 0.0]]))
            assert values.tolist() == [0.0, math.inf]
        else:
            with pytest.raises(FormulaError, match=message):
                parse_formula(text)
    finally:
        faulthandler.cancel_dump_traceback_later()
    assert made and set(made) == {float}


def test_parsing_never_evaluates_or_compiles_the_text(monkeypatch: pytest.MonkeyPatch):
    """ast.parse is the one use of `compile`, with PyCF_ONLY_AST; eval and exec are not
    called at all."""
    calls = []
    real_compile = builtins.compile

    def only_ast_compile(source, filename, mode, flags=0, *args, **kwargs):
        calls.append(flags)
        assert flags & ast.PyCF_ONLY_AST, "compile() into code"
        return real_compile(source, filename, mode, flags, *args, **kwargs)

    def forbidden(*args, **kwargs):
        raise AssertionError("eval/exec called")

    monkeypatch.setattr(builtins, "compile", only_ast_compile)
    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(builtins, "exec", forbidden)
    surface = parse_formula("sin(w1)*cos(w2) + 0.1*(w1**2+w2**2)")
    surface(grid())
    with pytest.raises(FormulaError):
        parse_formula("__import__('os').system('echo hacked')")
    assert calls  # ast.parse went through compile(..., PyCF_ONLY_AST)


def test_surface_from_a_registered_name_with_parameters():
    surface = surface_from("rosenbrock", b=10.0)
    assert surface.label == "rosenbrock(a=1, b=10)"
    assert surface_from(" bowl ").name == "bowl"


def test_surface_from_a_formula():
    surface = surface_from("w1**2 + 8*w2**2")
    assert surface.name == "formula" and surface.formula == "w1**2 + 8*w2**2"
    assert surface_from("w1-w2").formula == "w1-w2"
    assert surface_from("w2").formula == "w2"
    assert surface_from("w1**2", window=((-1, 1), (-1, 1))).window == ((-1.0, 1.0), (-1.0, 1.0))
    with pytest.raises(FormulaError, match=r"^Formula: 'x' at column 1 is not allowed"):
        surface_from("x**2")
    with pytest.raises(
        HyperparameterError, match=r"^A formula takes only the parameter 'window', not 'b'\.$"
    ):
        surface_from("w1**2", b=1.0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "rosenbrok",
            r"^Unknown surface 'rosenbrok'\. Did you mean 'rosenbrock'\? Known surfaces: ackley, .*, styblinski_tang\. Or write a formula in w1 and w2, e\.g\. 'w1\*\*2 \+ 8\*w2\*\*2'\.$",
        ),
        ("six-hump-camel", r"^Unknown surface 'six-hump-camel'\. Did you mean 'six_hump_camel'\?"),
        ("x", r"^Unknown surface 'x'\. Known surfaces: .*Or write a formula in w1 and w2"),
    ],
)
def test_surface_from_an_unknown_name(text: str, message: str):
    with pytest.raises(UnknownNameError, match=message):
        surface_from(text)
