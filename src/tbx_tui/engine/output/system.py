"""System and GPU metrics, sampled on a thread and logged as ``sys/…`` scalars into the
run's own event file, so ``tbx-tui watch`` over SSH and TensorBoard see them with no
extra process.

CPU and memory come from psutil; NVIDIA GPUs from nvidia-ml-py (NVML), when its library
is there; torch's peak allocation on CUDA. Without NVIDIA GPUs: CPU and memory only, no
error. A failing sample is skipped; the sampler never takes the run down.
"""

from __future__ import annotations

import threading
from typing import Callable

GIB = float(1 << 30)


class SystemSampler:
    def __init__(self, period_s: float, step: Callable[[], int],
                 emit: Callable[[int, dict[str, float]], None], cuda: bool = False):
        self.period_s = period_s
        self._step, self._emit, self._cuda = step, emit, cuda
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tbx-system", daemon=True)
        self._gpus: list = []
        self.failures = 0

    def start(self) -> "SystemSampler":
        import psutil

        self._process = psutil.Process()
        self._process.cpu_percent(None)  # the first call only starts the measurement
        psutil.cpu_percent(None)
        self._gpus = _nvml_handles()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        if self._gpus:
            import pynvml

            try:
                pynvml.nvmlShutdown()
            except Exception:
                pass

    def _run(self) -> None:
        while not self._stop.wait(self.period_s):
            try:
                values = self.sample()
                self._emit(self._step(), values)
            except Exception:  # a sensor that fails, a disk that fills: skip this sample
                self.failures += 1

    def sample(self) -> dict[str, float]:
        import psutil

        memory = psutil.virtual_memory()
        values = {
            "sys/cpu_percent": self._process.cpu_percent(None),  # 100 = one core
            "sys/system_cpu_percent": psutil.cpu_percent(None),  # of all cores
            "sys/ram_used_gib": (memory.total - memory.available) / GIB,
            "sys/ram_total_gib": memory.total / GIB,
            "sys/rss_gib": self._process.memory_info().rss / GIB,
        }
        for i, handle in enumerate(self._gpus):
            values.update(_gpu_values(i, handle))
        if self._cuda:
            import torch

            values["sys/torch_max_allocated_gib"] = torch.cuda.max_memory_allocated() / GIB
        return values


def _nvml_handles() -> list:
    """NVML device handles; none (and no error) without the library or a GPU."""
    try:
        import pynvml

        pynvml.nvmlInit()
        return [pynvml.nvmlDeviceGetHandleByIndex(i)
                for i in range(pynvml.nvmlDeviceGetCount())]
    except Exception:  # no nvidia-ml-py, no driver library, no device
        return []


def _gpu_values(i: int, handle) -> dict[str, float]:
    import pynvml

    out = {}
    readings = (
        ("util_percent", lambda: pynvml.nvmlDeviceGetUtilizationRates(handle).gpu),
        ("mem_used_gib", lambda: pynvml.nvmlDeviceGetMemoryInfo(handle).used / GIB),
        ("mem_total_gib", lambda: pynvml.nvmlDeviceGetMemoryInfo(handle).total / GIB),
        ("temperature_c", lambda: pynvml.nvmlDeviceGetTemperature(
            handle, pynvml.NVML_TEMPERATURE_GPU)),
        ("power_w", lambda: pynvml.nvmlDeviceGetPowerUsage(handle) / 1000.0),
    )
    for name, read in readings:
        try:  # some boards report no power or no temperature
            out[f"sys/gpu{i}/{name}"] = float(read())
        except Exception:
            pass
    return out
