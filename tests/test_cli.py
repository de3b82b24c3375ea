"""The command line: discoverable subcommands, each with --help, and `explain`."""

import subprocess
import sys

import pytest

import arrayconv
from arrayconv.__main__ import build_parser, main

COMMANDS = ["info", "explain", "bench", "tune"]


def run_cli(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "arrayconv", *args], capture_output=True, text=True, timeout=timeout)


def test_top_level_help_lists_every_command():
    out = run_cli("--help")
    assert out.returncode == 0, out.stderr
    usage = out.stdout.splitlines()[0]
    assert "COMMAND" in usage and "--seed" in usage
    for command in COMMANDS:
        assert f"    {command} " in out.stdout, command
    assert "`" not in out.stdout  # no RST markup in the help


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_its_own_help(command):
    out = run_cli(command, "--help")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"usage: python -m arrayconv {command}")


def test_help_shows_each_commands_options():
    options = {command: {option for action in parser._actions for option in action.option_strings}
               for command, parser in build_parser()._subparsers._group_actions[0].choices.items()}
    assert {"--rounds", "--gradients", "--routing", "--threads"} <= options["bench"]
    assert {"--channels", "--dry-run", "--output"} <= options["tune"]
    assert {"--stride", "--padding", "--dilation", "--groups", "--padding-mode", "--dtype", "--backend",
            "--bias"} <= options["explain"]


def test_unknown_command_is_refused():
    out = run_cli("nope")
    assert out.returncode == 2 and "invalid choice: 'nope'" in out.stderr


@pytest.mark.parametrize("argv, call", [
    (["8,64,4096", "128,64,7", "--padding", "same"], dict(input=(8, 64, 4096), weight=(128, 64, 7), padding="same")),
    (["4,16,32768", "16,16,2049", "--padding", "1024", "--bias"],
     dict(input=(4, 16, 32768), weight=(16, 16, 2049), bias=(16,), padding=1024)),
    (["2,8,300", "8,4,5", "--groups", "2", "--stride", "3", "--dilation", "2", "--padding-mode", "reflect",
      "--padding", "4", "--dtype", "complex128"],
     dict(input=(2, 8, 300), weight=(8, 4, 5), groups=2, stride=3, dilation=2, padding_mode="reflect", padding=4,
          dtype="complex128")),
    (["64,4096", "64,64,3", "--backend", "direct"], dict(input=(64, 4096), weight=(64, 64, 3), backend="direct")),
])
def test_explain_prints_what_arrayconv_explain_returns(argv, call, capsys):
    assert main(["explain", *argv]) == 0
    assert capsys.readouterr().out == str(arrayconv.explain(**call)) + "\n"


@pytest.mark.parametrize("argv, message", [
    (["8,64,4096", "128,6,7"], "input must have weight.shape[1] * groups"),
    (["8,64,x", "128,64,7"], "a shape is comma-separated sizes such as 8,64,4096, got '8,64,x'"),
    (["8,64,4096", "128,64,7", "--padding", "sideways"], "padding"),
    (["8,64,4096", "128,64,7", "--backend", "nope"], "nope"),
])
def test_explain_reports_bad_calls_without_a_traceback(argv, message):
    out = run_cli("explain", *argv)
    assert out.returncode == 2
    assert message in out.stderr and "Traceback" not in out.stderr


def test_explain_in_a_subprocess_matches_the_function():
    out = run_cli("explain", "1,32,256", "32,32,3", "--padding", "1")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("backend: ")
    assert out.stdout.split()[1] == arrayconv.explain((1, 32, 256), (32, 32, 3), padding=1).backend
