"""One error tree: the CLI prints the library's own errors in one line, and a bug keeps its traceback."""

from __future__ import annotations

import argparse

import pytest

from spikevision import cli, errors
from spikevision.runs import config, train


def _command_raising(monkeypatch, exc: BaseException) -> None:
    def register(subparsers):
        subparsers.add_parser("boom").set_defaults(func=lambda args: (_ for _ in ()).throw(exc))

    monkeypatch.setattr(cli, "COMMANDS", ("boom",))
    monkeypatch.setattr(cli.importlib, "import_module", lambda name: argparse.Namespace(register=register))


@pytest.mark.parametrize("exc", [errors.InvalidValue("train.lr must be a positive number, got -1"),
                                 errors.NotFound("runs/x is not a run directory: no config.json"),
                                 OSError(28, "No space left on device")])
def test_the_librarys_own_errors_and_the_systems_are_one_line(monkeypatch, capsys, exc):
    _command_raising(monkeypatch, exc)
    assert cli.main(["boom"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("spikevision boom: error: ")


@pytest.mark.parametrize("exc", [ValueError("a bug"), TypeError("unsupported operand"), KeyError("x")])
def test_anything_else_is_a_bug_and_keeps_its_traceback(monkeypatch, exc):
    _command_raising(monkeypatch, exc)
    with pytest.raises(type(exc)):
        cli.main(["boom"])


def test_every_error_is_a_spikevision_error_and_the_builtin_it_stands_for():
    with pytest.raises(errors.InvalidValue) as caught:
        config.resolve("quick", ["train.lr=-1"])
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, errors.SpikevisionError)
    assert issubclass(errors.NotFound, FileNotFoundError) and issubclass(errors.InvalidType, TypeError)
    assert train.TrainingDiverged is errors.TrainingDiverged
