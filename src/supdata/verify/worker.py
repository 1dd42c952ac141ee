"""Entry points that run inside verification workers (preloaded by the forkserver).

Importing this module warms the parsers up: latex2sympy's ANTLR parser builds its
prediction tables lazily, so the first few hundred parses of a fresh process are several
times slower than later ones. The forkserver imports this module once, and every worker
it forks starts with the warm tables.
"""

from __future__ import annotations

from supdata.verify.compare import Judgement, judge
from supdata.verify.config import VerifyConfig

_WARM_UP = (
    ("The answer is $\\boxed{\\frac{14}{3}}$.", "4\\frac{2}{3}"),
    ("So $x = \\sqrt{2} + 1$ and \\[y = 2^{10} - 3 \\cdot 4 = 1012\\]", "1012"),
    ("\\boxed{(3, \\frac{\\pi}{2})}", "\\left( 3, \\frac{\\pi}{2} \\right)"),
    ("\\boxed{(-\\infty, 0) \\cup [1, 5]}", "(-\\infty,0)\\cup[1,5]"),
    (
        "\\boxed{\\begin{pmatrix} 1 & -2 \\\\ 0 & 3 \\end{pmatrix}}",
        "\\begin{pmatrix}1&-2\\\\0&3\\end{pmatrix}",
    ),
    ("\\boxed{x^2 + 2xy - 3 = 0}", "x^2+2xy-3=0"),
    ("Final Answer: The final answer is $\\text{(C)}$. I hope it is correct.", "\\text{(C)}"),
    ("\\boxed{\\{1, 2, 3\\}}", "1, 2, 3"),
    ("\\boxed{12.5\\%}", "0.125"),
    ("#### 1,250", "1250"),
    ("\\boxed{\\dfrac{\\sqrt{3}}{2} \\text{ cm}^2}", "\\frac{\\sqrt3}{2}"),
    ("\\boxed{-\\log_2 5 + \\sin(\\theta)}", "\\sin\\theta - \\log_{2}5"),
)


def judge_item(prediction: str, reference: str | None, config: VerifyConfig) -> Judgement:
    return judge(prediction, reference, config)


def timed_out(args: tuple, detail: str) -> Judgement:
    return Judgement("timeout", None, None, detail)


for _prediction, _reference in _WARM_UP:
    judge(_prediction, _reference)
