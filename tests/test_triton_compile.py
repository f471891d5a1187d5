"""Every Triton kernel launch the layers make, compiled by Triton's real compiler for NVIDIA GPUs, here.

The Triton tests elsewhere run the kernels through Triton's interpreter (no GPU on CI), which checks their
arithmetic but never compiles them. This file records the launches that the LIF, current-based and adaptive
layers and the fused LIF -> Linear pair make over their reset modes, surrogates, dtypes and gradient flags
(running them in the interpreter as usual), then compiles each distinct one to a cubin for the H100/H200
(sm_90) in a separate process (``tests/triton_compile.py``), and some for the A100 (sm_80) and the T4
(sm_75). A kernel that only the compiler rejects fails here, not in a GPU session's few minutes.
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from spikevision.kernels import lif_linear, neuron_linear
from spikevision.neurons import alif, cuba, lif, surrogate

triton = pytest.importorskip("triton", reason="triton is not installed (make test installs it on Linux x86-64)")

from triton.runtime.jit import mangle_type  # noqa: E402

# CUDA tensors where there is a GPU (Triton then compiles as it launches); else CPU tensors under Triton's
# interpreter, which conftest.py switches on.
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
MODULES = ("triton.lif", "triton.cuba", "triton.alif", "triton.lif_linear")
KERNELS = ("forward_kernel", "backward_kernel")


class _Recording:
    """A kernel's launches, recorded as ``{module, kernel, signature, constexprs, options}``, then run."""

    def __init__(self, module: str, name: str, kernel, launches: list):
        self.module, self.name, self.kernel, self.launches = module, name, kernel, launches
        self.params = inspect.signature(getattr(kernel, "fn", kernel)).parameters

    def __getitem__(self, grid):
        def launch(*args, **kwargs):
            named = dict(zip(self.params, args)) | {k: v for k, v in kwargs.items() if k in self.params}
            constexprs = {k: v for k, v in named.items() if self.params[k].annotation in ("tl.constexpr",
                                                                                          triton.language.constexpr)}
            self.launches.append({
                "module": self.module, "kernel": self.name,
                "signature": {k: "constexpr" if k in constexprs else mangle_type(v) for k, v in named.items()},
                "constexprs": constexprs,
                "options": {k: v for k, v in kwargs.items() if k not in self.params},
            })
            return self.kernel[grid](*args, **kwargs)
        return launch


@pytest.fixture
def launches(monkeypatch) -> list:
    """The launches of every Triton kernel while the test runs."""
    import importlib

    recorded: list = []
    for module in MODULES:
        loaded = importlib.import_module(f"spikevision.kernels.{module}")
        for name in KERNELS:
            monkeypatch.setattr(loaded, name, _Recording(loaded.__name__, name, getattr(loaded, name), recorded))
    return recorded


def _current(dtype, constant: bool, steps=3, batch=2, n=5):
    g = torch.Generator().manual_seed(0)
    if constant:
        leaf = (torch.rand(batch, n, generator=g) * 1.5).to(DEVICE, dtype).requires_grad_()
        return leaf, leaf.unsqueeze(0).expand(steps, batch, n)
    leaf = (torch.rand(steps, batch, n, generator=g) * 1.5).to(DEVICE, dtype).requires_grad_()
    return leaf, leaf


def _learnable(value: float, dtype=torch.float32, n: int = 5):
    return torch.full((n,), value, dtype=dtype, device=DEVICE, requires_grad=True)


def _backward(leaf, spk, mem, last_mem, spikes_only: bool, per_step: bool = False):
    """``per_step``: the spikes' gradient differs from step to step (as a hidden layer's does); otherwise it is
    the same at every step (the sum's), which the backward kernels read from one row (``SPIKE_GRAD_STEP`` 0)."""
    loss = (spk.float() * torch.rand(spk.shape, device=spk.device)).sum() if per_step else spk.float().sum()
    if not spikes_only:
        loss = loss + (0.0 if mem is None else mem.float().sum()) + last_mem.float().sum()
    loss.backward()
    assert leaf.grad is not None


def _run_every_layer() -> None:
    """Each family over the variants that change a kernel's compiled form (constexprs and argument types)."""
    for reset in ("subtract", "zero", "none"):
        for name in surrogate.NAMES:
            for dtype in (torch.float32, torch.float64):
                for constant, learn, need_mem in ((True, False, True), (False, True, False)):
                    leaf, current = _current(dtype, constant)
                    beta, thr = (_learnable(0.9, dtype), _learnable(1.0, dtype)) if learn else (0.9, 1.0)
                    spk, mem, last = lif.lif_sequence(current, None, lif.LIFParams(beta, thr, reset, name),
                                                         backend="triton", need_mem=need_mem)
                    _backward(leaf, spk, mem, last.mem, spikes_only=not need_mem, per_step=not constant)
    for dtype in (torch.bfloat16, torch.float16):
        for constant in (True, False):
            leaf, current = _current(dtype, constant)
            spk, mem, last = lif.lif_sequence(current, None, lif.LIFParams(), backend="triton")
            _backward(leaf, spk, mem, last.mem, spikes_only=False, per_step=not constant)
    for reset in ("subtract", "zero", "none"):
        for constant, learn in ((True, False), (False, True)):
            leaf, current = _current(torch.float32, constant)
            params = cuba.CubaParams(_learnable(0.85) if learn else 0.85, _learnable(0.8) if learn else 0.8,
                                     _learnable(1.0) if learn else 1.0, reset, "atan")
            spk, mem, last = cuba.cuba_sequence(current, None, params, backend="triton")
            _backward(leaf, spk, mem, last.mem, spikes_only=False, per_step=not constant)
            leaf, current = _current(torch.float32, constant)
            params = alif.ALIFParams(_learnable(0.85) if learn else 0.85, 1.0, 0.9, 0.3, reset, "fast_sigmoid")
            spk, mem, last = alif.alif_sequence(current, None, params, backend="triton")
            _backward(leaf, spk, mem, last.mem, spikes_only=False, per_step=not constant)


def _run_every_fused_pair() -> None:
    """The fused pair (a layer on a constant current and the Linear after it) in each of its variants: LIF with
    every surrogate, and each family with fixed and learnable coefficients."""
    g = torch.Generator().manual_seed(1)
    for reset in ("subtract", "zero", "none"):
        for name in surrogate.NAMES:
            for record in (False, True):
                current = (torch.rand(17, 70, generator=g) * 1.5).to(DEVICE).requires_grad_()
                weight = torch.randn(10, 70, generator=g).to(DEVICE).requires_grad_()
                out, _ = lif_linear(current, 3, 0.9, 1.0, reset, surrogate.get(name), weight, None,
                                    record=record, engine="triton")
                out.sum().backward()
                assert current.grad is not None and weight.grad is not None
        for family, values, fixed in (("lif", (0.9, 1.0), ()), ("cuba", (0.85, 0.8, 1.0), ()),
                                      ("alif", (0.85,), (1.0, 0.9, 0.3))):
            for learn in ((False, True) if family != "lif" else (True,)):  # lif's fixed pair: the loop above
                current = (torch.rand(17, 70, generator=g) * 1.5).to(DEVICE).requires_grad_()
                weight = torch.randn(10, 70, generator=g).to(DEVICE).requires_grad_()
                coefficients = tuple(torch.tensor(v, device=DEVICE, requires_grad=True) if learn else v
                                     for v in values)
                out, _ = neuron_linear(family, current, 3, coefficients, reset, surrogate.get("atan"), weight, None,
                                       fixed=fixed, engine="triton")
                out.sum().backward()
                assert current.grad is not None and (not learn or coefficients[0].grad is not None)


def _distinct(launches: list) -> list:
    seen, kept = set(), []
    for launch in launches:
        key = json.dumps(launch, sort_keys=True)
        if key not in seen:
            seen.add(key)
            kept.append(launch)
    return kept


def _compile(launches: list, archs: list[int], tmp_path: Path) -> list[dict]:
    path = tmp_path / "launches.json"
    path.write_text(json.dumps(launches))
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env["TRITON_CACHE_DIR"] = str(tmp_path / "triton-cache")  # a real compile each time, never a cached cubin
    # Another triton's compiler, e.g. the GPU machines' 3.6.0 installed with `pip install --target DIR`.
    if os.environ.get("SPIKEVISION_TRITON_COMPILER"):
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [os.environ["SPIKEVISION_TRITON_COMPILER"],
                                                          env.get("PYTHONPATH")]))
    done = subprocess.run([sys.executable, str(Path(__file__).with_name("triton_compile.py")), str(path),
                           *map(str, archs)], capture_output=True, text=True, env=env, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_every_kernel_launch_compiles_for_hopper_and_older_gpus(launches, tmp_path):
    _run_every_layer()
    _run_every_fused_pair()
    distinct = _distinct(launches)
    kernels = {(launch["module"], launch["kernel"]) for launch in distinct}
    assert len(kernels) == len(MODULES) * len(KERNELS), kernels  # every kernel was reached
    dtypes = {launch["signature"]["cur"] for launch in distinct}
    assert dtypes == {"*fp32", "*fp64", "*bf16", "*fp16"}, dtypes
    for module in MODULES[:3]:  # each backward reads the spikes' gradient per step and from one row
        steps = {launch["constexprs"].get("SPIKE_GRAD_STEP") for launch in distinct
                 if launch["module"].endswith(module) and launch["kernel"] == "backward_kernel"}
        assert steps == {0, 1}, (module, steps)
    results = _compile(distinct, [90], tmp_path)
    # The older architectures, where the code differs: the LIF kernels' half-precision and float64 launches,
    # and the fused pair's (its tl.dot is an mma instruction of each architecture's own).
    older = [i for i, launch in enumerate(distinct) if launch["constexprs"].get("MODE") == 0 and (
        launch["module"].endswith("triton.lif_linear") or
        launch["module"].endswith("triton.lif") and launch["signature"]["cur"] != "*fp32")]
    results += [{**r, "index": older[r["index"]]} for r in _compile([distinct[i] for i in older], [80, 75], tmp_path)]
    assert len(results) == len(distinct) + 2 * len(older)
    failed = [(distinct[r["index"]]["kernel"], distinct[r["index"]]["constexprs"], r["arch"], r["error"])
              for r in results if not r["ok"]]
    assert not failed, failed
    print(f"{len(results)} compiles by triton {results[0]['triton']}, every one to a cubin")  # shown with -s


def test_the_check_fails_a_kernel_that_only_the_compiler_rejects(tmp_path):
    # The negative control: the interpreter runs this kernel (its loop-carried total changes type), the
    # compiler refuses it, and the check above must see the difference.
    sys.path.insert(0, str(Path(__file__).parent))
    try:
        import triton_rejected
    finally:
        sys.path.pop(0)
    out = torch.zeros(1, device=DEVICE)
    if DEVICE == "cpu":  # the interpreter runs it
        triton_rejected.type_changing_loop[(1,)](out, 4)
        assert float(out) == 2.0
    else:  # on a GPU, Triton compiles it as it launches, and refuses it there too
        with pytest.raises(triton.CompilationError, match="Loop-carried variable total"):
            triton_rejected.type_changing_loop[(1,)](out, 4)
    launch = {"module": "triton_rejected", "kernel": "type_changing_loop",
              "signature": {"out": "*fp32", "steps": "i32"}, "constexprs": {}, "options": {}}
    [result] = _compile([launch], [90], tmp_path)
    assert not result["ok"] and "Loop-carried variable total" in result["error"]
