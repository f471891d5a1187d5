"""The README followed literally: its shell blocks' commands exist and are reachable from a fresh shell."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import pytest

from spikevision import cli

README = Path(__file__).resolve().parents[1] / "README.md"
READMES = [README, README.with_name("README.zh.md")]  # the English one and the Chinese quick start


def shell_lines(readme: Path = README) -> list[tuple[int, list[str]]]:
    """(line number, words) of every command in a README's ```bash blocks, comments left out."""
    lines, inside = [], False
    for number, line in enumerate(readme.read_text().splitlines(), 1):
        if line.startswith("```"):
            inside = line.strip() == "```bash" if not inside else False
            continue
        words = shlex.split(line, comments=True) if inside else []
        if words:
            lines.append((number, words))
    return lines


@pytest.mark.parametrize("readme", READMES, ids=lambda path: path.name)
def test_the_readme_activates_the_venv_before_its_first_bare_spikevision_command(readme):
    """`make demo` installs into .venv; a fresh shell has no `spikevision` until it is activated."""
    lines = shell_lines(readme)
    activate = next(n for n, words in lines if words[:2] == ["source", ".venv/bin/activate"])
    bare = [n for n, words in lines if words[0] == "spikevision"]
    assert bare and activate < min(bare), (activate, bare[:3])


@pytest.mark.parametrize("readme, number, words", [(r, n, w) for r in READMES for n, w in shell_lines(r)
                                                    if w[0] == "spikevision"],
                         ids=lambda value: value.name if isinstance(value, Path) else
                         str(value) if isinstance(value, int) else " ".join(value[1:3]))
def test_every_spikevision_command_in_the_readmes_parses(readme, number, words):
    """Each README command line is accepted by the real parser (subcommand, options, choices)."""
    parsed = cli.build_parser().parse_args(words[1:])
    assert callable(parsed.func), f"{readme.name} line {number}: {' '.join(words)}"


def test_the_readmes_link_each_other():
    english, chinese = (path.read_text() for path in READMES)
    assert "[中文](README.zh.md)" in english.splitlines()[2] and "[English](README.md)" in chinese.splitlines()[2]


@pytest.mark.parametrize("readme", READMES, ids=lambda path: path.name)
def test_the_readme_python_imports_spikevision_before_torch(readme):
    """The thread policy is decided when spikevision is imported before torch (a script then trains as fast as
    the commands on a busy machine; seen: 21.1 s against 14.8 s when torch came first)."""
    text = readme.read_text()
    block = text[text.index("```python"):]
    imports = [line.split()[1] for line in block.splitlines() if line.startswith(("import ", "from "))]
    assert imports[0] == "spikevision" and "torch" in imports, imports[:3]


def test_make_installs_torch_from_the_index_the_readme_names(tmp_path):
    """`make demo TORCH_INDEX=...` (the README's advice for a machine without a GPU) installs torch from there."""
    root = README.parent
    index = "https://download.pytorch.org/whl/cpu"
    assert f"TORCH_INDEX={index}" in README.read_text()
    done = subprocess.run(["make", "-n", "-C", str(root), "-W", "pyproject.toml", f"VENV={tmp_path / 'venv'}",
                           f"TORCH_INDEX={index}", str(tmp_path / "venv" / ".installed")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    install = [line for line in done.stdout.splitlines() if "pip install" in line and "torch==" in line]
    assert len(install) == 1 and install[0].endswith(f"torch==2.13.0 --index-url {index}"), done.stdout
