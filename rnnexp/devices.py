"""Where and how a command computes: the one reading of train.device and the --device flags, the
placement of sweep workers on GPUs, a task's data on the device or moved per batch, and the
numerics a run trains with (train.precision, train.deterministic)."""

from __future__ import annotations

import os
from contextlib import nullcontext
from typing import Any

import torch

from .config.run import check_device
from .data.batches import moves_per_batch
from .errors import ConfigError

# train.precision -> the dtype autocast runs the forward pass and loss in (None: no autocast).
AUTOCAST = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
CUBLAS_DETERMINISTIC = ":4096:8"  # the workspace setting cuBLAS needs for deterministic results


def gpu_count() -> int:
    """CUDA devices torch sees here (0 without CUDA)."""
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def resolve_device(name: str, source: str = "train.device") -> torch.device:
    """auto -> cuda when available, else cpu; a device this machine lacks is a ConfigError naming
    ``source`` (the config key or the --device flag)."""
    try:
        check_device(name)
    except ValueError as e:
        raise ConfigError(f"{source} {name!r}: {e}") from None
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda":
        count = gpu_count()
        if count == 0:
            raise ConfigError(f"{source} is {name!r} but torch sees no CUDA device here; use auto or cpu (--device cpu)")
        if device.index is not None and device.index >= count:
            raise ConfigError(f"{source} is {name!r} but this machine has {count} CUDA device(s): cuda:0 to cuda:{count - 1}")
    return device


def run_device(recorded: str, override: str | None) -> tuple[torch.device, str | None]:
    """Where a command on an existing run (resume, evaluate, predict) computes, and a note when it
    is not the run's own device: --device when given, else the run's train.device when this machine
    has it, else auto. The run's config is never changed."""
    if override is not None:
        return resolve_device(override, "--device"), None
    try:
        return resolve_device(recorded), None
    except ConfigError:
        device = resolve_device("auto")
        return device, f"this run's train.device is {recorded!r}, which this machine lacks: using {device} (--device chooses)"


def worker_device(configured: str, worker: int | None, gpus: int, override: str | None = None) -> str:
    """The train.device sweep worker number ``worker`` trains a trial with, on a machine with ``gpus``
    CUDA devices, when the trial's config says ``configured``: the worker's --device (``override``)
    when given; else auto and cuda spread the workers over the GPUs, worker i on cuda:(i mod gpus)
    (a worker without a number on cuda:0); cpu and cuda:N are kept as written, and so is everything
    on a machine without GPUs (auto: the CPU)."""
    if override is not None:
        return override
    if configured in ("auto", "cuda") and gpus > 0:
        return f"cuda:{(worker or 0) % gpus}"
    return configured


def data_home(device: torch.device, data_bytes: int) -> torch.device:
    """Where a task keeps its encoded data: on ``device`` whole, or on the host when it moves each
    batch there as it is drawn (batches.moves_per_batch: more than a quarter of the GPU's memory)."""
    if device.type != "cuda":
        return device
    total = torch.cuda.get_device_properties(device).total_memory
    return torch.device("cpu") if moves_per_batch(data_bytes, total) else device


def to_compute(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A batch gathered where the data lives, on ``device``: the tensor itself when it is there
    already (always on CPU); from the host through pinned memory, copied without blocking (the
    kernels that read it run after the copy on the same stream)."""
    if tensor.device.type == device.type:
        return tensor
    return tensor.pin_memory().to(device, non_blocking=True)


def set_numerics(precision: str, deterministic: bool, device: torch.device) -> dict[str, Any]:
    """Set torch's numerics for a run (train, resume, lr-find) before its first CUDA call, and return
    what is in effect, for meta.json. Every flag is set both ways, so that one process training
    several runs (a sweep worker) carries nothing of one into the next. cuDNN benchmark stays off:
    it times convolution algorithms, which these models have none of, and would only vary the bits."""
    if deterministic and device.type == "cuda" and "CUBLAS_WORKSPACE_CONFIG" not in os.environ:
        if torch.cuda.is_initialized():  # cuBLAS may have sized its workspace already (a sweep worker's earlier trial)
            raise ConfigError(
                "train.deterministic is true but this process used CUDA before it could set "
                f"CUBLAS_WORKSPACE_CONFIG; set CUBLAS_WORKSPACE_CONFIG={CUBLAS_DETERMINISTIC} in the environment"
            )
        os.environ["CUBLAS_WORKSPACE_CONFIG"] = CUBLAS_DETERMINISTIC
    check_precision(precision, device)  # after: asking the GPU whether it has bfloat16 starts CUDA
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = deterministic
    # Only when it changes: torch.use_deterministic_algorithms imports torch._inductor (and with it
    # torch._dynamo, about 1.4 s of a process's start) to set inductor's flag too.
    if torch.are_deterministic_algorithms_enabled() != deterministic or torch.is_deterministic_algorithms_warn_only_enabled():
        torch.use_deterministic_algorithms(deterministic)
    return numerics_record(precision)


def check_precision(precision: str, device: torch.device) -> None:
    """train.precision on ``device``: fp16 needs CUDA (CPU autocast has fp16 kernels for few ops and
    no speed from them), bf16 a GPU that has it (or the CPU)."""
    if precision == "fp16" and device.type != "cuda":
        raise ConfigError(
            f"train.precision fp16 needs a CUDA device, and this run computes on {device}: use bf16 on CPU, "
            "or a GPU (--device cuda)"
        )
    if precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ConfigError(f"train.precision bf16: {torch.cuda.get_device_name(device)} has no bfloat16; use fp16 or fp32")


def numerics_record(precision: str) -> dict[str, Any]:
    """The numerics in effect, as meta.json records them (CPU runs too: the cuDNN flags are set
    there as well, and say what a resume on a GPU would use)."""
    cudnn = torch.backends.cudnn
    return {
        "precision": precision,
        "autocast": str(AUTOCAST[precision]).removeprefix("torch.") if AUTOCAST[precision] else None,
        "grad_scaler": precision == "fp16",
        "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
        "float32_matmul_precision": torch.get_float32_matmul_precision(),
        "cuda_matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32,
        "cublas_workspace_config": os.environ.get("CUBLAS_WORKSPACE_CONFIG"),
        "cudnn": {
            "available": cudnn.is_available(),
            "version": cudnn.version() if cudnn.is_available() else None,
            "enabled": cudnn.enabled,
            "benchmark": cudnn.benchmark,
            "deterministic": cudnn.deterministic,
            "allow_tf32": cudnn.allow_tf32,
        },
    }


def autocast(precision: str, device: torch.device):
    """The context the forward pass and loss run in: torch.autocast for bf16 and fp16, nothing for fp32."""
    dtype = AUTOCAST[precision]
    return nullcontext() if dtype is None else torch.autocast(device.type, dtype=dtype)


def recurrent_autocast(cell: str, x: torch.Tensor):
    """The context the recurrent layers run in: the forward pass's, except an LSTM under bf16 on a
    CPU whose oneDNN has no bfloat16 (no AVX-512 BF16 or AMX): its LSTM primitive fails to build
    there ("could not create a primitive descriptor"), so the layers run in float32 instead, as the
    scans keep their state anyway."""
    if (
        cell == "lstm"
        and x.device.type == "cpu"
        and torch.is_autocast_enabled("cpu")
        and torch.get_autocast_dtype("cpu") == torch.bfloat16
        and not torch.ops.mkldnn._is_mkldnn_bf16_supported()
    ):
        return torch.autocast("cpu", enabled=False)
    return nullcontext()


def available_memory(device: torch.device) -> int | None:
    """Bytes free for a run on ``device`` now (CPU: the kernel's MemAvailable); None when unknown."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        return None
