"""supdata: build datasets that supervise LLM reasoning."""

__version__ = "0.1.0"
