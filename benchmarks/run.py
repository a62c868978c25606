"""`make bench`: figures for read + validate and for the transform into all four vendors' payloads, on
a large synthetic catalog.

Each stage runs in a fresh child process so its peak memory is its own. Prints a table and JSON.

    python -m benchmarks.run [--courses 50000 --lessons 1000000 --materials 500000] [--skip scale] [--scale-quick]

The last stage, scale (benchmarks/scale.py), syncs 100 accounts x 500 courses through celery workers.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import time
from pathlib import Path

from tabulate import tabulate

from . import scale
from .cartridges import make_cartridges
from .generate import generate

OUT = Path(__file__).parent / "out"
TARGETS = {"read_validate": {"seconds": 20.0, "peak_mb": 2048},
           "transform": {"seconds": 20.0, "peak_mb": 3072}}


def _read_validate(sources_file: str, queue) -> None:
    from course_pipeline import pipeline
    from course_pipeline.catalog.sources import load_sources

    (source,) = load_sources(sources_file)
    started = time.perf_counter()
    catalog = pipeline.extract(source)
    read_s = time.perf_counter() - started
    result = pipeline.validate(catalog)
    total_s = time.perf_counter() - started
    rows = sum(len(f) for f in catalog.tables.values())
    queue.put({
        "stage": "read_validate", "rows": rows, "seconds": round(total_s, 2), "read_seconds": round(read_s, 2),
        "validate_seconds": round(total_s - read_s, 2), "rows_per_second": round(rows / total_s),
        "rejected_rows": result.rejected_rows,
        "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    })


def _transform(sources_file: str, queue) -> None:
    """All four vendors' payloads from the valid catalog (read + validate done first, not timed)."""
    from course_pipeline import pipeline
    from course_pipeline.catalog.sources import load_sources
    from course_pipeline.vendors import BUILDERS

    (source,) = load_sources(sources_file)
    result = pipeline.read(source)
    valid = result.valid
    started = time.perf_counter()
    sets = pipeline.build(result, [builder() for builder in BUILDERS.values()])
    seconds = time.perf_counter() - started
    courses = len(valid["courses"])
    queue.put({
        "stage": "transform", "rows": courses + len(valid["lessons"]), "seconds": round(seconds, 2),
        "courses_per_second": round(courses / seconds),
        "items": {name: len(s.items) for name, s in sets.items()},
        "vendor_rejects": {name: len(s.rejects) for name, s in sets.items()},
        "payload_mb": round(sum(len(i.body_json) for s in sets.values() for i in s.items) / 1e6),
        "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    })


def _load(courses: int, queue) -> None:
    from .load import run_load

    queue.put({"stage": "load", "rows": run_load(courses)})


def _ti_load(courses: int, queue) -> None:
    from .thought_industries import run_ti_load

    queue.put({"stage": "ti_load", "rows": run_ti_load(courses)})


def measure(stage, *args) -> dict:
    context = mp.get_context("spawn")  # a clean interpreter: peak memory is this stage's alone
    queue = context.Queue()
    process = context.Process(target=stage, args=(*args, queue))
    process.start()
    figures = queue.get()
    process.join()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--courses", type=int, default=50_000)
    parser.add_argument("--lessons", type=int, default=1_000_000)
    parser.add_argument("--materials", type=int, default=500_000)
    parser.add_argument("--load-courses", type=int, default=600, help="courses in the load benchmark")
    parser.add_argument("--skip", nargs="*", default=[],
                        choices=["read_validate", "transform", "load", "cartridges", "ti_load", "scale"])
    parser.add_argument("--ti-courses", type=int, default=5000, help="courses in the Thought Industries load")
    parser.add_argument("--scale-quick", action="store_true",
                        help="the scale stage's --quick (4 accounts, windows / 10) instead of 100 accounts x 500")
    args = parser.parse_args()
    folder = OUT / f"catalog_{args.courses}_{args.lessons}_{args.materials}"
    sources_file = folder / "sources.yaml"
    if not sources_file.exists() and {"read_validate", "transform"} - set(args.skip):
        started = time.perf_counter()
        generate(folder, courses=args.courses, lessons=args.lessons, materials=args.materials)
        print(f"generated synthetic catalog in {folder} ({time.perf_counter() - started:.1f} s)")
    figures = []
    if "read_validate" not in args.skip:
        figures.append(measure(_read_validate, str(sources_file)))
    if "transform" not in args.skip:
        figures.append(measure(_transform, str(sources_file)))
    if "cartridges" not in args.skip:  # read + validate a folder of 200 IMS Common Cartridges
        cartridges = make_cartridges(OUT / "cartridges_200")
        figures.append({**measure(_read_validate, str(cartridges)), "stage": "cartridges"})
    load_rows = measure(_load, args.load_courses)["rows"] if "load" not in args.skip else []
    ti_rows = measure(_ti_load, args.ti_courses)["rows"] if "ti_load" not in args.skip else []
    for row in figures:
        target = TARGETS.get(row["stage"], {})
        row["target"] = f"<= {target['seconds']:.0f} s, < {target['peak_mb']} MB" if target else ""
        row["met"] = bool(target) and row["seconds"] <= target["seconds"] and row["peak_mb"] < target["peak_mb"]
    print(tabulate([{k: v for k, v in row.items() if not isinstance(v, dict)} for row in figures], headers="keys"))
    if load_rows:
        print(f"\nload against the sandbox ({args.load_courses} courses, 50 ms latency; targets: requests = minimum, "
              "wall time <= 1.10 x bound, no 429):")
        print(tabulate(load_rows, headers="keys"))
    if ti_rows:
        print(f"\nThought Industries initial load ({args.ti_courses} courses; 60/min, 1,000/h, 5 in flight on both "
              "sides; single on windows scaled 1/100, its seconds scaled back; targets: bulk <= 50 requests, "
              "wall time <= 1.10 x bound, no 429):")
        print(tabulate(ti_rows, headers="keys"))
    # Last: it starts its own PostgreSQL, celery workers and runs, and prints its own table and JSON.
    scale_rows = scale.main(["--quick"] if args.scale_quick else []) if "scale" not in args.skip else []
    print(json.dumps({"catalog": {"courses": args.courses, "lessons": args.lessons, "materials": args.materials},
                      "results": figures, "load": load_rows, "thought_industries": ti_rows, "scale": scale_rows},
                     indent=2))


if __name__ == "__main__":
    main()
