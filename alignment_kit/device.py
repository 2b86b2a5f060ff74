"""Pick the device and the training precision that the device supports (torch is imported on first use)."""
from __future__ import annotations

PRECISIONS = ("bf16", "fp16", "fp32")


def pick_device() -> str:
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def pick_precision(device: str) -> str:
    """bf16 on Ampere or newer GPUs, fp16 (autocast + GradScaler) on older ones such as a T4, fp32 elsewhere."""
    import torch

    if device == "cuda":
        major, _ = torch.cuda.get_device_capability()
        return "bf16" if major >= 8 else "fp16"
    return "fp32"


def gpu_memory_gib(index: int = 0) -> float:
    """Total memory of a CUDA device in GiB (0 without CUDA)."""
    import torch

    if not torch.cuda.is_available():
        return 0.0
    return torch.cuda.get_device_properties(index).total_memory / 2**30


def trl_precision_flags(precision: str) -> dict[str, bool]:
    """The bf16/fp16 keyword arguments for a TRL config (TRL 1.x defaults to bf16=True, which fails on a CPU)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    return {"bf16": precision == "bf16", "fp16": precision == "fp16"}


def autocast_dtype(precision: str):
    """The torch dtype for torch.autocast, or None for plain fp32."""
    import torch

    return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
