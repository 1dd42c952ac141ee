"""The papers the built-in builders implement: each spec cites its own."""

from __future__ import annotations

PAPERS = {
    "guiding": {
        "title": "Guiding Through Complexity: What Makes Good Supervision for Hard Math "
        "Reasoning Tasks?",
        "ref": "arXiv:2410.20533 (NAACL 2025)",
    },
    "critique": {
        "title": "Enhancing LLM Reasoning via Critique Models with Test-Time and Training-Time "
        "Supervision (AutoMathCritique)",
        "ref": "arXiv:2411.16579",
    },
    "stv": {"title": "Self-Trained Verification", "ref": "arXiv:2605.30290"},
}

GUIDING = PAPERS["guiding"]
CRITIQUE = PAPERS["critique"]
STV = PAPERS["stv"]
