"""The device a run trains on, and whether bf16 autocast pays there."""

from __future__ import annotations

import torch

from .errors import DeviceUnavailable


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise DeviceUnavailable("device: cuda was asked for but torch sees no CUDA GPU "
                                f"(torch {torch.__version__}); use --device auto or cpu")
    if name == "mps" and not torch.backends.mps.is_available():
        raise DeviceUnavailable("device: mps was asked for but is not available here; "
                                "use --device auto or cpu")
    return torch.device(name)


def amp_supported(device: torch.device) -> bool:
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return device.type == "cpu"
