"""rnnexp: an experiment runner for recurrent networks.

The Python API (rnnexp/api.py): train, resume, evaluate, load, runs and Run, imported when first
used, so that `import rnnexp` (and `rnnexp --help`) loads neither torch nor pandas."""

__version__ = "0.1.0"

_API = ("train", "resume", "evaluate", "load", "runs", "Run", "Predictor")
__all__ = ["__version__", *_API]


def __getattr__(name: str):
    if name in _API:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'rnnexp' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_API})
