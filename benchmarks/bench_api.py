"""Load test of the dispatch API: a real ``geodispatch serve`` on loopback, synthetic regency.

Starts the server on ``synthetic:100000`` (about 95,000 nodes) with a fresh SQLite file (or
``--db`` PostgreSQL URL), creates 200 units from the regency's stations, then offers a
sustained stream of operations at increasing rates. One operation is what a dispatcher does:

1. ``POST /incidents`` (snap, recommendation from the engine, insert): the timed figure the
   target is about (p99 < 100 ms at 50 req/s);
2. ``POST /incidents/{id}/dispatch`` confirming the recommended units (409 when another
   dispatcher got one of them first: counted as a conflict, not an error);
3. ``PATCH /incidents/{id}`` cancelling it, so the units return to the pool.

A stage's rate counts operations (about three requests each); the table shows both.

The load is open-loop (a scheduler issues operations at the stage's rate, whatever the
latency), bounded in count and time, and stops by itself. A creation's latency is measured
from the time it was *scheduled* to be sent, not from when a client thread picked it up: when
the server falls behind, the wait for a free client thread is part of what a caller sees.
Each client thread keeps one HTTP/1.1 connection (``http.client``; httpx cost 8-18 ms of
client CPU per operation, this 2 ms). Each stage also reports the CPU time the server's
processes and this client used per operation (what bounds the rate on a machine whose cores both share). At the end a
consistency check reads the database directly: every created incident is there,
no unit has two active assignments, every unit's incident matches its active assignment.
Loopback only.

Usage::

    .venv/bin/python benchmarks/bench_api.py                      # stages 10, 25, 50, 75 req/s
    .venv/bin/python benchmarks/bench_api.py --rates 50 --seconds 20
    .venv/bin/python benchmarks/bench_api.py --processes 2 --db postgresql+psycopg://USER@HOST/DB
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))

from api_harness import ServerProcess, auth  # noqa: E402

INCIDENT_MIX = [("medis", 0.6), ("kecelakaan", 0.25), ("kebakaran", 0.1), ("penyelamatan", 0.05)]
UNIT_MIX = {"ambulance": 110, "damkar": 35, "polisi": 35, "rescue": 10, "bpbd": 5, "sar": 5}


@dataclass
class Stage:
    rate: float
    create_ms: list[float] = field(default_factory=list)
    create_server_ms: list[float] = field(default_factory=list)
    dispatch_ms: list[float] = field(default_factory=list)
    cancel_ms: list[float] = field(default_factory=list)
    conflicts: int = 0
    errors: list[str] = field(default_factory=list)
    created: list[int] = field(default_factory=list)
    offered: int = 0
    wall_s: float = 0.0
    server_cpu_s: float = 0.0
    client_cpu_s: float = 0.0


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def _server_ms(response: _Reply) -> float:
    """The server's own time for a request (its Server-Timing header), milliseconds."""
    text = response.headers.get("server-timing", "")
    _, _, dur = text.partition("dur=")
    return float(dur) if dur else float("nan")


def _units(scenario: Any, n: int, seed: int) -> list[dict[str, Any]]:
    """n unit bodies, by UNIT_MIX, at randomly chosen stations that have such a unit type."""
    rng = random.Random(seed)
    by_type: dict[str, list[Any]] = {}
    for s in scenario.stations:
        for u in s.units:
            by_type.setdefault(u.type, []).append((s, u))
    bodies = []
    for utype, count in UNIT_MIX.items():
        pool = by_type.get(utype) or [(s, None) for s in scenario.stations]
        for i in range(count):
            s, u = rng.choice(pool)
            bodies.append({"id": f"{utype}-{i:03d}", "type": utype, "lon": s.lon, "lat": s.lat,
                           "capabilities": list(u.capabilities) if u is not None else []})
    return bodies[:n]


@dataclass
class _Reply:
    status_code: int
    text: str
    headers: dict[str, str]

    def json(self) -> Any:
        return json.loads(self.text)


class _Connection:
    """A keep-alive HTTP/1.1 connection of one client thread (the standard library's
    ``http.client``: a few times less client CPU per request than httpx, and the client shares
    the machine's cores with the server it measures)."""

    def __init__(self, url: str, headers: dict[str, str], timeout_s: float = 30.0) -> None:
        parts = urlsplit(url)
        self._host, self._port, self._timeout = parts.hostname or "127.0.0.1", parts.port or 80, timeout_s
        self._headers = {**headers, "Content-Type": "application/json"}
        self._conn: http.client.HTTPConnection | None = None

    def _request(self, method: str, path: str, body: Any) -> _Reply:
        data = json.dumps(body).encode()
        for attempt in range(2):  # the server may close an idle keep-alive connection: reconnect once
            if self._conn is None:
                self._conn = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
            try:
                self._conn.request(method, path, body=data, headers=self._headers)
                resp = self._conn.getresponse()
                text = resp.read().decode()
                return _Reply(resp.status, text, {k.lower(): v for k, v in resp.getheaders()})
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def post(self, path: str, json: Any) -> _Reply:
        return self._request("POST", path, json)

    def patch(self, path: str, json: Any) -> _Reply:
        return self._request("PATCH", path, json)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _operation(client: _Connection, stage: Stage, lock: threading.Lock, body: dict[str, Any], due: float) -> None:
    """One operation; the creation's latency counts from ``due``, when it was scheduled to be sent
    (open loop: time spent waiting for a free client thread is queueing the server caused)."""
    r = client.post("/incidents", json=body)
    t1 = time.perf_counter()
    if r.status_code != 201:
        with lock:
            stage.errors.append(f"create {r.status_code}: {r.text[:120]}")
        return
    inc = r.json()
    with lock:
        stage.create_ms.append((t1 - due) * 1000)
        stage.create_server_ms.append(_server_ms(r))
        stage.created.append(inc["id"])
    if inc["recommendation"]["unit_ids"]:
        r = client.post(f"/incidents/{inc['id']}/dispatch", json={})
        t2 = time.perf_counter()
        with lock:
            if r.status_code == 200:
                stage.dispatch_ms.append((t2 - t1) * 1000)
            elif r.status_code == 409 and r.json()["error"] == "unit_unavailable":
                stage.conflicts += 1
            else:
                stage.errors.append(f"dispatch {r.status_code}: {r.text[:120]}")
    t3 = time.perf_counter()
    r = client.patch(f"/incidents/{inc['id']}", json={"status": "cancelled"})
    t4 = time.perf_counter()
    with lock:
        if r.status_code == 200:
            stage.cancel_ms.append((t4 - t3) * 1000)
        else:
            stage.errors.append(f"cancel {r.status_code}: {r.text[:120]}")


def _run_stage(url: str, key: str, rate: float, seconds: float, points: list[tuple[float, float]], seed: int,
               max_workers: int) -> Stage:
    stage = Stage(rate)
    lock = threading.Lock()
    rng = random.Random(seed)
    local = threading.local()
    clients: list[_Connection] = []

    def client() -> _Connection:
        if not hasattr(local, "client"):
            local.client = _Connection(url, auth(key))
            with lock:
                clients.append(local.client)
        return local.client  # type: ignore[no-any-return]

    def job(body: dict[str, Any], due: float) -> None:
        try:
            _operation(client(), stage, lock, body, due)
        except (OSError, http.client.HTTPException) as exc:
            with lock:
                stage.errors.append(f"transport: {exc!r}")

    n = int(rate * seconds)
    types = [t for t, _ in INCIDENT_MIX]
    weights = [w for _, w in INCIDENT_MIX]
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        for i in range(n):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            lon, lat = rng.choice(points)
            body = {"type": rng.choices(types, weights)[0], "priority": rng.choice([1, 1, 2, 3]),
                    "lon": lon + rng.uniform(-0.002, 0.002), "lat": lat + rng.uniform(-0.002, 0.002)}
            pool.submit(job, body, due)
            stage.offered += 1
    stage.wall_s = time.perf_counter() - start
    for c in clients:
        c.close()
    return stage


def _consistency(db_url: str, created: list[int]) -> list[str]:
    """Problems found by reading the database directly (empty = consistent)."""
    from sqlalchemy import create_engine, text

    from geodispatch.api.db import normalise_url

    problems = []
    engine = create_engine(normalise_url(db_url))
    with engine.connect() as conn:
        ids = {row[0] for row in conn.execute(text("SELECT id FROM incidents"))}
        missing = set(created) - ids
        if missing:
            problems.append(f"{len(missing)} created incidents missing")
        double = conn.execute(text(
            "SELECT unit_id, COUNT(*) FROM assignments WHERE active GROUP BY unit_id HAVING COUNT(*) > 1")).all()
        if double:
            problems.append(f"{len(double)} units with two active assignments")
        mismatch = conn.execute(text(
            "SELECT u.id FROM units u LEFT JOIN assignments a ON a.unit_id = u.id AND a.active "
            "WHERE COALESCE(u.incident_id, -1) != COALESCE(a.incident_id, -1)")).all()
        if mismatch:
            problems.append(f"{len(mismatch)} units whose incident differs from their active assignment")
        on_closed = conn.execute(text(
            "SELECT COUNT(*) FROM assignments a JOIN incidents i ON i.id = a.incident_id "
            "WHERE a.active AND i.status IN ('closed', 'cancelled')")).scalar()
        if on_closed:
            problems.append(f"{on_closed} active assignments on closed/cancelled incidents")
    engine.dispose()
    return problems


def _server_cpu_s(server: ServerProcess) -> float:
    """CPU time (user + system) used so far by the server's processes, seconds."""
    import psutil

    assert server.proc is not None
    root = psutil.Process(server.proc.pid)
    total = 0.0
    for p in [root, *root.children(recursive=True)]:
        try:
            times = p.cpu_times()
            total += times.user + times.system
        except psutil.Error:
            pass
    return total


def _settle(server: ServerProcess, idle_cpu_s: float = 0.1, window_s: float = 2.0, limit_s: float = 180.0) -> float:
    """Wait until the server's processes use less than ``idle_cpu_s`` of CPU in ``window_s``
    (background start-up work done), at most ``limit_s``; return the seconds waited."""
    t0 = time.perf_counter()

    def cpu() -> float:
        return _server_cpu_s(server)

    before = cpu()
    while time.perf_counter() - t0 < limit_s:
        time.sleep(window_s)
        now = cpu()
        if now - before < idle_cpu_s:
            break
        before = now
    return time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default="synthetic:100000")
    parser.add_argument("--db", default=None, help="Database URL (default: a fresh SQLite file in a temp dir)")
    parser.add_argument("--units", type=int, default=200)
    parser.add_argument("--rates", default="10,25,50,75", help="Offered operations per second, per stage")
    parser.add_argument("--seconds", type=float, default=20.0, help="Length of each stage, seconds")
    parser.add_argument("--workers", type=int, default=64, help="Client threads (max operations in flight)")
    parser.add_argument("--processes", type=int, default=1,
                        help="Server processes on the one database (geodispatch serve --workers N)")
    parser.add_argument("--json", type=Path, default=None, help="Also write the figures as JSON here")
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    if len(rates) * args.seconds > 300:
        parser.error("bounded: stages x seconds must stay under 300 s")

    from geodispatch.api.keys import create_key_cli
    from geodispatch.scenario import load_scenario

    tmp = Path(tempfile.mkdtemp(prefix="gd-bench-api-"))
    db_url = args.db or f"sqlite:///{tmp / 'bench.db'}"
    t0 = time.perf_counter()
    scenario = load_scenario(args.source)
    print(f"network: {scenario.name}, {scenario.network.n_nodes:,} nodes, {scenario.network.n_edges:,} edges "
          f"(generated in {time.perf_counter() - t0:.1f} s)")
    admin, dispatcher = create_key_cli(db_url, "admin"), create_key_cli(db_url, "dispatcher")
    server = ServerProcess(args.source, db_url,
                           extra_args=["--workers", str(args.processes)] if args.processes > 1 else [])
    t0 = time.perf_counter()
    server.start(timeout_s=240)
    print(f"server up on {server.url} in {time.perf_counter() - t0:.1f} s (db: {db_url.split('://')[0]})")
    stages: list[Stage] = []
    try:
        bodies = _units(scenario, args.units, seed=1)
        with httpx.Client(base_url=server.url, headers=auth(admin), timeout=30) as client:
            for body in bodies:
                r = client.post("/units", json=body)
                if r.status_code != 201:
                    raise SystemExit(f"could not create unit {body['id']}: {r.status_code} {r.text}")
        points = [(s.lon, s.lat) for s in scenario.stations]
        _run_stage(server.url, dispatcher, 5.0, 2.0, points, seed=0, max_workers=4)  # warm-up, not reported
        waited = _settle(server)
        print(f"server idle after {waited:.0f} s (start-up work in the background, e.g. the contraction hierarchy)")
        for i, rate in enumerate(rates):
            server_cpu, client_cpu = _server_cpu_s(server), time.process_time()
            stage = _run_stage(server.url, dispatcher, rate, args.seconds, points, seed=i + 1,
                               max_workers=args.workers)
            stage.server_cpu_s = _server_cpu_s(server) - server_cpu
            stage.client_cpu_s = time.process_time() - client_cpu
            stages.append(stage)
    finally:
        server.stop()
    created = [i for s in stages for i in s.created]
    problems = _consistency(db_url, created)

    header = (f"{'offered/s':>9} {'ops':>5} {'achieved/s':>10} {'req/s':>6} {'create p50':>10} {'p95':>7} {'p99':>7} "
              f"{'max':>7} "
              f"{'server p99':>10} {'dispatch p50':>12} {'p99':>7} {'cancel p99':>10} {'409s':>5} {'errors':>6} "
              f"{'server CPU/op':>13} {'client CPU/op':>13}")
    print(f"\nAPI load test: {args.units} units, {scenario.name}, {db_url.split('://')[0]}, "
          f"{args.processes} server process(es), {len(os.sched_getaffinity(0))} cores, "
          f"stages of {args.seconds:g} s (latencies in ms, from each creation's scheduled send time); "
          f"load average before: {os.getloadavg()[0]:.1f}")
    print(header)
    print("-" * len(header))
    rows = []
    for s in stages:
        ops = len(s.create_ms)
        achieved = ops / s.wall_s if s.wall_s else 0.0
        requests = len(s.create_ms) + len(s.dispatch_ms) + s.conflicts + len(s.cancel_ms) + len(s.errors)
        req_rate = requests / s.wall_s if s.wall_s else 0.0
        row = {
            "offered_per_s": s.rate, "operations": ops, "achieved_per_s": round(achieved, 1),
            "requests_per_s": round(req_rate, 1),
            "create_p50_ms": round(_pct(s.create_ms, 50), 1), "create_p95_ms": round(_pct(s.create_ms, 95), 1),
            "create_p99_ms": round(_pct(s.create_ms, 99), 1),
            "create_max_ms": round(max(s.create_ms), 1) if s.create_ms else float("nan"),
            "create_server_p99_ms": round(_pct(s.create_server_ms, 99), 1),
            "dispatch_p50_ms": round(_pct(s.dispatch_ms, 50), 1), "dispatch_p99_ms": round(_pct(s.dispatch_ms, 99), 1),
            "cancel_p99_ms": round(_pct(s.cancel_ms, 99), 1), "conflicts_409": s.conflicts, "errors": len(s.errors),
            "server_cpu_ms_per_op": round(s.server_cpu_s / ops * 1000, 1) if ops else float("nan"),
            "client_cpu_ms_per_op": round(s.client_cpu_s / ops * 1000, 1) if ops else float("nan"),
        }
        rows.append(row)
        print(f"{s.rate:>9g} {ops:>5} {achieved:>10.1f} {req_rate:>6.0f} "
              f"{row['create_p50_ms']:>10.1f} {row['create_p95_ms']:>7.1f} "
              f"{row['create_p99_ms']:>7.1f} {row['create_max_ms']:>7.1f} {row['create_server_p99_ms']:>10.1f} "
              f"{row['dispatch_p50_ms']:>12.1f} {row['dispatch_p99_ms']:>7.1f} "
              f"{row['cancel_p99_ms']:>10.1f} {s.conflicts:>5} {len(s.errors):>6} "
              f"{row['server_cpu_ms_per_op']:>13.1f} {row['client_cpu_ms_per_op']:>13.1f}")
        for err in s.errors[:3]:
            print(f"    error: {err}")
    mean_all = statistics.fmean([x for s in stages for x in s.create_ms]) if created else float("nan")
    print(f"\nincidents created: {len(created):,} (mean create {mean_all:.1f} ms); "
          f"consistency check: {'OK' if not problems else '; '.join(problems)}")
    at50 = [r for r in rows if r["offered_per_s"] == 50]
    if at50:
        verdict = "met" if at50[0]["create_p99_ms"] < 100 else "NOT met"
        print(f"target p99 < 100 ms for incident creation at 50 creations/s: {verdict} ({at50[0]['create_p99_ms']} ms)")
    busy = [r for r in rows if r["requests_per_s"] >= 50]
    if busy:
        first = busy[0]
        verdict = "met" if first["create_p99_ms"] < 100 else "NOT met"
        print(f"at >= 50 requests/s in all ({first['requests_per_s']:.0f} req/s): "
              f"create p99 {first['create_p99_ms']} ms ({verdict})")
    if args.json:
        args.json.write_text(json.dumps({"db": db_url.split("://")[0], "processes": args.processes,
                                         "load_average": os.getloadavg(), "stages": rows,
                                         "consistency_problems": problems}, indent=2))
    return 1 if problems or any(s.errors for s in stages) else 0


if __name__ == "__main__":
    raise SystemExit(main())
