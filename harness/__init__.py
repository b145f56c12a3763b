"""harness: an execution-based benchmark harness for code-generation models."""

__version__ = "0.1.0"
