"""Compile recorded Triton launches for real NVIDIA GPUs, on a machine without one.

Triton's interpreter (which runs the kernels on CPU tensors in ``make test``) never runs Triton's compiler, so a
kernel it accepts can still fail to compile on a GPU: a loop-carried value that changes type, a dtype the
target lacks. This script runs the real compiler (Triton IR -> PTX -> ptxas -> cubin, all shipped in the
triton wheel), for the architectures named, on the launches that ``tests/test_triton_compile.py`` recorded.

Run in a process without ``TRITON_INTERPRET`` (under it ``@triton.jit`` makes interpreted functions, which
do not compile):

    python tests/triton_compile.py LAUNCHES.json 90 80

``LAUNCHES.json``: a list of ``{"module", "kernel", "signature", "constexprs", "options"}`` (``signature``
maps each argument name to a Triton type such as ``*fp32`` or ``i32``; constexpr arguments map to
``constexpr``). Prints one JSON line per launch and architecture: ``{"index", "arch", "triton", "ok", "error"}``.
"""

from __future__ import annotations

import importlib
import json
import sys


def compile_one(launch: dict, arch: int) -> dict:
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    kernel = getattr(importlib.import_module(launch["module"]), launch["kernel"])
    source = ASTSource(fn=kernel, signature=launch["signature"], constexprs=launch["constexprs"])
    try:
        compiled = triton.compile(source, target=GPUTarget("cuda", arch, 32), options=launch["options"])
    except Exception as error:  # noqa: BLE001  (each failure is reported, with its message, to the test)
        return {"ok": False, "error": f"{type(error).__name__}: {error}"[:2000]}
    return {"ok": bool(compiled.asm.get("cubin")), "error": "" if compiled.asm.get("cubin") else "no cubin"}


def main(argv: list[str]) -> int:
    with open(argv[0]) as file:
        launches = json.load(file)
    import triton

    for index, launch in enumerate(launches):
        for arch in map(int, argv[1:]):
            print(json.dumps({"index": index, "arch": arch, "triton": triton.__version__, **compile_one(launch, arch)}),
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
