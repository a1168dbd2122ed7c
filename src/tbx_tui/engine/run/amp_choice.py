"""Whether ``--amp`` pays on this device for this model: timed, not assumed.

bf16 autocast is the fast path on CUDA, but on a CPU it depends on the chip and the
shapes: a user measured 20× slower on an AMX CPU for the tiny GPT, this machine measures
it 1.3–2× faster, and the tutorial's CNN gains ~20%. So before the first step the run
times a few forward+backward passes of its own model on one evaluation batch, each way,
and keeps bf16 only when it is faster. The probe leaves no trace: eval mode (no dropout
draws, no BatchNorm statistics), the RNG states put back, gradients dropped, the
optimizer untouched.
"""

from __future__ import annotations

import time

import torch

WARMUP = 1            # passes each way before timing (allocators, kernel choice)
TIMED = 2             # timed passes each way, alternated; the best of each counts
HOPELESS = 4.0        # bf16 this many times slower on its warm-up: stop probing


def _pass(model, task, x, y, amp: bool, device: torch.device) -> float:
    t0 = time.perf_counter()
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
        _, loss = task.forward(model, x, y)
    loss.backward()
    loss.item()  # a sync point on any device
    return time.perf_counter() - t0


def _first_batch(task, data, batch_size: int):
    batches = data.test_batches(batch_size)
    try:
        x, y = next(iter(batches))
    except StopIteration:
        return None
    finally:
        close = getattr(batches, "close", None)
        if close is not None:
            close()
    if not len(y):
        return None
    return task.inputs(x), y


def amp_pays(model, task, data, batch_size: int, device: torch.device) -> tuple[bool, str]:
    """(use bf16?, the one-line note saying what was measured)."""
    batch = _first_batch(task, data, batch_size)
    if batch is None:
        return True, "--amp: no evaluation batch to time it on; bf16 autocast as asked"
    x, y = batch
    was_training = model.training
    cpu_rng = torch.get_rng_state()
    cuda_rng = torch.cuda.get_rng_state_all() if device.type == "cuda" else None
    model.eval()
    best = {False: float("inf"), True: float("inf")}
    try:
        for amp in (False, True):
            for _ in range(WARMUP):
                best[amp] = min(best[amp], _pass(model, task, x, y, amp, device))
        if best[True] < HOPELESS * best[False]:
            best = {False: float("inf"), True: float("inf")}
            for _ in range(TIMED):
                for amp in (False, True):
                    best[amp] = min(best[amp], _pass(model, task, x, y, amp, device))
    finally:
        model.zero_grad(set_to_none=True)
        model.train(was_training)
        torch.set_rng_state(cpu_rng)
        if cuda_rng is not None:
            torch.cuda.set_rng_state_all(cuda_rng)
    fp32, bf16 = best[False] * 1000, best[True] * 1000
    timing = f"{bf16:.1f} ms vs {fp32:.1f} ms a forward+backward pass on {device.type}"
    if bf16 < fp32:
        return True, f"--amp: bf16 autocast {fp32 / bf16:.2f}× faster than fp32 ({timing})"
    return False, (f"--amp: off, bf16 autocast measured {bf16 / fp32:.2f}× slower than fp32 "
                   f"here ({timing}); training in fp32")
