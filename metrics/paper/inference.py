"""Where and how the paper backends run their networks: device, dtype and frames per batch.

VBench measures frame by frame; on a GPU that leaves it idle most of the time. The paper backends
send frames through their networks in batches of `batch_size` (the values do not depend on it,
tests/test_metrics_batched.py), on `device`, optionally in float16 / bfloat16 (autocast on CUDA;
the values then move by the precision's rounding, so the dtype is part of the cache version).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass

DTYPES = ("float32", "float16", "bfloat16")


@dataclass(frozen=True)
class InferenceSettings:
    """Args:
        device: "cpu", "cuda", "cuda:1", ...; None picks cuda when available.
        dtype: "float32" (default), or "float16" / "bfloat16" autocast (CUDA only).
        batch_size: frames (or frame pairs) per network call.
    """

    device: str | None = None
    dtype: str = "float32"
    batch_size: int = 16

    def __post_init__(self) -> None:
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {DTYPES}, got {self.dtype!r}")
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {self.batch_size!r}")
        if self.dtype != "float32" and self.resolved_device().type != "cuda":
            raise ValueError(f"dtype {self.dtype} runs on CUDA only (autocast); on {self.resolved_device()} "
                             "use float32")

    def resolved_device(self):
        import torch

        return torch.device(self.device or ("cuda" if torch.cuda.is_available() else "cpu"))

    def autocast(self):
        """The context a network call runs in: autocast to the half dtype on CUDA, nothing for float32."""
        if self.dtype == "float32":
            return nullcontext()
        import torch

        return torch.autocast(device_type="cuda", dtype=getattr(torch, self.dtype))

    def batches(self, count: int) -> Iterator[slice]:
        """Slices of `range(count)`, `batch_size` at a time."""
        for start in range(0, count, self.batch_size):
            yield slice(start, min(count, start + self.batch_size))

    def version_suffix(self) -> str:
        """Appended to a metric's cache version: half precision changes the values slightly."""
        return "" if self.dtype == "float32" else f"+{self.dtype}"


class NetworkMetric:
    """Mixin of the paper backends that run a torch network: the `InferenceSettings` they run with.

    Subclasses (with `metrics.metric.Metric`) accept `device`, `dtype` and `batch_size` and read
    `self.inference`; `metrics.evaluate.Evaluator` hands the same settings to each of them.
    """

    inference: InferenceSettings

    def _set_inference(self, device: str | None, dtype: str, batch_size: int) -> None:
        self.inference = InferenceSettings(device, dtype, batch_size)
