"""CLI of the foundation, and place queries against a real local HTTP server (offline)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import pytest

from geodispatch.errors import DownloadError, SourceNotFoundError
from geodispatch.scenario import load_network


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "geodispatch.cli", *args], capture_output=True, text=True, timeout=300
    )


def test_network_info_json(balikpapan_graphml: Path) -> None:
    result = run_cli("network", "info", str(balikpapan_graphml), "--json")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["nodes"] == 1207 and info["edges"] == 2683 and info["components"] == 1
    assert 0 < info["maxspeed_share"] < 1


def test_network_build_then_traveltime(balikpapan_graphml: Path, tmp_path: Path) -> None:
    out = tmp_path / "bpp.npz"
    assert run_cli("network", "build", str(balikpapan_graphml), "--out", str(out)).returncode == 0
    csv = tmp_path / "reach.csv"
    result = run_cli("traveltime", str(out), "--from", "116.8305,-1.2651", "--minutes", "5", "--out", str(csv))
    assert result.returncode == 0, result.stderr
    frame = pd.read_csv(csv)
    assert len(frame) > 10 and frame["travel_time_s"].max() <= 300
    ref = load_network(out)
    snap = ref.snap([116.8305], [-1.2651])
    assert (frame["travel_time_s"] >= 0).all() and snap.ok.all()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["network", "info", "missing.graphml"], "not found"),
        (["network", "info", "roads.txt"], "unsupported"),
        (["traveltime", "synthetic", "--from", "abc", "--minutes", "5"], "LON,LAT"),
        (["traveltime", "synthetic", "--from", "120.6,-5.9", "--minutes", "-3"], "non-negative"),
    ],
)
def test_bad_input_one_line_exit_2(args: list[str], needle: str, tmp_path: Path) -> None:
    if "roads.txt" in args:
        (tmp_path / "roads.txt").write_text("x")
        args = [a if a != "roads.txt" else str(tmp_path / "roads.txt") for a in args]
    result = run_cli(*args)
    assert result.returncode == 2
    assert needle in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr


class _Nominatim(BaseHTTPRequestHandler):
    """Answers every geocoding request with an empty result, like Nominatim for an unknown place."""

    def do_GET(self) -> None:
        body = b"[]"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def local_nominatim() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Nominatim)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def test_place_query_that_finds_nothing(local_nominatim: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import osmnx as ox

    monkeypatch.setattr(ox.settings, "nominatim_url", local_nominatim)
    with pytest.raises(SourceNotFoundError, match="found no area"):
        load_network("Kabupaten Yang Tidak Ada, Indonesia")


def test_slug_like_name_far_from_every_region_is_a_place_query(
    local_nominatim: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A one-word source that is no region slug (nor close to one) is geocoded as a place."""
    import osmnx as ox

    monkeypatch.setattr(ox.settings, "nominatim_url", local_nominatim)
    with pytest.raises(SourceNotFoundError, match="found no area"):
        load_network("kabupaten-zzz")


def test_place_query_without_internet(monkeypatch: pytest.MonkeyPatch) -> None:
    import osmnx as ox

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: connections are refused
    monkeypatch.setattr(ox.settings, "nominatim_url", f"http://127.0.0.1:{port}/")
    monkeypatch.setattr(ox.settings, "requests_timeout", 2)
    with pytest.raises(DownloadError, match=r"local \.osm\.pbf"):
        load_network("Kabupaten Bantaeng, Sulawesi Selatan, Indonesia")


def test_atomic_outputs_get_the_usual_modes(tmp_path: Path) -> None:
    import os

    from geodispatch.output import atomic_dir, atomic_file

    mask = os.umask(0o022)
    try:
        with atomic_file(tmp_path / "a.csv") as tmp:
            tmp.write_text("x")
        with atomic_dir(tmp_path / "out") as tmp_dir:
            (tmp_dir / "f.txt").write_text("y")
    finally:
        os.umask(mask)
    assert (tmp_path / "a.csv").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "out").stat().st_mode & 0o777 == 0o755
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
