"""The benchmark scripts still run (tiny sizes; their figures are not checked here)."""

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SHARED_DATA

BENCH = Path(__file__).parent / "benchmarks"


def run(script: str, *args: str) -> str:
    r = subprocess.run([sys.executable, str(BENCH / script), *args], capture_output=True,
                       text=True, timeout=1200)  # a hang guard, not a wait
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_histogram_benchmark_runs():
    out = run("bench_histograms.py", "--numel", "100000", "--rounds", "1")
    assert "tbx-tui summarize + raw" in out and "x" in out.splitlines()[-1]


def test_trainer_benchmark_runs(shared_data):
    out = run("bench_trainer.py", "--data-dir", str(shared_data), "--steps", "200",
              "--rounds", "1")
    assert "tutorial loop" in out and "tbx-tui Trainer" in out


def test_reader_benchmark_runs(tmp_path):
    out = run("bench_reader.py", "--events", "2000", "--keep", str(tmp_path))
    assert "tbx-tui reader" in out and "EventAccumulator" in out and "watch --once" in out
    assert "(exit 0)" in out


def test_redraw_benchmark_runs():
    out = run("bench_redraw.py", "--points", "20000", "--rounds", "1")
    assert "redraw after 100 new points" in out


def test_hostile_logs_benchmark_runs(tmp_path):
    out = run("bench_hostile_logs.py", "--garbage-mb", "1", "--keep", str(tmp_path))
    assert "one 300 KB tag" in out and "tbx-tui" in out and "error:" not in out


def test_event_writer_benchmark_runs():
    out = run("bench_event_writer.py", "--intervals", "5", "--rounds", "1")
    assert "tbx-tui EventFile" in out and "ratio" in out


def test_streaming_benchmark_runs(tmp_path, shared_data):
    # Its memory part (three fresh processes, ~25 s here) is left to the real runs.
    out = run("bench_streaming.py", "--data-dir", str(shared_data), "--images", "600",
              "--rounds", "1", "--steps", "30", "--cache", str(tmp_path),
              "--parts", "loader,train")
    assert "loader, 600 PNGs, 2 workers" in out and "training SimpleCNN" in out


def test_checkpoint_benchmark_runs():
    out = run("bench_checkpoint.py", "--parts", "save,sampler", "--small")
    assert "one checkpoint: SimpleCNN" in out and "at the defaults" in out
    assert "system sample + event write" in out


def test_gpt_benchmark_runs():
    if not (SHARED_DATA / "tinyshakespeare" / "input.txt").is_file():
        pytest.skip("tiny-Shakespeare not found")
    out = run("bench_gpt.py", "--data-dir", str(SHARED_DATA), "--steps", "200", "--rounds",
              "1", "--layers", "1", "--width", "32")
    assert "plain nanoGPT-style loop" in out and "tbx-tui Trainer" in out
    out = run("bench_gpt.py", "--data-dir", str(SHARED_DATA), "--hist", "--rounds", "1",
              "--layers", "1", "--width", "32")
    assert "% of training time (goal <= 5%)" in out


def test_gpt_benchmark_runs_on_an_hf_model():
    pytest.importorskip("transformers", reason="the [llm] extra is not installed")
    if not (SHARED_DATA / "tinyshakespeare" / "input.txt").is_file():
        pytest.skip("tiny-Shakespeare not found")
    out = run("bench_gpt.py", "--data-dir", str(SHARED_DATA), "--hf", "--steps", "200",
              "--rounds", "1", "--layers", "1", "--width", "32", "--batch-size", "4")
    assert "plain loop on the HF model" in out and "tbx-tui Trainer" in out


def test_image_guard_benchmark_runs(shared_data):
    out = run("bench_image_guard.py", "--data-dir", str(shared_data), "--images", "50",
              "--colour", "8", "--rounds", "1")
    assert "with guard" in out and "one tensor" in out


def test_amp_benchmark_runs(shared_data):
    out = run("bench_amp.py", "--data-dir", str(shared_data), "--families", "simple_cnn",
              "--cnn-data", "digits", "--steps", "25", "--rounds", "1")
    assert "simple_cnn: best fp32" in out and "--amp: " in out and "median" in out


def test_key_latency_benchmark_runs():
    pytest.importorskip("pyte", reason="the [dev] extra's terminal emulator")
    out = run("bench_keys.py", "--size", "80x24", "--rounds", "1", "--no-load")
    assert "all keys but escape:" in out and "never shown" not in out, out


def test_ssh_bytes_benchmark_runs(shared_data):
    pytest.importorskip("pyte", reason="the [dev] extra's terminal emulator")
    out = run("bench_ssh_bytes.py", "--data-dir", str(shared_data), "--data", "digits",
              "--log-every", "5", "--sizes", "80x24", "--warmup", "0.5", "--window", "2")
    assert "80x24:" in out and "KB/s over 2 s" in out, out


def test_eval_views_benchmark_runs():
    out = run("bench_eval_views.py", "--data", "digits", "--rounds", "1")
    assert "cost of an epoch" in out and "digits" in out.splitlines()[-2]


def test_view_redraw_benchmark_runs():
    out = run("bench_view_redraw.py", "--rounds", "1", "--classes", "4", "--layers", "3",
              "--sizes", "80x24")
    assert "80x24:" in out and "structure" in out.splitlines()[-1]
