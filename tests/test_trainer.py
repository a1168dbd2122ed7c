"""The Trainer driven from another thread, as the app will drive it."""

from __future__ import annotations

import threading
import time

import pytest
import torch

from tbx_tui.config import RunConfig
from tbx_tui.engine import RunControl, RunState, Trainer
from tbx_tui.engine.run.run_folder import make_run_dir
from tbx_tui.engine.run.schedule import lr_factor
from tbx_tui.engine.tasks.classification import classification_metrics


class Recorder:
    def __init__(self):
        self.scalar_log, self.epochs, self.closed = [], [], None

    def open(self, info):
        self.info = info

    def scalars(self, step, values):
        self.scalar_log.append((step, values))

    def histograms(self, step, hists):
        pass

    def epoch_end(self, epoch, step, metrics):
        self.epochs.append((epoch, step, metrics))

    def close(self, result):
        self.closed = result


def wait_until(cond, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


def test_pause_resume_lr_and_stop_from_another_thread(tmp_path):
    cfg = RunConfig(model="mlp", data="synthetic", epochs=100_000, log_every=5,
                    hist_every=0, logdir=str(tmp_path))
    control, rec = RunControl(), Recorder()
    trainer = Trainer(cfg, [rec], control)
    out = {}
    worker = threading.Thread(target=lambda: out.setdefault("r", trainer.run()))
    worker.start()
    try:
        wait_until(lambda: trainer.snapshot().step > 10)
        control.pause()
        wait_until(lambda: trainer.snapshot().state is RunState.PAUSED)
        time.sleep(0.2)
        held = trainer.snapshot().step
        time.sleep(0.5)
        assert trainer.snapshot().step == held  # paused means no steps
        control.set_lr(0.25)
        control.resume()
        wait_until(lambda: any(v["LR"] == 0.25 for _, v in rec.scalar_log))
        snap = trainer.snapshot()
        # Running again; synthetic epochs are short, so it may be evaluating right now.
        assert snap.state in (RunState.RUNNING, RunState.EVALUATING), snap.state
        assert snap.eta_s is not None and snap.loss is not None
    finally:
        control.stop()
        worker.join(60)
    result = out["r"]
    assert result.state is RunState.STOPPED and rec.closed is result
    assert set(result.metrics) == {"Loss/test", "Accuracy/test", "Precision/test", "Recall/test"}
    assert rec.epochs[-1][2] == result.metrics  # the stop still evaluated
    assert (result.run_dir / "model.pt").exists()


def test_stop_while_paused_wakes_the_trainer(tmp_path):
    cfg = RunConfig(model="mlp", data="synthetic", epochs=100_000, logdir=str(tmp_path))
    control = RunControl()
    trainer = Trainer(cfg, [], control)
    worker = threading.Thread(target=trainer.run)
    worker.start()
    wait_until(lambda: trainer.snapshot().step > 0)
    control.pause()
    time.sleep(0.2)
    control.stop()
    worker.join(30)
    assert not worker.is_alive()
    assert trainer.snapshot().state is RunState.STOPPED


def test_an_exception_becomes_a_failed_result_with_its_traceback(tmp_path):
    class Broken(Recorder):
        def histograms(self, step, hists):
            raise RuntimeError("disk on fire")

    cfg = RunConfig(model="mlp", data="synthetic", epochs=1, hist_every=3, logdir=str(tmp_path))
    rec = Broken()
    result = Trainer(cfg, [rec]).run()
    assert result.state is RunState.FAILED
    assert result.message == "RuntimeError: disk on fire"
    assert "disk on fire" in result.error_log.read_text()
    assert rec.closed is result  # sinks are closed even then


def test_lr_schedules():
    cos = RunConfig(lr_schedule="cosine")
    assert lr_factor(cos, 0, 100, 10) == 1.0
    assert lr_factor(cos, 50, 100, 10) == pytest.approx(0.5)
    assert lr_factor(cos, 100, 100, 10) == pytest.approx(0.0)
    step = RunConfig(lr_schedule="step", lr_step_epochs=2, lr_gamma=0.5)
    assert [lr_factor(step, s, 100, 10) for s in (0, 19, 20, 40)] == [1, 1, 0.5, 0.25]


def test_macro_metrics_agree_with_scikit_learn():
    from sklearn.metrics import accuracy_score, precision_score, recall_score

    g = torch.Generator().manual_seed(3)
    y = torch.randint(0, 5, (500,), generator=g)
    pred = torch.where(torch.rand(500, generator=g) < 0.6, y, torch.randint(0, 6, (500,), generator=g))
    c = 6
    cm = torch.bincount(y * c + pred, minlength=c * c).view(c, c)
    m = classification_metrics(cm)
    assert m["Accuracy/test"] == pytest.approx(accuracy_score(y, pred))
    assert m["Precision/test"] == pytest.approx(precision_score(y, pred, average="macro",
                                                                zero_division=0))
    assert m["Recall/test"] == pytest.approx(recall_score(y, pred, average="macro",
                                                          zero_division=0))


def test_run_folders_are_never_reused(tmp_path):
    names = [make_run_dir(str(tmp_path), "run").name for _ in range(3)]
    assert names == ["run", "run-2", "run-3"]


def test_the_first_points_come_early_whatever_log_every_says(tmp_path):
    """The default run logs every 100 steps: without early points its first Loss/train
    point came after ~30 s here. Steps 1, 2, 4, 8, … below log_every are logged too."""
    rec = Recorder()
    cfg = RunConfig(model="simple_cnn", data="digits", epochs=1, log_every=1000,
                    hist_every=0, logdir=str(tmp_path))
    stamps = []
    opened, logged = rec.open, rec.scalars
    rec.open = lambda info: (stamps.append(time.time()), opened(info))
    rec.scalars = lambda step, values: (stamps.append(time.time()), logged(step, values))
    result = Trainer(cfg, [rec], RunControl()).run()
    steps = [s for s, v in rec.scalar_log if "Loss/train" in v]
    assert steps == [0, 1, 3, 7, 15, 31, result.steps - 1] and result.steps == 45  # the last too
    # From the run's start (its folder and event file open) to its first point: one step.
    # (torch's one-off ~4 s import of torch._dynamo happens before the folder exists.)
    assert stamps[1] - stamps[0] < 2.0


def test_the_eta_rate_follows_the_training_time_not_the_last_interval():
    from tbx_tui.progress import EtaRate

    eta = EtaRate(tau=20.0)
    eta.add(100.0, 0.1)            # a warm-up interval: slow and short
    for _ in range(10):
        eta.add(1000.0, 1.0)
    assert 900 < eta.rate <= 1000  # the warm-up is outweighed within seconds
    before = eta.rate
    eta.add(300.0, 0.2)            # one short, slow interval (an evaluation's hiccup)
    assert eta.rate > 0.95 * before  # the ETA moves by under 5%, not 3x
    for _ in range(40):
        eta.add(500.0, 1.0)        # a real slow-down shows within a couple of tau
    assert 500 <= eta.rate < 600
