"""rnnexp: an experiment runner for recurrent networks."""

__version__ = "0.1.0"
