"""Histogram summaries computed where the tensors live.

tensorboardX's ``add_histogram`` copies the whole tensor to the host and bins it in numpy
float64 against ~1,500 exponential buckets. Here each tensor is binned on its own device
with ``torch.histc``; only ``bins + 5`` numbers per tensor cross to the host, and all the
tensors of one call share two host syncs (one for the ranges, one for the counts).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

DEFAULT_BINS = 64
# float32 histc counts are exact only up to 2**24; bin chunks of at most that many
# elements and add their counts in float64 so a 25M-element tensor is counted exactly.
_GPU_CHUNK = 1 << 24
# On the CPU, torch.histc is serial (160 ms for 25M elements here); scaling a chunk into a
# reused cache-sized buffer and bincount-ing it took 42 ms. 2**18 floats = 1 MiB.
_CPU_CHUNK = 1 << 18


@dataclass(frozen=True)
class Histogram:
    """Fields of TensorBoard's HistogramProto. ``bucket_limits[i]`` is the right edge of
    bucket i; bucket 0 is empty and its limit is the left edge of the range."""

    min: float
    max: float
    num: int
    sum: float
    sum_squares: float
    bucket_limits: list[float]
    bucket_counts: list[float]


def _counts(flat: torch.Tensor, bins: int, lo: float, hi: float) -> torch.Tensor:
    """Bucket counts over [lo, hi] (float64, exact)."""
    if flat.device.type != "cpu":
        total = torch.zeros(bins, dtype=torch.float64, device=flat.device)
        for chunk in flat.split(_GPU_CHUNK):
            total += torch.histc(chunk, bins=bins, min=lo, max=hi).double()
        return total
    scale = bins / (hi - lo)
    size = min(_CPU_CHUNK, flat.numel())
    scaled, index = torch.empty(size), torch.empty(size, dtype=torch.int32)
    total = torch.zeros(bins, dtype=torch.long)
    for chunk in flat.split(size):
        f, i = scaled[: chunk.numel()], index[: chunk.numel()]
        torch.mul(chunk, scale, out=f).sub_(lo * scale)
        i.copy_(f).clamp_(0, bins - 1)  # truncation = floor here (f >= 0); max -> last bin
        total += torch.bincount(i, minlength=bins)
    return total.double()


def summarize(tensors: dict[str, torch.Tensor], bins: int = DEFAULT_BINS) -> dict[str, Histogram]:
    """Histograms of many tensors. Non-finite elements are left out of the buckets and the
    moments (TensorBoard cannot draw them); a tensor with none finite is left out."""
    flats = {k: t.detach().reshape(-1).float() for k, t in tensors.items() if t.numel()}
    if not flats:
        return {}
    # Sync 1: every range at once.
    ranges = torch.stack([torch.stack(torch.aminmax(f)) for f in flats.values()]).cpu()
    rows, metas = [], []
    for (name, flat), (lo, hi) in zip(flats.items(), ranges.tolist()):
        if not (math.isfinite(lo) and math.isfinite(hi)):
            flat = flat[torch.isfinite(flat)]  # rare: pay for the mask only here
            if not flat.numel():
                continue
            lo, hi = (float(v) for v in torch.aminmax(flat))
        vmin, vmax = lo, hi
        if lo == hi:
            lo, hi = lo - 0.5, hi + 0.5  # one value: give it a bucket of width 1
        counts = _counts(flat, bins, lo, hi)
        moments = torch.stack([flat.sum(), torch.dot(flat, flat)]).double()
        rows.append(torch.cat([moments, counts]))
        metas.append((name, lo, hi, vmin, vmax, flat.numel()))
    if not rows:
        return {}
    # Sync 2: counts and moments of every tensor in one copy.
    host = torch.stack(rows).cpu().tolist()
    out = {}
    for (name, lo, hi, vmin, vmax, num), row in zip(metas, host):
        step = (hi - lo) / bins
        edges = [lo + step * i for i in range(1, bins)] + [hi]
        out[name] = Histogram(
            min=vmin, max=vmax, num=num, sum=row[0], sum_squares=row[1],
            bucket_limits=[lo] + edges, bucket_counts=[0.0] + row[2:],
        )
    return out

