"""End-to-end figures for the service: upload, lease and extract a large table over HTTP.

Starts ``datalease serve`` on a fresh SQLite data directory, uploads a generated
citizens CSV, sets a standard policy, leases it, has the extract made and downloads it
as Parquet and then as CSV, timing each step and reading the server's peak RSS from
/proc for each step (the peak is reset between steps, so a step's peak includes what
earlier steps left resident). csv_over_parquet is the time from asking for the extract to
its last byte, as CSV over as Parquet. Last line:
``rows=N upload_s=U upload_rss_mb=.. policy_s=P policy_rss_mb=.. lease_pay_s=L
extract_job_s=J parquet_s=.. csv_s=.. csv_over_parquet=.. extract_rss_mb=..
server_peak_rss_mb=M``.

    python bench/exchange_bench.py --rows 1000000
    python bench/exchange_bench.py --rows 5000000 --workdir ~/.cache/datalease-bench

With --workdir the generated CSV is kept there and reused by later runs of the same size
(the server's data directory is fresh every run).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import httpx

from examples.generate_city_data import write
from examples.serve_process import ServeProcess
from exchange.jobs.follow import wait_for_job

POLICY = {
    "k": 5,
    "columns": {
        "name": {"class": "identifier", "rule": "token"},
        "resident_id": {"class": "identifier", "rule": "mask", "preset": "cn_resident_id"},
        "mobile": {"class": "identifier", "rule": "mask", "preset": "cn_mobile"},
        "card_id": {"class": "identifier", "rule": "token"},
        "address": {"class": "identifier", "rule": "fake", "kind": "address"},
        "birth_date": {"class": "quasi_identifier", "rule": "generalize", "to": "year"},
        "district": {"class": "quasi_identifier", "rule": "keep"},
        "gender": {"class": "quasi_identifier", "rule": "keep"},
        "monthly_income": {
            "class": "sensitive",
            "rule": "noise",
            "epsilon": 1.0,
            "bounds": [0, 100000],
        },
    },
}


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def step_peak_rss_mb(pid: int) -> float:
    """The peak RSS since the last call, which starts the next step's peak from the current RSS."""
    peak = round(peak_rss_mb(pid), 1)
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # Linux: resets VmHWM to VmRSS
    return peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--workdir", type=Path, help="keep the generated CSV here for reuse")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="datalease-bench-") as tmp:
        root = Path(tmp)
        csv = (args.workdir or root) / f"citizens-{args.rows}.csv"
        if not csv.exists():  # write() only renames a finished file into place
            write("citizens", args.rows, csv, seed=1)
        (root / "data").mkdir()
        server = ServeProcess(
            root / "data",
            root / "server.log",
            extra_env={"DATALEASE_MAX_UPLOAD_BYTES": str(10 * csv.stat().st_size)},
        )
        operator = server.create_account("operator", "ops", "ops")["api_key"]
        server.start()
        try:
            figures = run(server, operator, csv, args.rows)
            figures["server_peak_rss_mb"] = max(
                v for k, v in figures.items() if k.endswith("rss_mb")
            )
        finally:
            server.stop()
    print(" ".join(f"{k}={v}" for k, v in figures.items()))


def run(server: ServeProcess, operator_key: str, csv: Path, rows: int) -> dict[str, float]:
    def client(key: str) -> httpx.Client:
        return httpx.Client(
            base_url=server.url, timeout=3600, headers={"Authorization": f"Bearer {key}"}
        )

    ops = client(operator_key)
    keys = {
        role: ops.post("/v1/accounts", json={"name": role, "role": role}).json()["api_key"]
        for role in ("provider", "buyer")
    }
    provider, buyer = client(keys["provider"]), client(keys["buyer"])
    figures: dict[str, float] = {"rows": rows}
    if server.proc is None:
        raise RuntimeError("the server is not running")
    pid = server.proc.pid
    step_peak_rss_mb(pid)
    started = time.perf_counter()
    with csv.open("rb") as fh:
        response = provider.post(
            "/v1/datasets",
            files={"file": ("citizens.csv", fh, "text/csv")},
            data={"name": "citizens", "grade": "general"},
        )
    response.raise_for_status()
    dataset = response.json()["id"]
    figures["upload_s"] = round(time.perf_counter() - started, 2)
    figures["upload_rss_mb"] = step_peak_rss_mb(pid)
    started = time.perf_counter()
    provider.put(f"/v1/datasets/{dataset}/policy", json=POLICY).raise_for_status()
    figures["policy_s"] = round(time.perf_counter() - started, 2)
    figures["policy_rss_mb"] = step_peak_rss_mb(pid)
    offer = provider.post(
        "/v1/offers",
        json={
            "dataset_id": dataset,
            "title": "bench",
            "terms": {"allowed_purposes": ["urban-planning"]},
            "pricing": {"base_minor_per_1000_rows": 100},
            "shares_bp": {"provider": 9000, "platform": 1000},
            "epsilon_cap": 5,
            "k": 5,
        },
    ).json()["id"]
    started = time.perf_counter()
    lease = buyer.post(
        "/v1/leases", json={"offer_id": offer, "purpose": "urban-planning", "days": 30}
    ).json()["id"]
    buyer.post(f"/v1/leases/{lease}/pay").raise_for_status()
    figures["lease_pay_s"] = round(time.perf_counter() - started, 2)
    figures["lease_pay_rss_mb"] = step_peak_rss_mb(pid)
    url = f"/v1/leases/{lease}/extract"
    started = time.perf_counter()
    response = buyer.get(url, params={"format": "parquet"}, follow_redirects=False)
    if response.status_code == 202:  # the extract job runs; the file once it is done
        wait_for_job(buyer, response.headers["location"])
    else:
        response.raise_for_status()
    figures["extract_job_s"] = round(time.perf_counter() - started, 2)
    for fmt in ("parquet", "csv"):
        started = time.perf_counter()
        size = 0
        with buyer.stream("GET", url, params={"format": fmt}) as resp:
            resp.raise_for_status()
            for chunk in resp.iter_bytes():
                size += len(chunk)
        figures[f"{fmt}_s"] = round(time.perf_counter() - started, 2)
        figures[f"{fmt}_mb"] = round(size / 1e6, 1)
    # A buyer waits for the job, then for the download: the formats differ in the second.
    job = figures["extract_job_s"]
    figures["csv_over_parquet"] = round((job + figures["csv_s"]) / (job + figures["parquet_s"]), 2)
    figures["extract_rss_mb"] = step_peak_rss_mb(pid)
    return figures


if __name__ == "__main__":
    main()
