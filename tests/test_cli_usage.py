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


@pytest.fixture
def offline_osm(monkeypatch: pytest.MonkeyPatch) -> None:
    """OSM geocoding on a closed local port: a place query that goes out fails with DownloadError."""
    import socket

    import osmnx as ox

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setattr(ox.settings, "nominatim_url", f"http://127.0.0.1:{port}/")
    monkeypatch.setattr(ox.settings, "overpass_url", f"http://127.0.0.1:{port}/api")
    monkeypatch.setattr(ox.settings, "requests_timeout", 2)


def _main(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    from geodispatch.cli import main

    monkeypatch.setattr(sys, "argv", ["geodispatch", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    return int(exit_info.value.code or 0), capsys.readouterr().err


def test_mistyped_region_slug_suggests_the_close_one(offline_osm: None) -> None:
    from geodispatch.errors import SourceNotFoundError
    from geodispatch.scenario import load_network, load_scenario

    for source in ("bantaen", "Bantaeng", "balikpapn", "kutai_timur"):
        with pytest.raises(SourceNotFoundError, match=r"did you mean (bantaeng|balikpapan|kutai-timur)\?"):
            load_network(source)
    with pytest.raises(SourceNotFoundError, match=r"did you mean bantaeng\?"):
        load_scenario("bantaen")


def test_mistyped_region_slug_cli(tmp_path: Path) -> None:
    result = run_cli("network", "info", "bantaen", cwd=tmp_path)
    assert result.returncode == 2
    assert "did you mean bantaeng?" in result.stderr and len(result.stderr.strip().splitlines()) == 1


PLACE = "Kabupaten Yang Tidak Ada, Indonesia"  # never downloaded: it would need the (closed) network


@pytest.mark.parametrize(
    ("command", "option", "what"),
    [
        ("coverage", "--stations", "stations"),
        ("coverage", "--population", "population"),
        ("coverage", "--areas", "areas"),
        ("site", "--stations", "stations"),
        ("site", "--population", "population"),
        ("site", "--candidates", "candidates"),
    ],
)
def test_input_files_are_checked_before_the_network_download(
    command: str, option: str, what: str, tmp_path: Path, offline_osm: None,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    missing = tmp_path / f"no-{what}.csv"
    code, err = _main(monkeypatch, capsys, command, PLACE, "--out", str(tmp_path / "out"), option, str(missing))
    assert code == 2
    assert str(missing) in err and "not found" in err, err
    bad = tmp_path / f"bad-{what}.csv"
    bad.write_text("a,b\n1,2\n")
    code, err = _main(monkeypatch, capsys, command, PLACE, "--out", str(tmp_path / "out"), option, str(bad))
    assert code == 2
    assert bad.name in err and "download" not in err.lower(), err
    assert not (tmp_path / "out").exists()


def test_population_column_option(
    tmp_path: Path, offline_osm: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The error names --population-column, and the option exists and picks the column."""
    from geodispatch.inputs import read_population

    csv = tmp_path / "people.csv"
    csv.write_text("lon,lat,jiwa_2024\n119.95,-5.54,120\n119.96,-5.55,80\n")
    code, err = _main(monkeypatch, capsys, "coverage", PLACE, "--out", str(tmp_path / "o"), "--population", str(csv))
    assert code == 2 and "--population-column" in err and "jiwa_2024" in err, err
    code, err = _main(
        monkeypatch, capsys, "coverage", PLACE, "--out", str(tmp_path / "o"), "--population", str(csv),
        "--population-column", "jiwa_2024",
    )
    assert code == 2 and "jiwa_2024" not in err  # the file passed; the (offline) place query failed
    assert read_population(csv, "jiwa_2024")["population"].tolist() == [120.0, 80.0]
    for command in ("coverage", "site"):
        assert "--population-column" in run_cli(command, "--help", cwd=tmp_path).stdout
