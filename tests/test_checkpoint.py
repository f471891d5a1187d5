import os

import pytest
import torch

from spikevision.runs import checkpoint
from spikevision.runs.checkpoint import CHECKPOINT_NAME


def _trained_pair():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Linear(3, 2))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1e-2, total_steps=10)
    for _ in range(3):
        opt.zero_grad()
        model(torch.randn(5, 4)).pow(2).sum().backward()
        opt.step()
        sched.step()
    return model, opt, sched


def test_round_trip_restores_weights_optimizer_and_schedule(tmp_path):
    model, opt, sched = _trained_pair()
    path = tmp_path / "ck.safetensors"
    checkpoint.save_checkpoint(path, model, opt, sched, {"step": 3, "history": [{"loss": 1.5}]})

    torch.manual_seed(1)
    model2 = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Linear(3, 2))
    opt2 = torch.optim.Adam(model2.parameters(), lr=1e-2)
    sched2 = torch.optim.lr_scheduler.OneCycleLR(opt2, max_lr=1e-2, total_steps=10)
    tensors, meta = checkpoint.read_checkpoint(path)
    checkpoint.load_model_weights(model2, tensors, path)
    checkpoint.load_optimizer_state(opt2, tensors, meta)
    sched2.load_state_dict(meta["scheduler"])
    assert meta["progress"] == {"step": 3, "history": [{"loss": 1.5}]}
    for a, b in zip(model.parameters(), model2.parameters()):
        assert torch.equal(a, b)
    # The next optimisation step is identical: optimiser moments and schedule position came back.
    x = torch.randn(5, 4)
    for m, o, s in ((model, opt, sched), (model2, opt2, sched2)):
        o.zero_grad()
        m(x).pow(2).sum().backward()
        o.step()
        s.step()
    for a, b in zip(model.parameters(), model2.parameters()):
        assert torch.equal(a, b)


def test_truncated_checkpoint_is_refused(tmp_path):
    model, opt, sched = _trained_pair()
    path = tmp_path / "ck.safetensors"
    checkpoint.save_checkpoint(path, model, opt, sched, {})
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="not a readable spikevision checkpoint"):
        checkpoint.read_checkpoint(path)


def test_architecture_mismatch_names_the_parameter(tmp_path):
    model, opt, sched = _trained_pair()
    path = tmp_path / "ck.safetensors"
    checkpoint.save_checkpoint(path, model, None, None, {})
    other = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.Linear(5, 2))
    tensors, _ = checkpoint.read_checkpoint(path)
    with pytest.raises(ValueError, match=r"different architecture: shape mismatch .*0\.weight: \(3, 4\) vs \(5, 4\)"):
        checkpoint.load_model_weights(other, tensors, path)


def test_failed_write_keeps_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "file.bin"
    checkpoint.write_atomic(path, b"good")

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="previous file is unchanged"):
        checkpoint.write_atomic(path, b"new and half written")
    assert path.read_bytes() == b"good"
    assert [p.name for p in tmp_path.iterdir()] == ["file.bin"]  # no temp file left behind


def test_unwritable_location_is_a_clear_error(tmp_path):
    # A regular file where the run directory should be: no write can succeed there, even as root.
    blocker = tmp_path / "not-a-dir"
    blocker.write_bytes(b"")
    with pytest.raises(OSError) as caught:
        checkpoint.write_atomic(blocker / "checkpoint.safetensors", b"data")
    # The place is named, so that the command line says it in each command's words ("choose a writable --out").
    assert caught.value.filename == str(blocker) and caught.value.strerror == "Not a directory"


def test_written_files_get_the_usual_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        checkpoint.write_atomic(tmp_path / "summary.json", b"{}")
    finally:
        os.umask(old)
    assert (tmp_path / "summary.json").stat().st_mode & 0o777 == 0o644


def _temporary_name_of_a_write_cut_short(monkeypatch, write) -> str:
    """The name of the temporary file ``write`` makes, as a SIGKILL before its rename would leave it."""
    names = []

    def no_rename(src, dst):
        names.append(os.path.basename(src))
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(os, "replace", no_rename)
        with pytest.raises(OSError):
            write()
    return names[0]


def test_stale_temporaries_finds_what_each_atomic_writer_leaves_and_nothing_else(tmp_path, monkeypatch):
    def write_figure():
        with checkpoint.atomic_path(tmp_path / "loss.png") as tmp:
            tmp.write_bytes(b"png")

    left = [_temporary_name_of_a_write_cut_short(monkeypatch, lambda: checkpoint.write_atomic(
                tmp_path / "summary.json", b"{}")),
            _temporary_name_of_a_write_cut_short(monkeypatch, write_figure)]
    left.append(".summary.json.k2j3.tmp")  # what write_atomic left before it went through atomic_path
    for name in [*left, ".notes.tmp", ".loss.png.keep", "loss.png", ".summary.json.bak"]:
        (tmp_path / name).write_bytes(b"")
    found = checkpoint.stale_temporaries(tmp_path / "summary.json") + checkpoint.stale_temporaries(
        tmp_path / "loss.png")
    assert sorted(p.name for p in found) == sorted(left)


def test_the_metadata_reads_alone_and_a_lying_header_is_refused(tmp_path, tiny_run):
    path = tiny_run / CHECKPOINT_NAME
    assert checkpoint.read_metadata(path) == checkpoint.read_checkpoint(path)[1]
    bad = tmp_path / CHECKPOINT_NAME
    bad.write_bytes((10**12).to_bytes(8, "little") + b"{}")
    with pytest.raises(ValueError, match="header length 1000000000000 beyond the file"):
        checkpoint.read_metadata(bad)
