"""Exporting a run's model for use without rnnexp: TorchScript (always) or ONNX (with the onnx package).

The exported model takes what rnnexp's model takes: token ids [batch, maxlen] padded as the run's
preprocessing says (text), or float windows [batch, lookback, features] scaled by the run's scaler
(forecasting), or [batch, steps, channels] (sequences); it returns logits or scaled forecasts. The
preprocessing (vocabulary, labels, the tokenizer rule, scaler) is written beside it as JSON. Every export is checked:
the exported model must give the checkpoint's outputs on sample inputs, or the export is an error.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import torch

from .data import Preprocessor
from .data.calendar import calendar_columns
from .data.padding import real_steps
from .data.tokenizer import PAD_ID
from .errors import RnnexpError, RunDirError
from .model import model_from_checkpoint
from .rundir import RunDir, output_file, replacing, write_json
from .scoring import load_checkpoint

TOLERANCE = 1e-6


class ExportError(RnnexpError):
    """The export could not be made, or does not reproduce the checkpoint."""

    exit_code = 1


def sample_inputs(state: dict[str, Any], batch: int, seed: int) -> torch.Tensor:
    """Inputs shaped like the model's, with padding where the run has it."""
    spec = state["input"]
    g = torch.Generator().manual_seed(seed)
    if spec["kind"] == "tokens":
        length = spec["seq_len"]
        x = torch.randint(1, spec["vocab_size"], (batch, length), generator=g)
        padding = state["preprocessing"].get("padding", "pre")
        for row in range(batch):  # texts of every length, padded as preprocessing pads them
            keep = int(torch.randint(1, length + 1, (1,), generator=g))
            real = x[row, real_steps(length, keep, padding)].clone()
            x[row] = PAD_ID
            x[row, real_steps(length, keep, padding)] = real
        return x
    return torch.randn(batch, spec["seq_len"], spec["num_features"], generator=g)


def export(run_path: str | Path, fmt: str = "torchscript", out: str | Path | None = None, which: str = "auto") -> dict[str, Any]:
    """Write the exported model (and its preprocessing JSON) and return where, with the check's figures."""
    run = RunDir.open(run_path)
    cfg = run.load_config()
    which, state = load_checkpoint(run, cfg, which)
    if fmt not in ("torchscript", "onnx"):
        raise RunDirError(f"--format {fmt!r}: expected torchscript or onnx")
    name = "model.pt" if fmt == "torchscript" else "model.onnx"
    path = output_file(run.path / name if out is None else out, "--out", name)
    model = model_from_checkpoint(state, "cpu").eval()
    example, check = sample_inputs(state, 4, 0), sample_inputs(state, 7, 1)
    with torch.no_grad():
        expected = model(check)
    with replacing(path) as written:  # in place only once checked: a failed check leaves an earlier file as it was
        got = (_torchscript if fmt == "torchscript" else _onnx)(model, example, check, written)
        diff = float((got - expected).abs().max())
        if not diff <= TOLERANCE:
            raise ExportError(f"the exported model differs from the checkpoint by {diff:.3g} (> {TOLERANCE}); nothing written")
    sidecar = path.with_name(path.stem + ".preprocessing.json")
    write_json(sidecar, serving_preprocessing(state))
    return {
        "run_dir": str(run.path),
        "checkpoint": which,
        "format": fmt,
        "path": str(path),
        "preprocessing": str(sidecar),
        "checked_inputs": list(check.shape),
        "max_abs_difference": diff,
    }


def _torchscript(model, example: torch.Tensor, check: torch.Tensor, path: Path) -> torch.Tensor:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer chatter about python values; the check below is what counts
        traced = torch.jit.trace(model, example, check_trace=False)
        traced.save(str(path))
        loaded = torch.jit.load(str(path))
    with torch.no_grad():
        return loaded(check)


def _onnx(model, example: torch.Tensor, check: torch.Tensor, path: Path) -> torch.Tensor:
    missing = [m for m in ("onnx", "onnxruntime") if importlib.util.find_spec(m) is None]
    if missing:
        raise RunDirError(f"--format onnx needs the {' and '.join(missing)} package(s): pip install {' '.join(missing)}")
    import warnings

    import numpy as np
    import onnxruntime

    with warnings.catch_warnings():
        # The exporter warns about LSTM batch sizes and negative indices in general; the check on a
        # batch of another size (below) is what tells whether this model exported right.
        warnings.simplefilter("ignore")
        _onnx_export(model, example, path)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {"inputs": check.numpy()})
    return torch.from_numpy(np.asarray(out))


def _onnx_export(model, example: torch.Tensor, path: Path) -> None:
    torch.onnx.export(
        model,
        (example,),
        str(path),
        input_names=["inputs"],
        output_names=["outputs"],
        dynamic_axes={"inputs": {0: "batch"}, "outputs": {0: "batch"}},
        dynamo=False,  # the TorchScript-based exporter: no onnxscript needed
    )


def serving_preprocessing(state: dict[str, Any]) -> dict[str, Any]:
    """model.preprocessing.json: what the exported model takes, and the run's preprocessing. A text
    run's is written as this version writes it (strip_html and the tokenizer rule: tokenizer.py),
    also for a checkpoint made before it had them."""
    prep = state["preprocessing"]
    if state["input"]["kind"] == "tokens":
        prep = {**prep, **Preprocessor.from_dict(prep).to_dict()}
    return {"input": _input_note(state), **prep}


def _input_note(state: dict[str, Any]) -> str:
    spec = state["input"]
    if spec["kind"] == "tokens":
        return f"int64 token ids [batch, {spec['seq_len']}] (tokenizer below: from a text to them) -> logits per label"
    note = f"float32 [batch, {spec['seq_len']}, {spec['num_features']}] scaled by the scaler below -> outputs"
    cycles = state["preprocessing"].get("calendar")
    if cycles:  # data.calendar: columns made from the time column, scaled as the others
        made = ", ".join(calendar_columns(cycles))
        note += f"; the columns {made} are the sine and cosine of each row's timestamp's place in its cycle (data.calendar)"
    return note
