"""Benchmark the Dask engine against in-process streaming on partitioned citizens data.

    python bench/dask_bench.py --rows 2000000
    python bench/dask_bench.py --rows 20000000 --partition-rows 500000

The citizens table is generated once into --workdir, as one Parquet file (for
`apply_stream`) and as a directory of files of --partition-rows rows each (for
`apply_dask`); a partition size that is not a multiple of the noise block makes
blocks straddle files, as real uploads do. The policy is desensitize_bench's standard
one (masks, tokens, fakes, generalization, k=5 over every released column, noise).

Runs, each timed without its start-up:
- inprocess: `apply_stream` in a fresh child process (its peak RSS is its own);
- w1, w2: `apply_dask` on a LocalCluster of 1 and 2 worker processes (one task thread
  each; the engine's own threads as in-process); peak memory is the largest worker's.

same_release compares each Dask output with the in-process one, row by row in order
(the Dask engine writes rows in input order, so equal rows in order are the same
multiset) and value by value. Last line:
rows=N inprocess_s=A w1_s=B w2_s=C w2_over_w1=C/B same_release=1|0 peak_worker_mb=M
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.desensitize_bench import SECRET, STANDARD_POLICY  # noqa: E402

COMPARE_ROWS = 200_000


def peak_rss_mb() -> float:
    """This process's peak RSS. VmHWM, not ru_maxrss: a child started by fork and exec
    inherits its parent's ru_maxrss, and the workers start after the data is generated."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def generate(workdir: Path, rows: int, partition_rows: int) -> tuple[Path, Path]:
    """The table as one file and as partitions (reused when already there)."""
    from examples.generate_city_data import write

    whole = workdir / f"citizens_{rows}.parquet"
    parts = workdir / f"citizens_{rows}_by_{partition_rows}"
    if not whole.exists():
        write("citizens", rows, whole)
    if not parts.exists():
        staging = parts.with_name(parts.name + ".part")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        file = pq.ParquetFile(whole)
        for i, table in enumerate(_chunks(file.iter_batches(65_536), partition_rows)):
            pq.write_table(table, staging / f"part.{i}.parquet")
        staging.rename(parts)
    return whole, parts


def _chunks(batches: Iterator[pa.RecordBatch], rows: int) -> Iterator[pa.Table]:
    pending: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        pending.append(batch)
        count += batch.num_rows
        while count >= rows:
            table = pa.Table.from_batches(pending)
            yield table.slice(0, rows)
            pending, count = table.slice(rows).to_batches(), count - rows
    if count:
        yield pa.Table.from_batches(pending)


def run_inprocess(whole: Path, out: Path) -> dict[str, Any]:
    """apply_stream in a child process: its time and its own peak RSS."""
    code = (
        "import json, sys, time\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "from bench.dask_bench import child_stream\n"
        f"print(json.dumps(child_stream({str(whole)!r}, {str(out)!r})))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def child_stream(whole: str, out: str) -> dict[str, Any]:
    from desensitize import apply_stream

    start = time.perf_counter()
    apply_stream(whole, out, STANDARD_POLICY, SECRET)
    return {"seconds": time.perf_counter() - start, "peak_mb": peak_rss_mb()}


def run_dask(parts: Path, out: Path, workers: int) -> dict[str, Any]:
    from distributed import Client, LocalCluster

    from desensitize.distributed import apply_dask

    shutil.rmtree(out, ignore_errors=True)
    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            memory_limit=0,  # no spilling: the bench measures what a worker really holds
            dashboard_address=":0",
        ) as cluster,
        Client(cluster) as client,
    ):
        client.run(lambda: __import__("desensitize.distributed"))  # imports out of the timing
        start = time.perf_counter()
        apply_dask(parts, out, STANDARD_POLICY, SECRET, client=client)
        seconds = time.perf_counter() - start
        peaks = client.run(peak_rss_mb)
    return {"seconds": seconds, "peak_mb": max(peaks.values()), "client_peak_mb": peak_rss_mb()}


def _rows(paths: list[Path]) -> Iterator[pa.Table]:
    return _chunks((b for p in paths for b in pq.ParquetFile(p).iter_batches(65_536)), COMPARE_ROWS)


def same_release(inprocess: Path, dask_out: Path) -> bool:
    """Row by row and value by value, in bounded memory."""
    ours = sorted(dask_out.glob("part-*.parquet"))
    theirs = _rows([inprocess])
    for got in _rows(ours):
        want = next(theirs, None)
        if want is None or not got.equals(want.cast(got.schema)):
            return False
    return next(theirs, None) is None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--partition-rows", type=int, default=249_999)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "dl_dask")
    args = parser.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    whole, parts = generate(args.workdir, args.rows, args.partition_rows)
    files = len(list(parts.glob("*.parquet")))
    print(f"input: {args.rows} rows, one file and {files} partitions of {args.partition_rows}")
    results: dict[str, dict[str, Any]] = {}
    results["inprocess"] = run_inprocess(whole, args.workdir / "inprocess.parquet")
    for workers in (1, 2):
        results[f"w{workers}"] = run_dask(parts, args.workdir / f"w{workers}", workers)
    same = all(
        same_release(args.workdir / "inprocess.parquet", args.workdir / name)
        for name in ("w1", "w2")
    )
    for name, result in results.items():
        extra = (
            f" client_peak_mb={result['client_peak_mb']:.0f}" if "client_peak_mb" in result else ""
        )
        print(
            f"{name:9s} {result['seconds']:8.2f} s {args.rows / result['seconds']:12,.0f} rows/s "
            f"peak_mb={result['peak_mb']:.0f}{extra}"
        )
    w1, w2 = results["w1"]["seconds"], results["w2"]["seconds"]
    print(
        f"rows={args.rows} inprocess_s={results['inprocess']['seconds']:.2f} w1_s={w1:.2f} "
        f"w2_s={w2:.2f} w2_over_w1={w2 / w1:.2f} same_release={int(same)} "
        f"peak_worker_mb={max(results['w1']['peak_mb'], results['w2']['peak_mb']):.0f}"
    )
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
