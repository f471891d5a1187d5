"""Faults: a training process killed at random moments, a full or unwritable disk, hostile checkpoints and
configs. Nothing is lost, nothing half-written is taken as good, nothing is unpickled, nothing is written
outside the run directory.

The download cut half way and the IDX reader's fuzzing live with the data module (tests/test_data.py:
test_download_cut_half_way_leaves_nothing_and_next_fetch_completes, test_fuzz_read_idx_only_value_errors).

The kill moments are random on every run; set SPIKEVISION_FAULT_SEED to replay a failing run's moments
(each failure message names its seed).
"""

from __future__ import annotations

import ast
import dataclasses
import errno
import json
import os
import pickle
import random
import resource
import shutil
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from safetensors.torch import save_file
from test_train import STEPS_PER_EPOCH, assert_same_run, checkpoint_step, cli_args, reference_run  # noqa: F401

import spikevision
from spikevision import cli
from spikevision.runs import checkpoint, config, rundir, train
from spikevision.runs.checkpoint import CHECKPOINT_NAME, read_checkpoint

SOURCE = Path(spikevision.__file__).parent
KILLS = 5  # SIGKILLs at random moments per test run (issue 7: at least 5)
WRITE_KILLS = 2  # and SIGKILLs aimed at the middle of a checkpoint write


def subprocess_env() -> dict:
    # The same thread count as this process, so the subprocess's arithmetic matches the in-process reference.
    return {**os.environ, "OMP_NUM_THREADS": str(torch.get_num_threads())}


def spawn(args: list[str], **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "spikevision", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=subprocess_env(), **kwargs)


def wait_until(condition, proc: subprocess.Popen, timeout: float = 120) -> bool:
    """Poll ``condition`` until it holds (True) or ``proc`` has exited (False)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            return False
        assert time.monotonic() < deadline, "the training process made no progress"
        time.sleep(0.005)
    return True


def temporaries(run_dir: Path) -> list[str]:
    return sorted(p.name for p in run_dir.iterdir() if p.name.endswith(".tmp") or ".tmp." in p.name)


def inode(path: Path) -> int | None:
    try:
        return path.stat().st_ino
    except FileNotFoundError:
        return None


# --------------------------------------------------------------------------- SIGKILL


class KillLog:
    """What each kill hit, for the failure message and docs/RELIABILITY.md."""

    def __init__(self, seed: int):
        self.seed, self.kills, self.rows = seed, 0, []

    def add(self, episode: int, phase: str, delay: float, run_dir: Path) -> None:
        ckpt = run_dir / CHECKPOINT_NAME
        state = f"checkpoint at step {checkpoint_step(run_dir)}" if ckpt.is_file() else "no checkpoint yet"
        if (run_dir / "summary.json").is_file():
            state += ", summary written"
        if temporaries(run_dir):
            state += f", half-written temporaries {temporaries(run_dir)}"
        self.kills += 1
        self.rows.append(f"kill {self.kills}: episode {episode}, {phase}, {delay:.2f} s in -> {state}")

    def __str__(self) -> str:
        return f"SPIKEVISION_FAULT_SEED={self.seed}\n" + "\n".join(self.rows)

    __repr__ = __str__  # pytest shows an assertion's message object by its repr


def kill_at_random_moment(proc: subprocess.Popen, started, windows: tuple[float, float],
                          rng: random.Random) -> float | None:
    """SIGKILL ``proc`` a random time after ``started()`` holds; None if it finished first.

    Half the moments fall in the training window (steps, checkpoint writes, evaluations), half anywhere
    up to the exit (the figures too): the training window is where the state worth keeping changes.
    """
    if not wait_until(started, proc):
        return None
    delay = rng.uniform(0, rng.choice(windows))
    try:
        proc.wait(timeout=delay)
        return None  # finished before the moment came
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return delay


def kill_mid_write(proc: subprocess.Popen, run_dir: Path, after_first: bool) -> float | None:
    """SIGKILL ``proc`` the moment a checkpoint's temporary file is seen, i.e. during the write.

    The first write (no checkpoint on disk yet), or with ``after_first`` one that replaces a checkpoint.
    """
    ready = run_dir / (CHECKPOINT_NAME if after_first else "config.json")
    if not wait_until(ready.is_file, proc):
        return None
    tick = time.monotonic()
    pattern = f".{CHECKPOINT_NAME}.*.tmp*"  # atomic_path: .NAME.XXXX.tmp.SUFFIX
    while not any(run_dir.glob(pattern)):  # no sleep: the write lasts milliseconds
        if proc.poll() is not None:
            return None
    proc.kill()
    proc.communicate()
    return time.monotonic() - tick


def assert_loadable(run_dir: Path, log: KillLog) -> None:
    """After a kill: the config reads, and any checkpoint on disk is whole, finite and fits the model."""
    config_ = train.load_run_config(run_dir)
    assert config_.train.epochs == 2, log
    if (run_dir / CHECKPOINT_NAME).is_file():
        _, model = rundir.load_run(run_dir)
        assert all(torch.isfinite(p).all() for p in model.parameters()), log
        assert 0 < checkpoint_step(run_dir) <= 2 * STEPS_PER_EPOCH, log


def test_sigkill_at_random_moments_loses_nothing_and_resume_is_bitwise_equal(tmp_path, mnist_root):
    seed = int(os.environ.get("SPIKEVISION_FAULT_SEED") or random.SystemRandom().randrange(2**32))
    rng, log = random.Random(seed), KillLog(seed)
    # The uninterrupted run, started the same way as the killed ones: what each of them must end up equal to
    # (that the command line learns what fit() does in-process is tested in test_train.py). It also times a
    # run here and now from its config.json to its summary.json (the training window: steps, checkpoints,
    # evaluations) and to its exit (plus the figures): the windows for the kills.
    uninterrupted = tmp_path / "uninterrupted"
    proc = spawn(cli_args(uninterrupted, mnist_root))
    assert wait_until(lambda: (uninterrupted / "config.json").is_file(), proc)
    tick = time.monotonic()
    assert wait_until(lambda: (uninterrupted / "summary.json").is_file(), proc)
    training = time.monotonic() - tick
    assert proc.wait(timeout=300) == 0, proc.communicate()
    whole = time.monotonic() - tick

    episode = random_kills = write_kills = 0
    while random_kills < KILLS or write_kills < WRITE_KILLS:
        episode += 1
        assert episode <= 3 * (KILLS + WRITE_KILLS), f"too few kills landed in time\n{log}"
        run_dir = tmp_path / f"run{episode}"
        proc = spawn(cli_args(run_dir, mnist_root))
        mid_write = write_kills < WRITE_KILLS and (episode % 3 == 0 or random_kills >= KILLS)
        if mid_write:
            delay = kill_mid_write(proc, run_dir, after_first=write_kills % 2 == 1)
        else:
            delay = kill_at_random_moment(proc, lambda run_dir=run_dir: (run_dir / "config.json").is_file(),
                                          (training, whole), rng)
        if delay is None:
            if not mid_write:
                # The run ended before its moment came: the machine is faster now than when it was timed
                # (load comes and goes); narrow the windows so that the next moments land inside a run.
                training, whole = training / 2, whole / 2
            continue
        log.add(episode, "fresh run, during a checkpoint write" if mid_write else "fresh run", delay, run_dir)
        write_kills += mid_write
        random_kills += not mid_write
        assert_loadable(run_dir, log)
        resume = ["train", "--out", str(run_dir), "--root", str(mnist_root), "--resume", "--quiet"]
        if episode % 2 == 0:
            # Kill the resumed run too, once it has rewritten metrics.jsonl (its first write).
            before = inode(run_dir / "metrics.jsonl")
            proc = spawn(resume)
            delay = kill_at_random_moment(proc, lambda run_dir=run_dir, before=before: inode(
                run_dir / "metrics.jsonl") != before, (training, whole), rng)
            if delay is not None:
                log.add(episode, "resumed run", delay, run_dir)
                random_kills += 1
                assert_loadable(run_dir, log)
        done = subprocess.run([sys.executable, "-m", "spikevision", *resume], capture_output=True, text=True,
                              env=subprocess_env(), timeout=300)
        assert done.returncode == 0, f"{done.stderr}\n{log}"
        assert not temporaries(run_dir), log  # resume clears what the kills left half-written
        try:
            assert_same_run(run_dir, uninterrupted, across_processes=True)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{log}") from None
    print(f"\n{log.kills} SIGKILLs survived:\n{log}")


# --------------------------------------------------------------------------- full or unwritable disk


def run_cli(capsys, argv: list[str]) -> tuple[int, str, str]:
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, out: str, err: str, *needles: str) -> None:
    assert code == 2 and out == "", (code, out, err)
    assert err.count("\n") == 1 and err.startswith("spikevision ") and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err


class WrappedFile:
    """A real open file with some of its methods replaced by a test: everything else goes to the file."""

    def __init__(self, f):
        self.f = f

    def __getattr__(self, name):
        return getattr(self.f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()


def test_disk_full_half_way_through_a_checkpoint_keeps_the_previous_one(tmp_path, mnist_root, reference_run,
                                                                        monkeypatch, capsys):
    run_dir = tmp_path / "run"
    real_fdopen = os.fdopen
    writes = []

    class HalfWrite(WrappedFile):
        """A file that takes half of what it is given, then finds the disk full."""

        def write(self, payload):
            self.f.write(payload[: len(payload) // 2])
            self.f.flush()
            raise OSError(errno.ENOSPC, "No space left on device")

    def fdopen(fd, *args, **kwargs):
        f = real_fdopen(fd, *args, **kwargs)
        if f".{CHECKPOINT_NAME}." in os.readlink(f"/proc/self/fd/{fd}"):
            writes.append(fd)
            if len(writes) == 5:  # the 5th checkpoint: step 5
                return HalfWrite(f)
        return f

    monkeypatch.setattr(os, "fdopen", fdopen)
    code, out, err = run_cli(capsys, cli_args(run_dir, mnist_root))
    assert_one_line_error(code, out, err, f"could not write {run_dir / CHECKPOINT_NAME}: No space left on device",
                          "the previous file is unchanged")
    monkeypatch.undo()
    assert checkpoint_step(run_dir) == 4 and not temporaries(run_dir)
    code, out, err = run_cli(capsys, ["train", "--out", str(run_dir), "--root", str(mnist_root), "--resume",
                                      "--quiet"])
    assert code == 0, err
    assert_same_run(run_dir, reference_run)


def test_disk_full_while_logging_metrics_is_one_clear_line_and_resumable(tmp_path, mnist_root, reference_run,
                                                                        monkeypatch, capsys):
    run_dir = tmp_path / "run"

    class FullAfter(WrappedFile):
        """A file that takes ``lines`` writes, then finds the disk full."""

        def __init__(self, f, lines):
            super().__init__(f)
            self.lines = lines

        def write(self, text):
            self.lines -= 1
            if self.lines < 0:
                raise OSError(errno.ENOSPC, "No space left on device")
            return self.f.write(text)

    monkeypatch.setattr(train, "open", lambda *a, **k: FullAfter(open(*a, **k), 6), raising=False)
    code, out, err = run_cli(capsys, cli_args(run_dir, mnist_root))
    assert_one_line_error(code, out, err, f"could not write {run_dir / 'metrics.jsonl'}: No space left on device",
                          "resume with --resume")
    monkeypatch.undo()
    assert checkpoint_step(run_dir) == 6  # the step whose line could not be logged was not checkpointed
    code, _, err = run_cli(capsys, ["train", "--out", str(run_dir), "--root", str(mnist_root), "--resume", "--quiet"])
    assert code == 0, err
    assert_same_run(run_dir, reference_run)


def test_a_real_file_size_limit_refuses_the_checkpoint_cleanly(tmp_path, mnist_root, reference_run):
    # The kernel itself refuses the write (RLIMIT_FSIZE -> EFBIG), in a separate process.
    run_dir = tmp_path / "run"
    limit = 64 * 1024  # config.json and metrics.jsonl fit; a checkpoint (~0.3 MB) does not

    def limit_file_size():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG instead of being killed

    proc = spawn(cli_args(run_dir, mnist_root), preexec_fn=limit_file_size)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert f"could not write {run_dir / CHECKPOINT_NAME}: File too large; the previous file is unchanged" in err
    assert not (run_dir / CHECKPOINT_NAME).exists() and not temporaries(run_dir)
    done = subprocess.run([sys.executable, "-m", "spikevision", "train", "--out", str(run_dir), "--root",
                           str(mnist_root), "--resume", "--quiet"], capture_output=True, text=True,
                          env=subprocess_env(), timeout=300)
    assert done.returncode == 0, done.stderr
    assert_same_run(run_dir, reference_run, across_processes=True)  # trained in another process


@pytest.mark.parametrize("where", ["out is a file", "out is under a file", "config.json is a directory"])
def test_an_unwritable_run_directory_is_one_clear_line(tmp_path, mnist_root, capsys, where):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a directory should be\n")
    out_dir, needle = {
        "out is a file": (blocker, f"the run directory {blocker} is a file; choose another --out"),
        "out is under a file": (blocker / "run", f"cannot create the run directory {blocker / 'run'}: Not a directory"),
        "config.json is a directory": (tmp_path / "run", "could not write"),
    }[where]
    if where == "config.json is a directory":
        (out_dir / "config.json").mkdir(parents=True)
        needle = f"could not write {out_dir / 'config.json'}: Is a directory"
    code, out, err = run_cli(capsys, cli_args(out_dir, mnist_root))
    assert_one_line_error(code, out, err, needle)
    assert blocker.read_text() == "a file where a directory should be\n"
    assert not (tmp_path / "run" / CHECKPOINT_NAME).exists()


# --------------------------------------------------------------------------- never unpickled


def test_the_source_never_unpickles(tmp_path):
    unpicklers = {"pickle", "cPickle", "dill", "cloudpickle", "joblib", "shelve", "marshal", "_pickle"}
    problems = []
    files = sorted(SOURCE.rglob("*.py"))
    assert len(files) > 10
    for path in files:
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            where = f"{path.relative_to(SOURCE)}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.Import):
                problems += [f"{where} imports {a.name}" for a in node.names if a.name.split(".")[0] in unpicklers]
            elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in unpicklers:
                problems.append(f"{where} imports from {node.module}")
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                name = ast.unparse(node.func)
                keywords = {k.arg: ast.unparse(k.value) for k in node.keywords}
                if name in ("torch.load", "torch.jit.load") and keywords.get("weights_only") != "True":
                    problems.append(f"{where} calls {name} without weights_only=True")
                if name.endswith(("np.load", "numpy.load")) and keywords.get("allow_pickle") not in (None, "False"):
                    problems.append(f"{where} calls {name} with allow_pickle")
                if name.endswith(("pd.read_pickle", "Unpickler")):
                    problems.append(f"{where} calls {name}")
    assert not problems, problems


def test_a_pickle_posing_as_a_checkpoint_is_refused_and_never_run(tmp_path, mnist_root, reference_run, capsys):
    marker = tmp_path / "the-pickle-ran"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))  # unpickling this creates the marker file

    bait = pickle.dumps({"model.stages.0.synapse.weight": Payload()})
    pickle.loads(bait)  # the bait is live: unpickling really runs it
    assert marker.exists()
    marker.unlink()
    for flavour, payload in (("raw pickle", bait), ("torch.save zip", None)):
        run_dir = tmp_path / flavour.replace(" ", "-")
        shutil.copytree(reference_run, run_dir)
        if payload is None:
            torch.save({"weights": Payload()}, run_dir / CHECKPOINT_NAME)
        else:
            (run_dir / CHECKPOINT_NAME).write_bytes(payload)
        picture = tmp_path / "digit.png"
        Image.new("L", (28, 28), 0).save(picture)
        for argv in (["evaluate", str(run_dir), "--root", str(mnist_root)],
                     ["predict", str(run_dir), str(picture)],
                     ["train", "--out", str(run_dir), "--root", str(mnist_root), "--resume", "--quiet"]):
            code, out, err = run_cli(capsys, argv)
            assert_one_line_error(code, out, err, "is not a readable spikevision checkpoint")
            assert not marker.exists(), f"{flavour}: {argv[0]} unpickled the checkpoint"


# --------------------------------------------------------------------------- nothing written outside the run


def snapshot(root: Path, skip: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``root`` except those under ``skip``: path -> (size, mtime_ns)."""
    found = {}
    for path in root.rglob("*"):
        if path.is_file() and skip not in path.parents:
            found[str(path.relative_to(root))] = (path.stat().st_size, path.stat().st_mtime_ns)
    return found


def test_a_hostile_config_and_checkpoint_write_only_inside_the_run_directory(tmp_path, mnist_root, reference_run,
                                                                             monkeypatch, capsys):
    sandbox = tmp_path / "sandbox"
    run_dir = sandbox / "a" / "b" / "run"
    (sandbox / "cwd").mkdir(parents=True)
    shutil.copytree(reference_run, run_dir)
    saved = json.loads((run_dir / "config.json").read_text())
    saved["preset"] = "../../../escaped"
    (run_dir / "config.json").write_text(json.dumps(saved))
    # Path-like strings in the checkpoint's own metadata, where a careless reader might use them as names.
    tensors, meta = read_checkpoint(run_dir / CHECKPOINT_NAME)
    meta["progress"]["history"][0]["kind"] = "step"
    meta["progress"]["history"][0]["file"] = "../../../escaped.json"
    meta["progress"]["run_dir"] = str(sandbox / "escaped")
    save_file(tensors, str(run_dir / CHECKPOINT_NAME), metadata={"spikevision": json.dumps(meta)})
    picture = sandbox / "cwd" / "digit.png"
    digit = Image.new("L", (28, 28), 0)
    digit.paste(255, (12, 4, 16, 24))  # a "1"
    digit.save(picture)
    monkeypatch.chdir(sandbox / "cwd")
    before = snapshot(sandbox, run_dir)
    for argv in (["train", "--out", str(run_dir), "--root", str(mnist_root), "--resume", "--quiet"],
                 ["evaluate", str(run_dir), "--root", str(mnist_root), "--json"],
                 ["predict", str(run_dir), str(picture), "--json"]):
        code, _, err = run_cli(capsys, argv)
        assert code == 0, err
    assert snapshot(sandbox, run_dir) == before
    assert not list(tmp_path.rglob("escaped*"))


def test_a_preset_name_cannot_leave_the_presets_or_the_runs_directory(tmp_path, mnist_root, monkeypatch, capsys):
    # A bare name is looked up among the shipped presets only, even where the path would exist.
    assert (config.PRESET_DIR / ".." / "configs" / "quick.toml").is_file()
    for name in ("../configs/quick", "../../x", "/etc/passwd", ".."):
        with pytest.raises(ValueError, match="unknown preset"):
            config.load_preset(name)
    # A preset file whose name is "...toml" has the stem "..": the default run directory stays under runs/.
    presets = tmp_path / "presets"
    presets.mkdir()
    (presets / "...toml").write_text((config.PRESET_DIR / "quick.toml").read_text())
    work = tmp_path / "work" / "cwd"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    argv = ["train", "--preset", str(presets / "...toml"), "--root", str(mnist_root), "--quiet",
            "--set", "train.train_subset=128", "--set", "train.num_steps=2", "--set", "model.hidden=[8]",
            "--set", "train.eval_batch_size=5000"]
    code, _, err = run_cli(capsys, argv)
    assert code == 0, err
    assert (work / "runs" / "run" / CHECKPOINT_NAME).is_file()
    assert sorted(p.name for p in (tmp_path / "work").iterdir()) == ["cwd"]
    assert sorted(p.name for p in work.iterdir()) == ["runs"]


# --------------------------------------------------------------------------- fuzzed checkpoints and configs

FUZZ_EXAMPLES = 200


@pytest.fixture(scope="module")
def checkpoint_bytes(reference_run) -> bytes:
    return (reference_run / CHECKPOINT_NAME).read_bytes()


@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.one_of(st.none(), st.integers(0, 400_000)),
       flips=st.lists(st.tuples(st.integers(0, 4095), st.integers(1, 255)), max_size=8),
       header_len=st.one_of(st.none(), st.integers(0, 2**64 - 1)))
def test_fuzz_damaged_checkpoints_give_only_clean_value_errors(tmp_path_factory, checkpoint_bytes, cut, flips,
                                                              header_len):
    data = bytearray(checkpoint_bytes if cut is None else checkpoint_bytes[:cut])  # None: the whole file
    for offset, xor in flips:  # damage in the first 4 KiB: the length field and the JSON header
        if offset < len(data):
            data[offset] ^= xor
    if header_len is not None and len(data) >= 8:
        data[:8] = struct.pack("<Q", header_len)
    path = tmp_path_factory.mktemp("fuzz") / CHECKPOINT_NAME
    path.write_bytes(bytes(data))
    model = train.build_model(config.resolve("quick", ["model.hidden=[32]"]).model)
    try:
        tensors, _ = read_checkpoint(path)
        checkpoint.load_model_weights(model, tensors, path)
    except ValueError:
        pass


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                    max_leaves=8)
MODEL_KEYS = st.sampled_from(["kind", "hidden", "conv", "padding", "input_shape", "num_classes", "beta",
                              "threshold", "reset", "surrogate", "learn_beta", "learn_threshold", "dropout"])
TRAIN_KEYS = st.sampled_from(sorted(f.name for f in dataclasses.fields(config.TrainConfig)))


@settings(max_examples=FUZZ_EXAMPLES, deadline=None)
@given(model=st.dictionaries(MODEL_KEYS, JSON, max_size=3), train_=st.dictionaries(TRAIN_KEYS, JSON, max_size=3),
       extra=st.one_of(st.none(), JSON))
def test_fuzz_hand_edited_config_json_gives_only_clean_value_errors(model, train_, extra):
    data = {"model": model, "train": train_}
    if extra is not None:
        data = extra if not isinstance(extra, dict) else {**data, **extra}
    try:
        config.RunConfig.from_dict(data)
    except ValueError:
        pass
