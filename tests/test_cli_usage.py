"""Usage errors of the command line: one line on stderr, exit code 2, never a traceback.

The CLI runs as a subprocess (``python -m geodispatch``) with the installed typer, whichever
click it uses (its own vendored copy in typer 0.2x, or the ``click`` package before).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import geodispatch

ROOT = Path(geodispatch.__file__).resolve().parent.parent


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    env["COLUMNS"] = "200"
    return subprocess.run(
        [sys.executable, "-m", "geodispatch", *args],
        capture_output=True, text=True, timeout=300, env=env, cwd=cwd,
    )


USAGE_ERRORS = [
    ("nosuch",),  # no such command
    ("network", "nosuch"),  # no such subcommand
    ("coverage",),  # missing argument (and option)
    ("coverage", "synthetic"),  # missing required option --out
    ("coverage", "synthetic", "--out", "x", "--minutes", "abc"),  # not a number
    ("coverage", "synthetic", "--out", "x", "--no-such-option"),  # no such option
    ("traveltime", "synthetic", "--from"),  # option without its value
    ("site", "synthetic", "--new-posts", "2.5"),  # not an integer
    ("network", "info", "synthetic", "extra"),  # unexpected extra argument
    ("recommend", "synthetic", "--type", "medis", "--at", "1,2", "--priority", "x"),
]


@pytest.mark.parametrize("args", USAGE_ERRORS, ids=lambda a: " ".join(a))
def test_usage_error_is_one_line_exit_2(args: tuple[str, ...], tmp_path: Path) -> None:
    result = run_cli(*args, cwd=tmp_path)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert result.stdout == ""
    assert not (tmp_path / "x").exists()


def test_usage_error_names_the_problem(tmp_path: Path) -> None:
    err = run_cli("coverage", "synthetic", "--out", "x", "--minutes", "abc", cwd=tmp_path).stderr
    assert "--minutes" in err and "geodispatch coverage --help" in err
    assert "nosuch" in run_cli("nosuch", cwd=tmp_path).stderr


def test_bare_command_prints_help_and_exits_0(tmp_path: Path) -> None:
    result = run_cli(cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Usage" in result.stdout and "coverage" in result.stdout and "recommend" in result.stdout
    assert result.stderr == ""


def test_bare_group_prints_help_and_exits_0(tmp_path: Path) -> None:
    result = run_cli("network", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Usage" in result.stdout and "build" in result.stdout and "info" in result.stdout


def test_help_exits_0(tmp_path: Path) -> None:
    result = run_cli("coverage", "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "--minutes" in result.stdout


def test_version(tmp_path: Path) -> None:
    from importlib.metadata import version

    result = run_cli("--version", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"geodispatch {version('geodispatch')}"
