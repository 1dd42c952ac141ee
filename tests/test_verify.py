from __future__ import annotations

import json
import time

import pytest

from supdata.verify import (
    RULES,
    VerifyConfig,
    extract_answer,
    judge,
    last_boxed,
    summarize,
    verify_many,
)
from supdata.verify import compare as compare_module
from supdata.verify.labelled import load
from supdata.verify.pool import HardTimeoutPool

from pool_helpers import crash, on_timeout, square, stubborn

INPROC = VerifyConfig(workers=0)


def status(prediction: str, reference: str | None, **options) -> str:
    return judge(prediction, reference, VerifyConfig(workers=0, **options)).status


# --- extraction: the answer and the rule that found it --------------------------------

EXTRACTION = [
    # (text, answer, rule)
    (
        "first \\boxed{\\frac{1}{2}}, but checking it against the second equation shows the"
        " slip; the correct value is \\boxed{3}",
        "3",
        "boxed",
    ),
    ("so \\boxed{\\frac{1}{2}} and finally \\boxed{3}", "\\frac{1}{2},3", "boxed"),
    ("\\boxed{\\{1,2\\}}", "\\{1,2\\}", "boxed"),
    ("\\fbox{7}", "7", "boxed"),
    ("The solutions are $\\boxed{1}$ and $\\boxed{2}$.", "1 and 2", "boxed"),
    ("She earns 18 a day.\n#### 1,000", "1,000", "hashes"),
    ("The answer is $18$.", "18", "answer_is"),
    ("Thus the final answer is: 42.", "42", "final_answer"),
    ("The answer is 3.5.", "3.5", "answer_is"),
    ("The answer is blue.", "blue", "answer_is"),
    (
        "Final Answer: The final answer is $(1, 2)$. I hope it is correct.",
        "(1, 2)",
        "final_answer",
    ),
    ("I get 3 apples, then 4.5 pears", "4.5", "last_number"),
    ("so $x = \\frac{1}{3}$.", "x = \\frac{1}{3}", "last_latex"),
    # a display equation's result beats a later number in the prose ...
    (
        "\\[14 \\text{ hours} + 20 \\text{ hours} = 34 \\text{ hours}\\] So she spends 34 hours"
        " in 4 weeks.",
        "34",
        "last_equation",
    ),
    # ... unless the prose after it concludes something else
    ("\\[ c = 4 \\] Therefore the maximum value is **8**.", "8", "last_number"),
    # a reference to a step is not a number of the answer
    ("we get $x = 5$ (see step 3)", "x = 5", "last_latex"),
    # a mention of a variable is not the answer while an expression parses
    ("a total of \\(2 + 1 = 3\\) possible values for \\(n\\).", "2 + 1 = 3", "last_latex"),
    ("no digits at all", None, None),
]


@pytest.mark.parametrize(("text", "answer", "rule"), EXTRACTION)
def test_extract_answer(text, answer, rule):
    got = extract_answer(text)
    assert (got.answer, got.method) == (answer, rule)
    assert got.method is None or got.method in RULES


def test_judgement_names_the_rule():
    j = judge("so she pays \\$1,250.", "1250", INPROC)
    assert (j.status, j.extraction, j.method) == ("correct", "last_number", "last_number")
    assert judge("I do not know.", "18", INPROC).extraction is None


def test_last_boxed():
    assert last_boxed("\\boxed{1} then \\boxed{\\frac{2}{3}}") == "\\frac{2}{3}"
    assert last_boxed("\\boxed{unbalanced {") is None


def test_last_number_fallback_can_be_turned_off():
    assert extract_answer("I get 4 apples", last_number_fallback=False).answer is None
    assert status("I get 4 apples", "4", last_number_fallback=False) == "no_answer"
    assert status("I get 4 apples", "4") == "correct"
    assert status("so \\boxed{4} apples", "4", last_number_fallback=False) == "correct"


# --- verdicts: one row per case of issue 18, plain math-verify's behaviour where it is right


VERDICTS = [
    # (prediction, reference, status)
    # the thousands rule no longer eats commas of tuples and intervals
    ("$(0, 125) \\cup (125, \\infty)$", "(0,125)\\cup(125,\\infty)", "correct"),
    ("\\boxed{[0, 100]}", "[0,100]", "correct"),
    ("\\boxed{1125}", "(1,125)", "incorrect"),
    ("\\boxed{(1,1006),(3,331),(11,31)}", "(1,1006),(3,331),(11,31)", "correct"),
    ("\\boxed{(11,31),(3,331),(1,1006)}", "(1,1006),(3,331),(11,31)", "correct"),
    ("\\boxed{1006}", "(1,1006),(3,331),(11,31)", "incorrect"),
    ("\\boxed{(2,251,252)}", "(2,251,252)", "correct"),
    ("\\boxed{2251252}", "(2,251,252)", "incorrect"),
    ("\\boxed{-2, 1}", "-2,1", "correct"),  # MATH-500's two roots
    ("\\boxed{-2.1}", "-2,1", "incorrect"),
    ("\\boxed{10080}", "10,\\!080", "correct"),
    ("\\boxed{\\$32,\\!348}", "\\$32,\\!348", "correct"),
    # a boxed matrix over several lines is the matrix, not its last number
    (
        "\\boxed{\\begin{pmatrix} 1 & 2 & 3 \\\\\n 4 & 5 & 6 \\\\\n 7 & 8 & 9 \\end{pmatrix}}",
        "\\begin{pmatrix}1&2&3\\\\4&5&6\\\\7&8&9\\end{pmatrix}",
        "correct",
    ),
    (
        "\\boxed{\\begin{pmatrix} 1 & 2 & 3 \\\\\n 4 & 5 & 6 \\\\\n 7 & 8 & 9 \\end{pmatrix}}",
        "9",
        "incorrect",
    ),
    ("\\boxed{\\begin{pmatrix} 1 & 2 \\\\\n 3 & 4 \\end{pmatrix}}", "4", "incorrect"),
    # no boxed answer: math-verify's extraction, not the last digit run
    ("$\\frac{1}{3} \\text{meters}$", "\\frac13", "correct"),
    ("$[0,1)$", "[0,1)", "correct"),
    ("1 000", "1000", "correct"),
    ("so $x = \\frac{1}{3}$.", "\\frac{1}{3}", "correct"),
    ("$(0,9)$", "[0,9)", "incorrect"),
    ("2", "AZYUK2A", "incorrect"),
    ("$\\text{odd}$", "\\text{odd}", "correct"),
    ("$f(y) = y$", "f(y) = y", "correct"),
    # several boxed answers
    ("The solutions are $\\boxed{1}$ and $\\boxed{2}$.", "1,2", "correct"),
    ("so \\boxed{x=1} and \\boxed{y=2}", "x=1,y=2", "correct"),
    ("\\boxed{2}", "1,2", "incorrect"),
    # the MATH / Minerva few-shot ending
    ("Final Answer: The final answer is $\\frac{1}{2}$. I hope it is correct.", "0.5", "correct"),
    ("Final Answer: The final answer is $(3,-1)$. I hope it is correct.", "(3,-1)", "correct"),
    ("Final Answer: The final answer is $x^2+1$. I hope it is correct.", "1+x^2", "correct"),
    ("The answer is $5$ apples because each box has 5.", "5", "correct"),
    ("The answer is blue.", "18", "incorrect"),
    ("The answer is blue.", "blue", "correct"),
    # separators
    ("11,\\! 111,\\! 100", "11111100", "correct"),
    ("$11,\\! 111,\\! 100$", "11111100", "correct"),
    ("1,22", "1.22", "correct"),  # a decimal comma in a prediction
    ("0,111", "0.111", "correct"),
    ("$12:00$", "12:00", "correct"),
    # scientific notation (math-verify reads the e as Euler's number)
    ("1e-5", "0.00001", "correct"),
    ("$1.07e16$", "1.07 \\times 10^{16}", "correct"),
    ("$3.3 \\times 10^{-10}$", "3.3e-10", "correct"),
    ("$3.3e-10$", "4e-10", "incorrect"),  # not equal below the rounding resolution
    ("$2e^{x}$", "2e^x", "correct"),  # Euler's e stays
    # a factor math-verify drops as a unit
    ("$\\frac{1}{m}t$", "\\frac{t}{m}", "correct"),
    ("$\\frac{1}{m}$", "\\frac{1}{m}t", "incorrect"),
    ("$5 m$", "5", "correct"),  # a unit after a plain number stays a unit
    # several answers
    ("$f(x)=2-x, f(x)=x$", "f(x)=x, f(x)=2-x", "correct"),
    ("\\boxed{f(x)=2-x} and \\boxed{f(x)=x}", "f(x)=x, f(x)=2-x", "correct"),
    ("\\boxed{f(x)=x}", "f(x)=x, f(x)=2-x", "incorrect"),
    # units and text around numbers
    ("$5 \\text{ cm}$", "5", "correct"),
    ("costs \\$4.50", "4.5", "correct"),
    ("The price is 4.50 dollars.", "4.5", "correct"),
    ("\\( \\boxed{8\\sqrt{3}} \\)", "8\\sqrt{3} \\text { square inches}", "correct"),
    ("\\boxed{A,D}", "\\text{A,D}", "correct"),
    # unboxed, where the last number is not the answer
    ("we get $x = 5$ (see step 3)", "5", "correct"),
    (
        "\\[14 \\text{ hours} + 20 \\text{ hours} = 34 \\text{ hours}\\] in 4 weeks.",
        "34",
        "correct",
    ),
    ("\\[ \\text{Cost} = \\$129 + \\$195 = \\$324.\\] That is for 3 rooms.", "324", "correct"),
    ("\\[ x^2 + y^2 = 13 \\] is the circle.", "x^2 + y^2 = 13", "correct"),
    ("a total of \\(2 + 1 = 3\\) possible values for \\(n\\).", "3", "correct"),
    # earlier rows
    ("... #### 18", "18", "correct"),
    ("\\boxed{\\frac{14}{3}}", "4\\frac{2}{3}", "correct"),
    ("\\boxed{(3, \\pi/2)}", "\\left( 3, \\frac{\\pi}{2} \\right)", "correct"),
    ("\\boxed{0.5}", "\\frac12", "correct"),
    ("\\boxed{\\text{(C)}}", "\\text{(C)}", "correct"),
    ("\\boxed{19}", "18", "incorrect"),
    ("I do not know.", "18", "no_answer"),
    ("\\boxed{3}", None, "bad_reference"),
    ("\\boxed{3}", "", "bad_reference"),
]


@pytest.mark.parametrize(("prediction", "reference", "expected"), VERDICTS)
def test_verdicts(prediction, reference, expected):
    assert status(prediction, reference) == expected


def test_identical_integers_above_the_int_string_limit():
    big = "1" * 5000
    assert status(f"\\boxed{{{big}}}", big) == "correct"
    assert status(f"\\boxed{{{big[:-1]}2}}", big) == "incorrect"
    assert status(f"\\boxed{{{big}0}}", f"{big}0") == "correct"


# --- options math-verify's tests pass, exposed as VerifyConfig fields ------------------

OPTIONS = [
    # (prediction, reference, options, status)
    ("$0.3333$", "\\frac13", {"float_rounding": 4}, "correct"),
    ("$0.3333$", "\\frac13", {"float_rounding": 6}, "incorrect"),
    ("$f(y)$", "f(x)", {"strict": True}, "incorrect"),
    ("$f(y)$", "f(x)", {"strict": False}, "correct"),
    ("$1 < x < 2$", "(1,2)", {"allow_set_relation_comp": False}, "incorrect"),
    ("$1 < x < 2$", "(1,2)", {"allow_set_relation_comp": True}, "correct"),
]

PERCENT = [
    # (prediction, reference, lenient, value, sign)
    ("$12.5\\%$", "12.5", "correct", "incorrect", "correct"),
    ("$12.5\\%$", "0.125", "correct", "correct", "incorrect"),
    ("12.5", "12.5\\%", "correct", "incorrect", "correct"),
    ("0.125", "12.5\\%", "correct", "correct", "incorrect"),
    ("$25\\%$", "25", "correct", "incorrect", "correct"),
    ("$25\\%$", "0.25", "correct", "correct", "incorrect"),
    ("$50\\%$", "0.5\\%", "incorrect", "incorrect", "incorrect"),
]


@pytest.mark.parametrize(("prediction", "reference", "options", "expected"), OPTIONS)
def test_options(prediction, reference, options, expected):
    assert status(prediction, reference, **options) == expected


@pytest.mark.parametrize(("prediction", "reference", "lenient", "value", "sign"), PERCENT)
def test_percent_policy(prediction, reference, lenient, value, sign):
    got = [status(prediction, reference, percent=p) for p in ("lenient", "value", "sign")]
    assert got == [lenient, value, sign]


def test_config_rejects_unknown_percent_policy():
    with pytest.raises(ValueError, match="percent"):
        VerifyConfig(percent="sometimes")


# --- time budgets: CPU time, one retry, then the hard kill -------------------------------


def _burn(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def test_soft_timeout_retries_once_with_the_rest_of_the_budget(monkeypatch):
    config = VerifyConfig(workers=0, timeout_s=0.6)  # CPU budgets 0.1 s, then 0.2 s
    assert (config.soft_timeout_s, config.retry_timeout_s) == pytest.approx((0.1, 0.2))
    calls = []

    def slow(seconds):
        def fake(prediction, reference, config):
            calls.append(prediction)
            _burn(seconds)
            return compare_module.Judgement("correct")

        return fake

    monkeypatch.setattr(compare_module, "_judge", slow(0.15))
    assert judge("p", "r", config).status == "correct"  # over the first budget, not the retry
    assert len(calls) == 2
    monkeypatch.setattr(compare_module, "_judge", slow(0.4))
    j = judge("p", "r", config)
    assert j.status == "timeout"
    assert "CPU budget" in j.detail


def test_soft_budget_counts_cpu_not_wall_time(monkeypatch):
    """Waiting (a busy machine) does not use the budget; only computing does."""

    def sleepy(prediction, reference, config):
        time.sleep(0.5)
        return compare_module.Judgement("correct")

    monkeypatch.setattr(compare_module, "_judge", sleepy)
    assert judge("p", "r", VerifyConfig(workers=0, timeout_s=0.6)).status == "correct"


PATHOLOGICAL = [
    ("\\boxed{9^{9^{9^{9}}}}", "5"),
    ("\\boxed{" + "+".join(f"x_{{{i}}}^{{{i}}}" for i in range(12_000)) + "}", "1"),  # ~100 kB
    ("\\boxed{(((((((((((1+" + "{" * 500 + "}", "2"),
    ("\\boxed{3}", "\\frac{" * 200),
    ("\\boxed{10^{10^{10}}!}", "5"),
]


def test_pathological_inputs_never_pass_the_timeout():
    assert len(PATHOLOGICAL[1][0]) > 100_000
    config = VerifyConfig(workers=2, timeout_s=3)
    items = [*PATHOLOGICAL, ("\\boxed{4}", "4")]
    started = time.monotonic()
    results = list(verify_many(items, config))
    elapsed = time.monotonic() - started
    assert len(results) == len(items)
    assert results[-1].status == "correct"
    assert {r.status for r in results[:-1]} <= {
        "timeout",
        "incorrect",
        "no_answer",
        "bad_reference",
    }
    # Two workers, each item bounded by the hard limit, plus worker start-up.
    assert elapsed < len(items) / 2 * config.timeout_s + 10


# --- the pool ----------------------------------------------------------------------------


def test_pool_kills_a_stuck_worker_and_goes_on():
    with HardTimeoutPool(stubborn, on_timeout, workers=2, timeout_s=1.0, chunk_size=4) as pool:
        items = [(i,) for i in (1, 2, -1, 3, 4, -2, 5, 6, 7, 8)]
        started = time.monotonic()
        results = list(pool.map(items))
        elapsed = time.monotonic() - started
        assert pool.killed == 2
    assert results[2].startswith("timeout: killed after 1s")
    assert results[5].startswith("timeout: killed after 1s")
    assert [r for i, r in enumerate(results) if i not in (2, 5)] == [1, 4, 9, 16, 25, 36, 49, 64]
    assert elapsed < 6


def test_pool_survives_a_crashing_worker():
    with HardTimeoutPool(crash, on_timeout, workers=2, timeout_s=5, chunk_size=8) as pool:
        results = list(pool.map([(i,) for i in range(20)]))
    assert results[13].startswith("timeout: worker died (exit code 3)")
    assert [r for i, r in enumerate(results) if i != 13] == [i for i in range(20) if i != 13]


def test_pool_keeps_order_and_bounds_memory():
    consumed = 0

    def items():
        nonlocal consumed
        for i in range(5000):
            consumed += 1
            yield (i,)

    with HardTimeoutPool(square, on_timeout, workers=2, timeout_s=5, chunk_size=8) as pool:
        it = pool.map(items())
        first = [next(it) for _ in range(10)]
        assert consumed < 200  # read lazily, a window at a time
        rest = list(it)
    assert first + rest == [i * i for i in range(5000)]


def test_pool_does_not_stall_behind_a_slow_item():
    """A slow item fills the window with later results; once it is answered the pool must
    refill at once (it used to wait a full idle second each time)."""
    items = ([(0.3,)] + [(0.001,)] * 99) * 4  # time.sleep: slow, then fast items
    with HardTimeoutPool(time.sleep, on_timeout, workers=2, timeout_s=5, chunk_size=8) as pool:
        list(pool.map([(0.0,)] * 4))  # workers up
        started = time.monotonic()
        assert len(list(pool.map(items))) == 400
        elapsed = time.monotonic() - started
    assert elapsed < 2.2  # about 1.3 s of sleeping on the critical path; 4 stalls made it 5 s


def test_summarize_counts_every_status():
    pairs = [("\\boxed{1}", "1"), ("no answer here", "1"), ("\\boxed{2}", "1")]
    counts = summarize(verify_many(pairs, INPROC))
    assert counts == {
        "correct": 1,
        "incorrect": 1,
        "no_answer": 1,
        "bad_reference": 0,
        "timeout": 0,
    }


# --- real data -----------------------------------------------------------------------------


@pytest.mark.shared_data
def test_every_gsm8k_test_reference_verifies(shared_data):
    rows = load(shared_data, "gsm8k")
    results = list(
        verify_many([(r.prediction, r.reference) for r in rows], VerifyConfig(workers=2))
    )
    misses = [
        (r.id, r.reference, j) for r, j in zip(rows, results, strict=True) if j.status != "correct"
    ]
    assert len(results) == 1319
    assert misses == []


@pytest.mark.shared_data
def test_every_math500_reference_verifies(shared_data):
    rows = load(shared_data, "math500")
    config = VerifyConfig(workers=2, last_number_fallback=False)
    results = list(verify_many([(r.prediction, r.reference) for r in rows], config))
    misses = [
        (r.id, j.status, j.answer)
        for r, j in zip(rows, results, strict=True)
        if j.status != "correct"
    ]
    assert misses == [], json.dumps(misses)


def test_recipe_verification_maps_every_option():
    from supdata.recipe.model import Verification

    options = {
        "workers": 0,
        "timeout_s": 4.0,
        "last_number_fallback": False,
        "float_rounding": 3,
        "numeric_precision": 20,
        "strict": False,
        "allow_set_relation_comp": True,
        "percent": "sign",
    }
    config = Verification(**options).to_config()
    assert {k: getattr(config, k) for k in options} == options
    with pytest.raises(ValueError, match="percent"):
        Verification(percent="sometimes")
