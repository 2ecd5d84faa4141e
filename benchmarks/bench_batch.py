"""Batch benchmark: regions per minute on a Dask cluster of 1, 2 and N worker processes.

Each configuration runs the same manifest from scratch (fresh output folder, fresh
``distributed.LocalCluster``; its start-up is timed apart): 20 synthetic regencies of mixed sizes
and the real OSM networks of ``../shared/data/roads`` (with the stations files of
``data/batch/stations``), every job exactly ``geodispatch coverage`` with its files and maps. The
peer of N workers is the same batch on one worker (the speed-up column).

From the per-job times measured on the worker (one worker, so no two jobs share a core), a
least-squares line ``seconds = a + b * nodes`` projects the whole country: the 514
kabupaten/kota of ``../shared/data/boundaries/indonesia_kabupaten_kota.geojson`` sized by their
area times a road-node density (nodes per km²: the real OSM extracts' for a *kota*, the
synthetic regency's for a *kabupaten*; both printed: an assumption, not a measurement), on this
machine with N workers and on a 32-worker cluster at the parallel efficiency measured here.

The machine's load average is printed before and after each configuration: on a shared machine
other people's work competes for the same cores and the speed-up says little.

Run: ``.venv/bin/python benchmarks/bench_batch.py [--jobs 20] [--max-nodes 3000] [--workers 1 2 4]``
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, SHARED_DATA, console, print_table

REAL = {
    "balikpapan-kota": ("balikpapan_kota_drive.graphml", "balikpapan_fire_posts.csv"),
    "klandasan-ilir": ("klandasan_ilir_drive.graphml", "balikpapan_fire_posts.csv"),
    "jatinegara": ("jakarta_jatinegara_drive.graphml", "jakarta_timur_puskesmas.csv"),
    "bandung-coblong": ("bandung_coblong_drive.graphml", "bandung_referral_hospitals.csv"),
    # no station within 1 km of its roads: an error row (as in data/batch/example.csv), timed too
    "bandung-buahbatu": ("bandung_buahbatu_drive.graphml", "bandung_referral_hospitals.csv"),
}


def synthetic_sizes(n_jobs: int, max_nodes: int) -> list[int]:
    """Mixed sizes from 300 nodes to ``max_nodes``, geometric, shuffled deterministically."""
    sizes = np.geomspace(300, max_nodes, n_jobs).round(-1).astype(int)
    return [int(s) for s in np.random.default_rng(7).permutation(sizes)]


def write_manifest(folder: Path, sizes: list[int], real: bool) -> Path:
    rows = [{"name": f"sint-{i:02d}-{n}", "source": f"synthetic:{n}", "stations": ""} for i, n in enumerate(sizes)]
    if real:
        for name, (roads, stations) in REAL.items():
            path = SHARED_DATA / "roads" / roads
            if path.exists():
                rows.append({"name": name, "source": str(path),
                             "stations": str(REPO / "data" / "batch" / "stations" / stations)})
    manifest = folder / "manifest.csv"
    pd.DataFrame(rows).to_csv(manifest, index=False)
    return manifest


def run_config(manifest: Path, workers: int, folder: Path) -> dict[str, Any]:
    """One batch from scratch on a fresh local cluster of ``workers`` processes."""
    from distributed import Client, LocalCluster

    from geodispatch.batch import run_batch_coverage

    load_before = os.getloadavg()[0]
    t0 = time.perf_counter()
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
    client = Client(cluster)
    client.wait_for_workers(workers)
    # import on every worker first so the timed batch measures jobs, not interpreter start-up
    client.run(lambda: __import__("geodispatch.coverage") and None)
    startup = time.perf_counter() - t0
    try:
        t1 = time.perf_counter()
        res = run_batch_coverage(manifest, folder / f"out-{workers}", client=client)
        wall = time.perf_counter() - t1
    finally:
        client.close()
        cluster.close()
    return {"workers": workers, "startup_s": startup, "wall_s": wall, "rows": res.rows, "failed": res.failed,
            "load": (load_before, os.getloadavg()[0])}


def projection(per_job: pd.DataFrame, configs: list[dict[str, Any]]) -> None:
    """Project the 514 kabupaten/kota from the measured cost per node."""
    import geopandas as gpd

    from geodispatch.network.load import load_network

    ok = per_job.dropna(subset=["nodes", "elapsed_s"])
    b, a = np.polyfit(ok["nodes"].to_numpy(float), ok["elapsed_s"].to_numpy(float), 1)
    if b < 0:  # sizes too alike (or load too uneven) to see the per-node cost: never project a negative one
        console.print(f"[red]fitted per-node cost {1000 * b:.3f} s per 1,000 nodes is negative: the jobs' sizes are "
                      "too close for a slope; projecting with the mean job time and no per-node cost (an "
                      "underestimate for large regions)[/red]")
        b, a = 0.0, float(ok["elapsed_s"].mean())
    console.print(f"per-job time on one worker: {a:.2f} s + {1000 * b:.3f} s per 1,000 nodes (least squares, "
                  f"{len(ok)} jobs, {int(ok['nodes'].min()):,}-{int(ok['nodes'].max()):,} nodes)")
    bpath = SHARED_DATA / "boundaries" / "indonesia_kabupaten_kota.geojson"
    if not bpath.exists():
        console.print(f"no {bpath}: projection skipped")
        return
    gdf = gpd.read_file(bpath)
    area = gdf.to_crs(6933).area.to_numpy() / 1e6  # equal-area CRS, km²
    kota = gdf["nama"].str.startswith("Kota").to_numpy()

    def density(net: Any) -> float:
        hull = gpd.GeoSeries(gpd.points_from_xy(net.lon, net.lat), crs=4326).to_crs(6933).union_all().convex_hull
        return float(net.n_nodes / (hull.area / 1e6))

    urban = [density(load_network(SHARED_DATA / "roads" / r)) for r, _ in REAL.values()
             if (SHARED_DATA / "roads" / r).exists()]
    from geodispatch.scenario import load_scenario

    rural = density(load_scenario("synthetic:20000").network)
    dens = np.where(kota, float(np.median(urban)), rural)
    nodes = area * dens
    cost = a + b * nodes
    console.print(f"road-node density assumed: kota {np.median(urban):,.0f} /km² (median of the real OSM extracts), "
                  f"kabupaten {rural:,.0f} /km² (synthetic regency); 514 jobs, {nodes.sum() / 1e6:,.1f} M nodes "
                  f"in all, largest {nodes.max() / 1e3:,.0f} k nodes ({gdf['nama'].iloc[int(np.argmax(nodes))]})")
    total = float(cost.sum())
    eff = {c["workers"]: (configs[0]["wall_s"] * configs[0]["workers"]) / (c["wall_s"] * c["workers"])
           for c in configs}
    best = max(configs, key=lambda c: len(per_job) / c["wall_s"])
    rows = [["1 worker", f"{total / 3600:.1f}", "1.00"]]
    rows.append([f"this machine, {best['workers']} workers",
                 f"{max(total / (best['workers'] * eff[best['workers']]), cost.max()) / 3600:.1f}",
                 f"{eff[best['workers']]:.2f}"])
    e32 = min(eff[c["workers"]] for c in configs if c["workers"] > 1) if len(configs) > 1 else 1.0
    rows.append(["32-worker cluster", f"{max(total / (32 * e32), cost.max()) / 3600:.2f}",
                 f"{e32:.2f} (as measured here)"])
    rows.append(["32-worker cluster", f"{max(total / 32, cost.max()) / 3600:.2f}", "1.00 (ideal)"])
    print_table("Projection: all 514 kabupaten/kota (hours; makespan >= the largest job)",
                ["where", "hours", "parallel efficiency"], rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=20, help="synthetic regencies")
    parser.add_argument("--max-nodes", type=int, default=3000, help="largest synthetic regency, nodes")
    parser.add_argument("--workers", type=int, nargs="+", default=None, help="worker counts (default 1 2 cores)")
    parser.add_argument("--no-real", action="store_true", help="synthetic regencies only")
    args = parser.parse_args()
    from geodispatch.batch.cluster import default_workers

    counts = args.workers or sorted({1, 2, default_workers()})
    console.print(f"cores: {os.cpu_count()} ({default_workers()} usable by this process): at most "
                  f"{default_workers()} workers make sense here; load average now {os.getloadavg()}")
    sizes = synthetic_sizes(args.jobs, args.max_nodes)
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
        folder = Path(tmp)
        manifest = write_manifest(folder, sizes, real=not args.no_real)
        n_jobs = len(pd.read_csv(manifest))
        console.print(f"{n_jobs} jobs: synthetic sizes {sorted(sizes)}" + ("" if args.no_real else " + real networks"))
        configs = [run_config(manifest, w, folder) for w in counts]
    base = configs[0]
    rows = []
    for c in configs:
        rate = n_jobs / c["wall_s"] * 60
        rows.append([c["workers"], n_jobs, c["failed"], f"{c['startup_s']:.1f}", f"{c['wall_s']:.1f}", f"{rate:.2f}",
                     f"{base['wall_s'] / c['wall_s']:.2f}x", f"{c['load'][0]:.1f} -> {c['load'][1]:.1f}"])
    print_table(f"Batch coverage, {n_jobs} regions (each = geodispatch coverage with all its files)",
                ["workers", "jobs", "failed", "cluster start s", "batch s", "jobs/min", "speed-up vs 1 worker",
                 "load avg before -> after"], rows)
    per_job = pd.DataFrame(base["rows"])[["name", "status", "nodes", "elapsed_s"]]
    projection(per_job[per_job["status"] == "ok"], configs)


if __name__ == "__main__":
    main()
