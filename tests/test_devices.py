"""Devices and precision: names checked at the edge, GPUs placed one per process, runs say where they ran.

Without a GPU, CUDA is simulated where it matters by patching ``torch.cuda`` (is_available, device_count):
the placement rules and the refusals are plain functions of those counts. The compiled GPU path itself
runs in ``benchmarks/gpu_check.sh`` on a machine with a GPU.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import re
import subprocess
import sys

import pytest
import torch

from spikevision.runs import config, devices, distributed, precision, rundir, train


@pytest.mark.parametrize("name", ["auto", "cpu", "cuda", "cuda:0", "cuda:12"])
def test_device_names_are_checked_by_spelling_only(name):
    assert devices.check_name(name) == name


@pytest.mark.parametrize("name", ["gpu", "CUDA", "cuda:", "cuda:-1", "cuda:x", "mps", "", 0, None])
def test_an_unknown_device_name_is_refused_with_the_valid_ones(name):
    with pytest.raises(ValueError, match=r"device must be auto, cpu, cuda or cuda:N; got"):
        devices.check_name(name)


def test_auto_is_the_cpu_without_a_gpu_and_cuda_is_refused_in_one_line(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert devices.resolve("auto") == torch.device("cpu") == devices.resolve("cpu")
    with pytest.raises(ValueError, match=r"device 'cuda': no CUDA device is available here .*use --device cpu"):
        devices.resolve("cuda")


def test_a_gpu_index_beyond_the_machine_is_refused(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert devices.resolve("auto") == torch.device("cuda", 0)
    assert devices.resolve("cuda:1") == torch.device("cuda", 1)
    with pytest.raises(ValueError, match=r"this machine has 2 CUDA device\(s\), cuda:0 to cuda:1"):
        devices.resolve("cuda:2")


def test_describe_names_the_cpu_and_its_threads():
    text = devices.describe(torch.device("cpu"))
    assert f"({torch.get_num_threads()} threads)" in text and len(text) > len(" (1 threads)")
    assert devices.record(torch.device("cpu")) == {"device": "cpu", "device_name": text}


# --------------------------------------------------------------------------- torchrun placement


@pytest.mark.parametrize(("device", "backend", "local_rank", "local_size", "gpus", "expected"), [
    ("auto", "auto", 1, 2, 0, ("cpu", "gloo")),
    ("auto", "auto", 1, 2, 1, ("cpu", "gloo")),  # two processes, one GPU: NCCL cannot share it
    ("auto", "auto", 1, 2, 2, ("cuda:1", "nccl")),
    ("auto", "gloo", 1, 2, 2, ("cuda:1", "gloo")),
    ("cuda", "auto", 1, 2, 1, ("cuda:0", "gloo")),  # asked to share the GPU: gloo does
    ("cuda", "gloo", 3, 4, 2, ("cuda:1", "gloo")),
    ("cpu", "auto", 0, 2, 8, ("cpu", "gloo")),
])
def test_each_process_gets_a_gpu_of_its_own_or_gloo(device, backend, local_rank, local_size, gpus, expected):
    got_device, got_backend = distributed.placement(device, backend, local_rank, local_size, gpus)
    assert (str(got_device), got_backend) == expected


@pytest.mark.parametrize(("device", "backend", "gpus", "message"), [
    ("cuda", "nccl", 1, r"nccl needs one GPU per process: 2 processes on this node, 1 GPU\(s\); give torchrun "
                        r"--nproc_per_node at most 1, or use --dist-backend gloo"),
    ("cpu", "nccl", 2, r"nccl needs one GPU per process.*use --dist-backend gloo"),
    ("auto", "nccl", 0, r"nccl needs one GPU per process"),
    ("cuda", "auto", 0, r"--device cuda: no CUDA device is available here"),
    ("cuda:1", "auto", 2, r"each process takes its own GPU, cuda:LOCAL_RANK; use --device cuda"),
])
def test_impossible_placements_are_refused_in_one_line(device, backend, gpus, message):
    with pytest.raises(ValueError, match=message):
        distributed.placement(device, backend, 1, 2, gpus)


def test_an_unknown_dist_backend_is_refused():
    with pytest.raises(ValueError, match=r"--dist-backend must be one of auto, gloo, nccl; got 'mpi'"):
        distributed.setup("cpu", "mpi")


# --------------------------------------------------------------------------- runs and precision


@pytest.mark.parametrize("key", ["train.device=gpu", "train.precision=fp8", "train.precision=32"])
def test_bad_device_and_precision_keys_are_refused(key):
    with pytest.raises(ValueError, match=r"train\.(device must be auto, cpu|precision must be one of fp32, bf16)"):
        config.resolve("quick", [key])


def test_training_records_its_device_and_precision(tiny_run):
    summary = json.loads((tiny_run / "summary.json").read_text())
    assert summary["device"] == "cpu" if not torch.cuda.is_available() else summary["device"].startswith("cuda")
    assert summary["device_name"] == devices.describe(torch.device(summary["device"]))
    assert summary["precision"] == "fp32"


def test_a_gpu_run_asks_cudnn_for_its_deterministic_algorithms_and_a_cpu_run_leaves_them(monkeypatch):
    for flag, value in (("deterministic", False), ("benchmark", True)):  # restored after the test
        monkeypatch.setattr(torch.backends.cudnn, flag, value)
    devices.make_reproducible(torch.device("cpu"))
    assert not torch.backends.cudnn.deterministic and torch.backends.cudnn.benchmark
    devices.make_reproducible(torch.device("cuda", 0))  # sets flags only: no GPU is touched
    assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark


def test_training_makes_its_device_reproducible_before_building_the_model(tmp_path, monkeypatch, mnist_root):
    calls = []
    monkeypatch.setattr(devices, "make_reproducible", calls.append)
    cfg = config.resolve("quick", ["train.train_subset=256", "train.num_steps=2", "train.epochs=1"])
    train.fit(cfg, tmp_path / "run", data_root=mnist_root)
    assert calls == [torch.device("cpu")]


def test_asking_for_cuda_without_one_writes_nothing(tmp_path, monkeypatch, mnist_root):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    run_dir = tmp_path / "run"
    with pytest.raises(ValueError, match="no CUDA device is available here"):
        train.fit(config.resolve("quick", ["train.train_subset=256"]), run_dir, data_root=mnist_root, device="cuda")
    assert not run_dir.exists()


def test_the_cli_refuses_a_bad_device_in_one_line(tiny_run):
    done = subprocess.run([sys.executable, "-m", "spikevision", "evaluate", str(tiny_run), "--device", "gpu"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "spikevision evaluate: error: device must be auto, cpu, cuda or cuda:N; got 'gpu'"]


@pytest.mark.parametrize("name", ["bf16", "fp16"])
def test_half_precision_inference_gives_the_float32_predictions(name, tiny_run, mnist_test):
    # Stated tolerance: under autocast the matmuls round their inputs to 8 (bf16) or 11 (fp16) bits, so a
    # neuron near its threshold may fire a step earlier or later, but the trained network's answers stay.
    # Measured on this tiny run (T=8, about 80 % accurate), 1,000 test images: predictions 98.8 % (bf16) and
    # 99.8 % (fp16) the same, output spikes 99.4 % and 99.9 %; on the quick preset's run, predictions 100 %.
    from spikevision import metrics
    from spikevision.analysis.inspection import run_model

    cfg, model = rundir.load_run(tiny_run)
    images = train.TensorData.from_split(mnist_test).images[:1000]
    ref = run_model(model, images, cfg.train)
    half = run_model(model, images, dataclasses.replace(cfg.train, precision=name))
    same = metrics.predict_from_output(half.spk, half.mem) == metrics.predict_from_output(ref.spk, ref.mem)
    assert float(same.float().mean()) >= 0.97
    assert float((half.spk == ref.spk).float().mean()) >= 0.97
    with torch.no_grad(), precision.autocast(name, torch.device("cpu")):
        out = model(images[:4], num_steps=3)
    assert out.spk.dtype == precision.DTYPES[name] and out.mem.dtype == torch.float32


def test_fp16_training_resumes_with_its_loss_scale(tmp_path, mnist_root):
    overrides = ["train.train_subset=512", "train.num_steps=5", "train.batch_size=128", "train.precision=fp16",
                 "train.epochs=2", "model.hidden=[64]"]
    run_dir = tmp_path / "run"
    summary = train.fit(config.resolve("quick", overrides), run_dir, data_root=mnist_root)
    assert summary["precision"] == "fp16" and summary["test_accuracy"] > 0.5
    from spikevision.runs.checkpoint import read_checkpoint

    scaler = read_checkpoint(run_dir / "checkpoint.safetensors")[1]["progress"]["scaler"]
    assert scaler["scale"] > 0 and set(scaler) >= {"scale", "growth_factor", "backoff_factor", "growth_interval"}



def _export(run, out, mnist_root, device) -> list[float]:
    """``spikevision export`` of ``run``: the agreement, reader's and spikevision's accuracy it prints (%)."""
    from spikevision import cli

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()) as err:
        assert cli.main(["export", str(run), "--out", str(out), "--root", str(mnist_root), "--device", device]) == 0
    return [float(v) for v in re.search(r"agrees with spikevision on ([\d.]+)% .* accuracy ([\d.]+)%, "
                                        r"spikevision's ([\d.]+)%", err.getvalue()).groups()]


def _agreement(run, mnist_root, device) -> dict:
    """``spikevision agreement`` of ``run`` (snnTorch's reader) on 500 test images: its JSON."""
    from spikevision import cli

    with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.redirect_stderr(io.StringIO()):
        assert cli.main(["agreement", str(run), "--limit", "500", "--root", str(mnist_root), "--device", device]) == 0
    return json.loads(out.getvalue())


@pytest.mark.parametrize("command", ["export", "agreement"])
def test_export_and_agreement_load_their_networks_onto_the_chosen_device(command, tiny_run, mnist_root, tmp_path,
                                                                        monkeypatch):
    from spikevision.runs import rundir

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # two GPUs, as far as the names go
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    placed, load_run = [], rundir.load_run
    monkeypatch.setattr(rundir, "load_run", lambda run, device="cpu": placed.append(devices.resolve(device))
                        or load_run(run, "cpu"))  # computed on the CPU all the same
    if command == "export":
        _export(tiny_run, tmp_path / "a.nir", mnist_root, "cuda:1")
    else:
        _agreement(tiny_run, mnist_root, "cuda:1")
    assert placed[-1] == torch.device("cuda", 1)  # the measurement's networks (export's own load is the CPU's)


@pytest.mark.parametrize("command", ["export", "agreement"])
def test_export_and_agreement_give_the_same_figures_on_the_device_auto_picks(command, tiny_run, mnist_root, tmp_path):
    # Here auto is the CPU; under benchmarks/gpu_check.sh it is the GPU, and the figures must be the CPU's
    # within 0.2 points for export (20 of its 10,000 images), 1 % of agreement's 500: cuBLAS sums in another
    # order, so a neuron a hair from its threshold may fire a step apart.
    figures = {}
    for name in ("cpu", "auto"):
        figures[name] = (_export(tiny_run, tmp_path / f"{name}.nir", mnist_root, name) if command == "export"
                         else _agreement(tiny_run, mnist_root, name))
    if command == "export":
        assert figures["auto"] == pytest.approx(figures["cpu"], abs=0.2) and 50 < figures["cpu"][2] <= 100
    else:
        assert figures["auto"]["images"] == figures["cpu"]["images"] == 500
        for key in ("prediction_agreement", "spikevision_accuracy", "snntorch_accuracy"):
            assert figures["auto"][key] == pytest.approx(figures["cpu"][key], abs=0.01)


@pytest.mark.parametrize("command", ["export", "agreement"])
def test_export_and_agreement_refuse_cuda_without_one_before_writing(command, tiny_run, tmp_path, monkeypatch,
                                                                      capsys):
    from spikevision import cli

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    out = tmp_path / "model.nir"
    extra = ["--out", str(out)] if command == "export" else []
    assert cli.main([command, str(tiny_run), *extra, "--device", "cuda"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "device 'cuda': no CUDA device is available here" in err
    assert not out.exists()
