"""Step-level critiques (AutoMathCritique): the strict format, its parser, evaluation."""
