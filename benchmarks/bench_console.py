"""The operator's console in a real headless Chromium: first paint and create -> recommendation.

For each network (``synthetic`` and ``synthetic:100000`` by default) it starts a real
``geodispatch serve`` on loopback with a fresh SQLite file, creates units at the regency's
stations, opens ``/console`` in headless Chromium (Selenium, system chromedriver) and measures:

* **first paint**: from navigation start (key already in the tab's sessionStorage) to the
  console being ready: region, arterial roads drawn, units listed, the live stream open;
* **roads**: the arterial layer's payload (bytes on the wire, gzip) and its road count;
* **create -> recommendation**: from the click on *create* to the recommended units, ETAs and
  reasons shown (``POST /incidents`` with the engine's recommendation, and the panel drawn),
  for calls at random stations; and, as the peer on the same input in the same run, the same
  ``POST /incidents`` sent by a bare HTTP client (httpx): the console's own overhead is the
  difference.

Each created incident is cancelled at once, so every call sees the whole fleet. Loopback only.

Usage::

    .venv/bin/python benchmarks/bench_console.py                       # synthetic, synthetic:100000
    .venv/bin/python benchmarks/bench_console.py --sources synthetic --calls 10
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))

from api_harness import ServerProcess, auth, make_keys  # noqa: E402
from console_harness import Browser  # noqa: E402

MAX_UNITS = 200
"""Units created (at most; the first units of the stations, every type represented)."""


def _fleet(scenario: Any, n: int) -> list[dict[str, Any]]:
    bodies = [{"id": u.id, "type": u.type, "lon": s.lon, "lat": s.lat, "capabilities": list(u.capabilities)}
              for s in scenario.stations for u in s.units]
    if len(bodies) <= n:
        return bodies
    rng = random.Random(5)
    by_type: dict[str, list[dict[str, Any]]] = {}
    for b in bodies:
        by_type.setdefault(b["type"], []).append(b)
    picked = [rng.choice(group) for group in by_type.values()]
    rest = [b for b in bodies if b not in picked]
    return picked + rng.sample(rest, n - len(picked))


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(source: str, calls: int, seed: int) -> dict[str, Any]:
    from selenium.webdriver.support.ui import Select

    from geodispatch.scenario import load_scenario

    scenario = load_scenario(source)
    db = f"sqlite:///{tempfile.mkdtemp(prefix='gd-bench-console-')}/dispatch.db"
    keys = make_keys(db, "none")
    server = ServerProcess(source, db).start(timeout_s=600)
    browser = None
    try:
        admin = httpx.Client(base_url=server.url, headers=auth(keys["admin"]), timeout=60)
        fleet = _fleet(scenario, MAX_UNITS)
        for body in fleet:
            admin.post("/units", json=body).raise_for_status()
        browser = Browser()
        d = browser.driver
        d.get(server.url + "/console/")
        browser.js("sessionStorage.setItem('geodispatch.key', arguments[0])", keys["dispatcher"])
        d.get(server.url + "/console/")
        browser.wait(lambda: browser.js("return window.geodispatchConsole && window.geodispatchConsole.ready"), 300,
                     "the console")
        first_paint_ms = float(browser.js("return window.geodispatchConsole.readyAtMs"))
        roads = browser.js(
            "return performance.getEntriesByType('resource').filter(e => e.name.includes('/roads?level=arterial'))"
            ".map(e => [e.transferSize, e.encodedBodySize, e.duration])[0]")
        n_roads = int(browser.js("return window.geodispatchConsole.arterialRoads"))
        rng = random.Random(seed)
        stations = [s for s in scenario.stations if s.type in ("psc", "puskesmas", "rsud", "damkar")]
        dispatcher = httpx.Client(base_url=server.url, headers=auth(keys["dispatcher"]), timeout=60)
        console_ms, api_ms = [], []
        for _ in range(calls):
            s = rng.choice(stations)
            lon, lat = s.lon + rng.uniform(-0.004, 0.004), s.lat + rng.uniform(-0.004, 0.004)
            kind = rng.choice(["medis", "kecelakaan", "kebakaran"])
            try:
                runtime_check = dispatcher.get("/reach", params={"lon": lon, "lat": lat, "minutes": 1})
            except httpx.HTTPError:
                continue
            if runtime_check.status_code != 200:  # off the road network: pick another point
                continue
            for testid, value in (("incident-lon", lon), ("incident-lat", lat)):
                field = browser.find(testid)
                field.clear()
                field.send_keys(f"{value:.6f}")
            Select(browser.find("incident-type")).select_by_value(kind)
            browser.js("window.geodispatchConsole.lastCreateMs = null")
            browser.find("incident-create").click()
            ms = browser.wait(lambda: browser.js("return window.geodispatchConsole.lastCreateMs"), 60,
                              "the recommendation")
            console_ms.append(float(ms))
            incident = int(browser.js("return window.geodispatchConsole.state.selected"))
            dispatcher.patch(f"/incidents/{incident}", json={"status": "cancelled"})
            t0 = time.perf_counter()
            r = dispatcher.post("/incidents", json={"type": kind, "priority": 1, "lon": lon, "lat": lat})
            api_ms.append((time.perf_counter() - t0) * 1000)
            r.raise_for_status()
            dispatcher.patch(f"/incidents/{r.json()['id']}", json={"status": "cancelled"})
        return {
            "source": source, "nodes": scenario.network.n_nodes, "units": len(fleet),
            "first_paint_ms": first_paint_ms, "roads": n_roads,
            "roads_kb": (roads[0] or roads[1]) / 1024 if roads else float("nan"),
            "calls": len(console_ms), "console_p50": statistics.median(console_ms),
            "console_p95": _pct(console_ms, 0.95), "api_p50": statistics.median(api_ms), "api_p95": _pct(api_ms, 0.95),
        }
    finally:
        if browser is not None:
            browser.close()
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", default="synthetic,synthetic:100000")
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    rows = [run(src, args.calls, args.seed) for src in args.sources.split(",")]
    print("| network | nodes | units | first paint (ms) | arterial road lines (KB gzip) | calls | "
          "console create->recommendation p50 / p95 (ms) | bare POST /incidents p50 / p95 (ms) | ratio p50 |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['source']} | {r['nodes']:,} | {r['units']} | {r['first_paint_ms']:.0f} | "
              f"{r['roads']:,} ({r['roads_kb']:.0f}) | {r['calls']} | "
              f"{r['console_p50']:.0f} / {r['console_p95']:.0f} | "
              f"{r['api_p50']:.0f} / {r['api_p95']:.0f} | {r['console_p50'] / r['api_p50']:.2f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
