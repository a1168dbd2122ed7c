import numpy as np
import pytest
import torch

from tbx_tui.engine.output.histograms import summarize


def test_matches_numpy_counts_and_moments():
    t = torch.randn(100_003, generator=torch.Generator().manual_seed(1)) * 3 + 1
    h = summarize({"t": t}, bins=40)["t"]
    a = t.double().numpy()
    assert (h.min, h.max, h.num) == (a.min(), a.max(), a.size)
    assert h.sum == pytest.approx(a.sum(), rel=1e-5, abs=1e-2)
    assert h.sum_squares == pytest.approx((a * a).sum(), rel=1e-5)
    counts, edges = np.histogram(a, bins=40, range=(a.min(), a.max()))
    assert h.bucket_counts[0] == 0 and h.bucket_limits[0] == pytest.approx(edges[0])
    assert h.bucket_limits[1:] == pytest.approx(edges[1:].tolist())
    # Values on a bucket edge may fall either side with float32 rounding; nothing else.
    assert np.abs(np.array(h.bucket_counts[1:]) - counts).sum() <= 4
    assert sum(h.bucket_counts) == a.size


def test_counts_stay_exact_past_float32_range():
    t = torch.zeros((1 << 24) + 7)  # every element in one bucket: 16,777,223 counts
    h = summarize({"z": t})["z"]
    assert max(h.bucket_counts) == (1 << 24) + 7 and h.min == h.max == 0.0


def test_non_finite_values_are_left_out_and_all_nan_is_skipped():
    t = torch.tensor([1.0, 2.0, float("nan"), float("inf"), 3.0])
    out = summarize({"t": t, "nan": torch.full((4,), float("nan")), "empty": torch.zeros(0)})
    assert set(out) == {"t"}
    assert (out["t"].num, out["t"].min, out["t"].max, out["t"].sum) == (3, 1.0, 3.0, 6.0)


def test_written_histogram_reads_back_in_tensorboard(tmp_path):
    from tensorboardX import SummaryWriter

    from conftest import accumulator

    t = torch.linspace(-2, 2, 1001)
    h = summarize({"w": t}, bins=8)["w"]
    with SummaryWriter(str(tmp_path)) as w:
        w.add_histogram_raw("w", h.min, h.max, h.num, h.sum, h.sum_squares, h.bucket_limits,
                            h.bucket_counts, 5)
    got = accumulator(tmp_path).Histograms("w")[0]
    assert got.step == 5 and got.histogram_value.num == 1001
    assert list(got.histogram_value.bucket) == h.bucket_counts


def test_rebin_spreads_uneven_buckets_evenly():
    from tbx_tui.logs.series import rebin

    left = np.array([0.0, 1.0, 3.0])
    right = np.array([1.0, 3.0, 4.0])
    counts = np.array([2.0, 4.0, 2.0])  # uniform density 2 per unit over [0, 4]
    centres, spread = rebin(left, right, counts, 8)
    assert np.allclose(centres, np.arange(8) * 0.5 + 0.25)
    assert np.allclose(spread, 1.0) and spread.sum() == 8.0
