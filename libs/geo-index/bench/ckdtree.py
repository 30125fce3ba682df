"""scipy cKDTree baseline for `nx run geo-index:bench` (run by bench.ts, not on its own).

Usage: python3 ckdtree.py PASSES CATALOGUE.csv NAME=QUERIES.f64 [NAME=QUERIES.f64 ...]

CATALOGUE.csv is the bench's station CSV (id, latitude, longitude, ...); each QUERIES.f64 holds
little-endian float64 (lat, lon) pairs in degrees, written by bench.ts, so both sides answer the
same queries. Stations and queries become 3-D unit vectors (cKDTree's best case for great-circle
nearest: chord order is great-circle order); the conversion is done once, outside the timing, and
only `tree.query(points, k=1)` (one batch call, one thread) is timed: CPU time of this process,
best of PASSES passes of at least MIN_SECONDS each. For each NAME the nearest catalogue rows are
written to QUERIES.f64.ckdtree.i32 (int32, in query order) so bench.ts can compare answers.
Prints one JSON object on stdout.
"""

import csv
import json
import sys
import time

import numpy as np
import scipy
from scipy.spatial import cKDTree

MIN_SECONDS = 0.4


def unit_vectors(lat_deg, lon_deg):
    lat = np.radians(lat_deg)
    lon = np.radians(lon_deg)
    cos_lat = np.cos(lat)
    return np.column_stack((cos_lat * np.cos(lon), cos_lat * np.sin(lon), np.sin(lat)))


def load_catalogue(path):
    with open(path, newline="", encoding="utf-8") as f:
        rows = csv.DictReader(f)
        lat, lon = [], []
        for row in rows:
            lat.append(float(row["latitude"]))
            lon.append(float(row["longitude"]))
    return np.array(lat), np.array(lon)


def queries_per_second(tree, points, passes):
    best = 0.0
    for _ in range(passes):
        done = 0
        start = time.process_time()
        while time.process_time() - start < MIN_SECONDS:
            tree.query(points, k=1)
            done += len(points)
        best = max(best, done / (time.process_time() - start))
    return best


def main(argv):
    passes, catalogue, query_files = int(argv[0]), argv[1], argv[2:]
    lat, lon = load_catalogue(catalogue)
    stations = unit_vectors(lat, lon)
    start = time.perf_counter()
    tree = cKDTree(stations)
    build_ms = (time.perf_counter() - start) * 1000
    result = {
        "scipy": scipy.__version__,
        "numpy": np.__version__,
        "python": sys.version.split()[0],
        "stations": len(stations),
        "build_ms": build_ms,
        "qps": {},
    }
    for spec in query_files:
        name, path = spec.split("=", 1)
        pairs = np.fromfile(path, dtype="<f8").reshape(-1, 2)
        points = unit_vectors(pairs[:, 0], pairs[:, 1])
        _, rows = tree.query(points, k=1)
        rows.astype("<i4").tofile(path + ".ckdtree.i32")
        result["qps"][name] = queries_per_second(tree, points, passes)
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
