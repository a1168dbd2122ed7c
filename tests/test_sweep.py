"""Sweeps with real runs on digits: a grid, TPE with the median pruner, a kill -9 and its
resume, bad definitions. The study is read back with Optuna itself, the trials' logs with
TensorBoard's reader."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from conftest import accumulator, cli

# mlp: these test the sweep, not the model; simple_cnn made them 3.7x slower
FAST = ("--model", "mlp", "--data", "digits", "--sys-every", "0", "--hist-every", "0")


def study_of(folder: Path) -> optuna.Study:
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    storage = JournalStorage(JournalFileBackend(str(folder / "optuna.journal")))
    return optuna.load_study(study_name=folder.name, storage=storage)


def only_sweep(logdir: Path) -> Path:
    found = [p for p in logdir.iterdir() if (p / "sweep.toml").is_file()]
    assert len(found) == 1, found
    return found[0]


def run_state(run_dir: Path) -> str:
    ea = accumulator(run_dir)

    event = ea.Tensors("tbx/run_state")[-1]
    return event.tensor_proto.string_val[0].decode()


def test_a_grid_runs_each_combination_once_and_the_same_command_continues_it(tmp_path):
    args = ("sweep", *FAST, "--lr", "3e-4,3e-3", "--batch-size", "32,64", "--epochs", "1")
    r = cli(*args, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    folder = only_sweep(tmp_path / "runs")
    study = study_of(folder)
    done = [t for t in study.trials if t.state is TrialState.COMPLETE]
    assert len(study.trials) == 4 and len(done) == 4
    assert {(t.params["lr"], t.params["batch_size"]) for t in done} == {
        (3e-4, 32), (3e-4, 64), (3e-3, 32), (3e-3, 64)}
    best = min(done, key=lambda t: t.value)
    assert f"best: trial {best.number}  loss min = {best.value:.4g}" in r.stdout
    assert "parameter importance" in r.stdout
    for t in done:  # each trial an ordinary run folder, its HParams for TensorBoard
        run = Path(t.user_attrs["run_dir"])
        assert (run / "config.toml").is_file() and (run / "model.pt").is_file()
        assert f"lr = {t.params['lr']}" in (run / "config.toml").read_text()
        assert accumulator(run).Scalars("Loss/test")[-1].value == pytest.approx(t.value)
        assert run_state(run) == "finished"
    again = cli(*args, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert len(study_of(folder).trials) == 4  # nothing ran twice
    assert again.stdout.count(" finished ") == 4  # the kept trials are shown


def test_tpe_with_the_median_pruner_prunes_and_says_so_everywhere(tmp_path):
    r = cli("sweep", *FAST, "--lr", "1e-6..1e-1:log", "--epochs", "4", "--trials", "8",
            "--pruner", "median", "--objective", "Loss/test min", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "sweep runs/sweep-" in r.stdout and "tpe, 8 trials" in r.stdout
    study = study_of(only_sweep(tmp_path / "runs"))
    pruned = [t for t in study.trials if t.state is TrialState.PRUNED]
    assert len(study.trials) == 8 and pruned, [t.state for t in study.trials]
    for t in pruned:
        run = Path(t.user_attrs["run_dir"])
        state = run_state(run)
        assert state.startswith("pruned: at step ") and "Loss/test" in state
        step = max(t.intermediate_values)
        assert f"at step {step:,}" in state
        ea = accumulator(run)
        from tensorboard.plugins.hparams import plugin_data_pb2

        content = ea.PluginTagToContent("hparams")["_hparams_/session_end_info"]
        end = plugin_data_pb2.HParamsPluginData.FromString(content).session_end_info
        assert end.status == 0  # STATUS_UNKNOWN: neither success nor failure
    assert " pruned " in r.stdout


def _checkpointed_trial(folder: Path) -> bool:
    """A trial mid-run with a whole checkpoint (a file being written has another name)."""
    return any(any(p.glob("checkpoints/step-*.pt")) and not (p / "model.pt").exists()
               for p in folder.glob("trial-*"))


def test_a_sweep_killed_mid_trial_resumes_the_cut_off_trial_from_its_checkpoint(tmp_path):
    args = ["sweep", *FAST, "--lr", "3e-4,1e-3,3e-3", "--epochs", "6", "--name", "cut"]
    proc = subprocess.Popen([sys.executable, "-m", "tbx_tui", *args], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    folder = tmp_path / "runs" / "cut"
    deadline = time.monotonic() + 240
    try:
        while not (folder.is_dir() and _checkpointed_trial(folder)):
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    before = study_of(folder)
    cut = [t for t in before.trials if t.state is TrialState.RUNNING]
    assert len(cut) == 1  # left RUNNING by the kill, as Optuna leaves it
    finished_before = {t.number for t in before.trials if t.state is TrialState.COMPLETE}
    cut_dir = folder / f"trial-{cut[0].number:04d}"
    r = cli(*args, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    study = study_of(folder)
    done = [t for t in study.trials if t.state is TrialState.COMPLETE]
    assert sorted(t.params["lr"] for t in done) == [3e-4, 1e-3, 3e-3]  # each once
    retry = [t for t in done if t.user_attrs.get("resumed")]
    assert len(retry) == 1 and retry[0].user_attrs["run_dir"] == str(cut_dir)
    assert retry[0].params == cut[0].params
    assert study.trials[cut[0].number].state is TrialState.FAIL  # the dead attempt
    assert {t.number for t in done} >= finished_before  # kept, not run again
    assert "killed" in r.stdout and "(resumed its run)" in r.stdout
    # The run folder continued: one START at 0 and one at the checkpoint's step.
    ea = accumulator(cut_dir)
    assert ea.Scalars("Loss/test")[-1].step == ea.Scalars("Loss/train")[-1].step
    assert len(ea.Scalars("Loss/test")) == 6 and not list(folder.glob("trial-*-*"))


@pytest.mark.parametrize("args, message", [
    (("--lr", "1e-2..1e-5"), "lr: a range must go from low to high"),
    (("--lr", "1e-4..1e-2", "--sampler", "grid"), "sampler: a grid takes lists only; lr "
                                                  "is a range"),
    (("--lr", "0.1,x"), "lr: 'x' is not a float"),
    (("--lr", "0.1,0.2", "--amp", "yes"), "amp: 'yes' is not a bool"),
    (("--epochs", "2"), "sweep: nothing is swept"),
    (("--lr", "1e-3,1e-2", "--storage", "sqlite:///s.db"), "storage: SQLite is not made"),
    (("--lr", "1e-3,1e-2", "--storage", "postgresql://u:secret@127.0.0.1:1/db"),
     "storage: cannot open postgresql://u:***@127.0.0.1:1/db"),
    (("--lr", "1e-3,1e-2", "--objective", "perplexity", "--epochs", "1"),
     "objective: perplexity min is not what a trial logs"),
])
def test_bad_definitions_are_one_line_exit_2_and_leave_nothing(tmp_path, args, message):
    r = cli("sweep", *FAST, *args, cwd=tmp_path, timeout=120)
    assert r.returncode == 2, (r.stdout, r.stderr)
    line = r.stderr.strip()
    assert line.count("\n") == 0 and line.startswith(f"tbx-tui sweep: error: {message}"), line
    assert "secret" not in r.stderr
    runs = tmp_path / "runs"
    assert not runs.exists() or not any(runs.iterdir())


# ---- several machines: a real PostgreSQL server --------------------------------------------
def _pg_bin() -> Path | None:
    import shutil

    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    return versions[-1].parent if versions else None


@pytest.fixture(scope="module")
def postgres():
    """A PostgreSQL server of its own (Debian's postgresql package; .ci/run installs it),
    on a free port, trusting local connections; stopped at the end."""
    import shutil
    import socket
    import tempfile

    bindir = _pg_bin()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    # The server refuses to run as root: as root, it runs as Debian's postgres user.
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    home = Path(tempfile.mkdtemp(prefix="tbx-pg-", dir="/tmp"))
    home.chmod(0o755)
    data = home / "data"
    data.mkdir()
    if as_user:
        shutil.chown(home, "postgres")
        shutil.chown(data, "postgres")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    run = lambda *a: subprocess.run([*as_user, *a], check=True, capture_output=True,  # noqa: E731
                                    text=True, timeout=120)
    run(str(bindir / "initdb"), "-D", str(data), "-U", "tbx", "--auth=trust", "-E", "UTF8")
    run(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(home / "log"), "-w", "-t", "60",
        "-o", f"-p {port} -k {home} -c listen_addresses=127.0.0.1", "start")
    try:
        yield f"postgresql+psycopg://tbx@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate",
                        "stop"], capture_output=True, timeout=60)
        shutil.rmtree(home, ignore_errors=True)


def test_two_processes_share_one_study_through_postgresql_and_no_trial_runs_twice(
        tmp_path, postgres):
    lrs = "1e-4,3e-4,1e-3,3e-3,1e-2,3e-2"
    # simple_cnn: trials long enough that the second process joins before the first has
    # run them all (with mlp it had: every trial ran in the first)
    first = subprocess.Popen(
        [sys.executable, "-m", "tbx_tui", "sweep", *FAST, "--model", "simple_cnn", "--lr",
         lrs, "--epochs", "2",
         "--name", "shared", "--storage", postgres, "--logdir", str(tmp_path / "a")],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not list((tmp_path / "a" / "shared").glob("trial-*")):  # the study exists
        assert first.poll() is None and time.monotonic() < deadline, first.communicate()
        time.sleep(0.05)
    # "Another machine": only the storage and the sweep's name; the definition comes from
    # the study.
    second = cli("sweep", "--join", "shared", "--storage", postgres,
                 "--logdir", str(tmp_path / "b"), cwd=tmp_path)
    out, err = first.communicate(timeout=300)
    assert first.returncode == 0 and second.returncode == 0, (err, second.stderr)
    study = optuna.load_study(study_name="shared", storage=postgres)
    done = [t for t in study.trials if t.state is TrialState.COMPLETE]
    assert len(study.trials) == 6 and len(done) == 6
    assert sorted(t.params["lr"] for t in done) == sorted(float(v) for v in lrs.split(","))
    workers = {t.user_attrs["worker"] for t in done}
    assert len(workers) == 2  # both processes ran trials
    homes = {Path(t.user_attrs["run_dir"]).parent for t in done}
    assert homes == {(tmp_path / "a" / "shared").resolve(), (tmp_path / "b" / "shared").resolve()}
    assert (tmp_path / "b" / "shared" / "sweep.toml").read_text() == \
        (tmp_path / "a" / "shared" / "sweep.toml").read_text()
    # Resumed without its database, it would start a second study in a journal: refused.
    r = cli("sweep", "--resume", str(tmp_path / "a" / "shared"), cwd=tmp_path)
    assert r.returncode == 2 and "give the --storage it was started with" in r.stderr
    assert not (tmp_path / "a" / "shared" / "optuna.journal").exists()


# ---- the sweep view -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_sweep(tmp_path_factory) -> Path:
    """A finished TPE sweep of 5 digits trials over a log range and a list."""
    home = tmp_path_factory.mktemp("sweepview")
    r = cli("sweep", *FAST, "--lr", "1e-4..1e-1:log", "--batch-size", "32,64", "--epochs",
            "1", "--trials", "5", "--name", "view", cwd=home)
    assert r.returncode == 0, r.stderr
    return home / "runs" / "view"


@pytest.mark.parametrize("size", [(80, 24), (200, 60)])
async def test_the_sweep_view_draws_parallel_coordinates_best_so_far_and_importance(
        small_sweep, size):
    from test_app import wait_for
    from test_watch import app_for
    from tbx_tui.tui.screens.sweep import SweepScreen
    from tbx_tui.tui.widgets.cached_plot import CachedPlot

    study = study_of(small_sweep)
    best = min((t for t in study.trials if t.state is TrialState.COMPLETE),
               key=lambda t: t.value)
    async with app_for(small_sweep).run_test(size=size) as pilot:
        await pilot.pause(0.2)
        await pilot.press("w")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, SweepScreen))
        view = pilot.app.screen
        await wait_for(pilot, lambda: view.importance)  # Optuna's evaluator, on a thread
        await pilot.pause(0.2)
        head = str(view.query_one("#sw-head").render())
        assert head.startswith("sweep view: tpe, objective loss min, pruner none · 5 finished")
        assert f"best: trial {best.number} = {best.value:.4g}" in head
        parallel = view.query_one("#sw-parallel", CachedPlot)
        drawn = str(parallel.render())
        assert parallel.error is None and "batch_size" in drawn and "lr (log)" in drawn
        assert "loss" in drawn and "64" in drawn and "32" in drawn  # the list axis's ends
        curve = view.query_one("#sw-best", CachedPlot)
        assert curve.error is None and "trial" in str(curve.render())
        bars = str(view.query_one("#sw-importance").render())
        assert bars.startswith("importance (Optuna)") and "lr" in bars and "█" in bars
        assert set(view.importance) == {"lr", "batch_size"}
        assert sum(view.importance.values()) == pytest.approx(1.0)
        await pilot.press("H")  # the trials table: the HParams view over the same runs
        assert type(pilot.app.screen).__name__ == "HParamsScreen"


async def test_w_outside_a_sweep_says_so_and_stays(tmp_path):
    from logfiles import tensorboardx_run
    from test_watch import app_for

    tensorboardx_run(tmp_path / "runs" / "plain", steps=5)
    async with app_for(tmp_path / "runs").run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.2)
        before = pilot.app.screen
        await pilot.press("w")
        await pilot.pause(0.2)
        assert pilot.app.screen is before
        assert any("no sweep here" in str(n.message) for n in pilot.app._notifications)


async def test_the_form_takes_lists_and_starts_a_sweep_the_dashboard_follows(tmp_path):
    """Lists in two fields: 'Start sweep', a tbx-tui sweep in its own process, its trials
    on the dashboard, its end in the status line, the sweep view on w."""
    from test_app import wait_for
    from tbx_tui.config import RunConfig
    from tbx_tui.tui.app import make_app
    from tbx_tui.tui.screens.setup import SetupScreen
    from tbx_tui.tui.screens.sweep import SweepScreen

    config = RunConfig(model="mlp", data="digits", epochs=1, sys_every=0, hist_every=0,
                       logdir=str(tmp_path / "runs"))
    app = make_app("train", config=config)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        form = app.screen
        assert isinstance(form, SetupScreen)
        form.query_one("#f-lr").value = "1e-3,3e-3"
        form.query_one("#f-batch_size").value = "x,32"
        await pilot.pause()
        assert "✗" in str(form.query_one("#e-batch_size").render())  # checked as typed
        form.query_one("#f-batch_size").value = "32..64:pow2"
        await pilot.pause()
        assert str(form.query_one("#e-lr").render()).startswith("swept: 2 values")
        assert str(form.query_one("#start").label) == "Start sweep"
        await pilot.press("ctrl+s")
        screen = app.screen
        session = screen.session
        assert hasattr(session, "sweep")
        await wait_for(pilot, lambda: session.ended is not None, timeout=180)
        assert session.ended == "finished", session.last_line()
        await wait_for(pilot, lambda: len(screen.store.runs) == 4)  # 2 lr × (32, 64)
        await pilot.pause(1.2)
        status = str(screen.query_one("#status").render())
        assert "finished" in status and "4 finished" in status and "best trial" in status
        await pilot.press("w")
        await wait_for(pilot, lambda: isinstance(app.screen, SweepScreen))
        assert "4 finished" in str(app.screen.query_one("#sw-head").render())
    folder = session.folder
    study = study_of(folder)
    assert sorted((t.params["lr"], t.params["batch_size"]) for t in study.trials) == [
        (1e-3, 32), (1e-3, 64), (3e-3, 32), (3e-3, 64)]


def test_on_a_terminal_a_live_line_follows_the_running_trial(tmp_path):
    import pty

    main, child = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "tbx_tui", "sweep", *FAST, "--lr",
                             "1e-3,3e-3", "--epochs", "3"], cwd=tmp_path, stdin=child,
                            stdout=child, stderr=child, close_fds=True)
    os.close(child)
    out = b""
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    assert proc.wait(timeout=240) == 0, out[-2000:]
    os.close(main)
    text = out.decode()
    assert "\r\x1b[2Ktrial 0 epoch " in text and " step " in text  # the live line
    assert "trials: 2 complete" in text
    rows = [ln.split("\x1b[2K")[-1] for ln in text.splitlines()]
    assert sum(1 for ln in rows if " finished " in ln) == 2  # the rows are whole lines


def test_the_journal_write_lock_never_dangles_under_a_relative_logdir(tmp_path,
                                                                       monkeypatch):
    """Optuna's lock is a symlink to the journal, and a relative target resolves from the
    link's folder. A dangling lock left by a writer killed while holding it was spun on
    forever at 100% CPU (Optuna's stat fails and it retries without sleeping)."""
    from tbx_tui.sweep.study import storage_for

    monkeypatch.chdir(tmp_path)
    resolves, symlink = [], os.symlink

    def noting(src, dst, *args, **kwargs):
        symlink(src, dst, *args, **kwargs)
        resolves.append(os.path.exists(dst))  # follows the link: False if it dangles

    monkeypatch.setattr(os, "symlink", noting)
    folder = Path("runs") / "rel"
    folder.mkdir(parents=True)
    optuna.create_study(study_name="rel", storage=storage_for(folder, ""))
    assert resolves and all(resolves)


def test_a_journal_torn_by_a_kill_mid_write_is_mended_not_fatal(tmp_path):
    """Optuna skips a last record without its newline, then glues the next one to it: the
    journal would be unreadable for good. The torn record is cut off before reopening."""
    args = ("sweep", *FAST, "--lr", "1e-3,3e-3", "--epochs", "1", "--name", "torn")
    assert cli(*args, cwd=tmp_path).returncode == 0
    journal = tmp_path / "runs" / "torn" / "optuna.journal"
    journal.write_bytes(journal.read_bytes()[:-25])  # the last trial's end, half written
    for _ in range(2):  # the second reopen reads what the first appended
        r = cli(*args, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
    done = [t for t in study_of(journal.parent).trials if t.state is TrialState.COMPLETE]
    assert sorted(t.params["lr"] for t in done) == [1e-3, 3e-3]
    assert "1 killed and retried" in r.stdout
    garbage = journal.read_bytes() + b"garbage\xff\n"
    journal.write_bytes(garbage)  # damaged in the middle: one line, exit 2, nothing lost
    r = cli(*args, cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert "optuna.journal: cannot be read" in r.stderr
    assert journal.read_bytes() == garbage


async def test_a_hostile_sweep_file_reaches_the_view_as_text(small_sweep, tmp_path):
    """sweep.toml is anyone's file: a swept value holding an escape sequence is shown as
    text on the parallel-coordinates axis, never sent to the terminal."""
    import shutil

    from test_app import wait_for
    from test_watch import app_for
    from tbx_tui.tui.screens.sweep import SweepScreen

    folder = tmp_path / "view"
    shutil.copytree(small_sweep, folder)
    toml = (folder / "sweep.toml").read_text()
    (folder / "sweep.toml").write_text(toml.replace("[swept]\n", '[swept]\nlora_targets = '
                                                    '["q\\u001b[2Jx", "k"]\n'))
    async with app_for(folder).run_test(size=(120, 30)) as pilot:
        await pilot.pause(0.2)
        await pilot.press("w")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, SweepScreen))
        await pilot.pause(0.3)
        view = pilot.app.screen
        drawn = view.query_one("#sw-parallel").render()
        assert "\x1b" not in drawn.plain and "q\\x1b[2Jx" in drawn.plain
        assert "lora_targets" in drawn.plain
