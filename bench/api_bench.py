"""Throughput and latency of the API's read paths and a DP query under concurrent load.

Starts ``datalease serve`` itself: SQLite with one worker on a fresh data directory, and
PostgreSQL with two workers on a fresh database when one is reachable. Seeds an offer (a
provider uploads a generated table, sets a policy and publishes; a buyer leases and pays)
and then, for each concurrency, drives each endpoint for a fixed time from a separate
load-generator process over keep-alive connections. ``GET /healthz`` runs in the same
pass, so every line carries the ratio of its req/s to that trivial endpoint's at the same
concurrency, which says more than raw req/s on a shared machine. One line per cell:

    db=sqlite endpoint=catalog c=50 rps=412.3 p50_ms=98.1 p99_ms=180.4 errors=0 ratio=0.61

An error is a connection failure, a timeout or any answer other than 2xx.

    python bench/api_bench.py --db both --seconds 10 --concurrency 10,50,200
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from examples.generate_city_data import write  # noqa: E402
from examples.serve_process import ServeProcess  # noqa: E402

PG_ADMIN_URL = os.environ.get(
    "DATALEASE_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
ENDPOINTS = ["healthz", "catalog", "catalog_entry", "quote", "query"]
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
QUERY = {"op": "mean", "column": "monthly_income", "bounds": [0, 100000], "epsilon": 0.001}


# -- the server and its data -------------------------------------------------------------


@contextmanager
def pg_database() -> Iterator[str | None]:
    """A fresh PostgreSQL database for one run, dropped afterwards; None if unreachable."""
    from sqlalchemy import create_engine, text

    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"datalease_bench_{secrets.token_hex(6)}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        print(f"# postgres not reachable ({type(exc).__name__}); skipping it", file=sys.stderr)
        admin.dispose()
        yield None
        return
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def seed(server: ServeProcess, operator_key: str, csv: Path) -> dict[str, str]:
    """Accounts, a published offer and a paid lease with a query allowance."""

    def client(key: str) -> httpx.Client:
        return httpx.Client(
            base_url=server.url, timeout=600, headers={"Authorization": f"Bearer {key}"}
        )

    def ok(response: httpx.Response) -> Any:
        if response.is_error:
            raise RuntimeError(f"{response.request.url}: {response.status_code} {response.text}")
        return response.json()

    with client(operator_key) as ops:
        keys = {
            role: ok(ops.post("/v1/accounts", json={"name": role, "role": role}))["api_key"]
            for role in ("provider", "buyer")
        }
    with client(keys["provider"]) as provider, client(keys["buyer"]) as buyer:
        with csv.open("rb") as fh:
            dataset = ok(
                provider.post(
                    "/v1/datasets",
                    files={"file": ("citizens.csv", fh, "text/csv")},
                    data={"name": "citizens", "grade": "general", "domain": "population"},
                )
            )["id"]
        ok(provider.put(f"/v1/datasets/{dataset}/policy", json=POLICY))
        offer = ok(
            provider.post(
                "/v1/offers",
                json={
                    "dataset_id": dataset,
                    "title": "citizens for the API bench",
                    "terms": {"allowed_purposes": ["urban-planning"], "max_period_days": 365},
                    "pricing": {"base_minor_per_1000_rows": 100},
                    "shares_bp": {"provider": 9000, "platform": 1000},
                    "epsilon_cap": 1000,
                    "k": 5,
                },
            )
        )["id"]
        # 100 is the most a lease may hold: 100,000 queries at the minimum epsilon.
        quote = {"offer_id": offer, "purpose": "urban-planning", "days": 30, "epsilon": 100.0}
        lease = ok(buyer.post("/v1/leases", json=quote))["id"]
        ok(buyer.post(f"/v1/leases/{lease}/pay"))
        ok(buyer.post(f"/v1/leases/{lease}/queries", json=QUERY))  # decodes the column once
    return {"buyer_key": keys["buyer"], "offer": offer, "lease": lease}


def requests_for(seeded: dict[str, str]) -> dict[str, dict[str, Any]]:
    quote = {"offer_id": seeded["offer"], "purpose": "urban-planning", "days": 30, "epsilon": 1}
    return {
        "healthz": {"method": "GET", "path": "/healthz"},
        "catalog": {"method": "GET", "path": "/v1/catalog"},
        "catalog_entry": {"method": "GET", "path": f"/v1/catalog/{seeded['offer']}"},
        "quote": {"method": "POST", "path": "/v1/quotes", "json": quote},
        "query": {"method": "POST", "path": f"/v1/leases/{seeded['lease']}/queries", "json": QUERY},
    }


# -- the load generator (its own process) --------------------------------------------------


def _raw_request(spec: dict[str, Any], host: str, key: str) -> bytes:
    """The request as bytes, built once: the load generator only writes and reads."""
    body = json.dumps(spec["json"]).encode() if "json" in spec else b""
    lines = [
        f"{spec['method']} {spec['path']} HTTP/1.1",
        f"Host: {host}",
        f"Authorization: Bearer {key}",
        "Accept: application/json",
        f"Content-Length: {len(body)}",
    ]
    if body:
        lines.append("Content-Type: application/json")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Status and whether the connection stays open; the body is read and dropped."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    return status, headers.get("connection", "").lower() != "close"


async def _load(
    url: str, key: str, spec: dict[str, Any], concurrency: int, seconds: float, timeout: float
) -> dict[str, Any]:
    host, port = url.removeprefix("http://").split(":")
    raw = _raw_request(spec, f"{host}:{port}", key)
    latencies: list[float] = []
    errors = 0
    kinds: dict[str, int] = {}  # what the errors were: an HTTP status or an exception type
    start = time.perf_counter()
    stop = start + seconds

    async def worker() -> None:
        nonlocal errors
        reader = writer = None
        while time.perf_counter() < stop:
            began = time.perf_counter()
            try:
                if writer is None:
                    reader, writer = await asyncio.wait_for(
                        asyncio.open_connection(host, int(port)), timeout
                    )
                writer.write(raw)
                status, keep = await asyncio.wait_for(_read_response(reader), timeout)
            except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
                errors += 1
                kinds[type(exc).__name__] = kinds.get(type(exc).__name__, 0) + 1
                if writer is not None:
                    writer.close()
                reader = writer = None
                continue
            latencies.append(time.perf_counter() - began)
            if not 200 <= status < 300:
                errors += 1
                kinds[str(status)] = kinds.get(str(status), 0) + 1
            if not keep:
                writer.close()
                reader = writer = None
        if writer is not None:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - start
    latencies.sort()

    def pct(q: float) -> float:
        if not latencies:
            return float("nan")
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000

    return {
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "errors": errors,
        "error_kinds": kinds,
    }


def load_main(argv: list[str]) -> None:
    """``--load``: run one cell and print its figures as JSON (called as a subprocess)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--spec", required=True)
    parser.add_argument("--concurrency", type=int, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--timeout", type=float, default=30)
    args = parser.parse_args(argv)
    key = os.environ["DATALEASE_BENCH_KEY"]  # not on the command line, where ps shows it
    figures = asyncio.run(
        _load(
            args.url, key, json.loads(args.spec), args.concurrency, args.seconds, args.timeout
        )
    )
    print(json.dumps(figures))


def run_cell(
    server: ServeProcess, key: str, spec: dict[str, Any], concurrency: int, seconds: float
) -> dict[str, Any]:
    command = [sys.executable, str(Path(__file__).resolve()), "--load"]
    command += ["--url", server.url, "--spec", json.dumps(spec)]
    command += ["--concurrency", str(concurrency), "--seconds", str(seconds)]
    done = subprocess.run(
        command,
        env={**os.environ, "DATALEASE_BENCH_KEY": key},
        capture_output=True,
        text=True,
        timeout=seconds + 120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the load generator failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- the run -------------------------------------------------------------------------------


def bench_db(db: str, args: argparse.Namespace, csv: Path, root: Path) -> None:
    with pg_database() if db == "postgres" else _no_database() as url:
        if db == "postgres" and url is None:
            return
        data = root / f"data-{db}"
        data.mkdir()
        server = ServeProcess(
            data,
            root / f"server-{db}.log",
            database_url=url,
            workers=2 if db == "postgres" else 1,
            extra_env={"DATALEASE_MAX_UPLOAD_BYTES": str(10 * csv.stat().st_size + (1 << 20))},
            serve_args=() if args.access_log else ("--no-access-log",),
        )
        operator = server.create_account("operator", "ops", "ops")["api_key"]
        with server:
            seeded = seed(server, operator, csv)
            specs = requests_for(seeded)
            for concurrency in args.concurrency:
                base = None
                for endpoint in args.endpoints:
                    if args.warmup:
                        run_cell(server, seeded["buyer_key"], specs[endpoint], 4, args.warmup)
                    cell = run_cell(
                        server, seeded["buyer_key"], specs[endpoint], concurrency, args.seconds
                    )
                    if endpoint == "healthz":
                        base = cell["rps"]
                    ratio = cell["rps"] / base if base else float("nan")
                    if cell["errors"]:
                        report_errors(server, db, endpoint, concurrency, cell["error_kinds"])
                    print(
                        f"db={db} endpoint={endpoint} c={concurrency} rps={cell['rps']:.1f} "
                        f"p50_ms={cell['p50_ms']:.1f} p99_ms={cell['p99_ms']:.1f} "
                        f"errors={cell['errors']} ratio={ratio:.2f}",
                        flush=True,
                    )


def report_errors(
    server: ServeProcess, db: str, endpoint: str, concurrency: int, kinds: dict[str, int]
) -> None:
    """What went wrong, on stderr: the errors by kind and the server's recent warnings."""
    print(f"# {db} {endpoint} c={concurrency} errors by kind: {kinds}", file=sys.stderr)
    tail = server.log_tail(20_000).splitlines()
    for line in [line for line in tail if not line.startswith("INFO")][-20:]:
        print(f"#   {line}", file=sys.stderr)


@contextmanager
def _no_database() -> Iterator[None]:
    yield None


def main() -> None:
    if sys.argv[1:2] == ["--load"]:
        load_main(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--seconds", type=float, default=10, help="per cell")
    parser.add_argument(
        "--concurrency",
        type=lambda s: [int(c) for c in s.split(",")],
        default=[10, 50, 200],
        help="comma-separated, e.g. 10,50,200",
    )
    parser.add_argument(
        "--endpoints",
        type=lambda s: ["healthz", *[e for e in s.split(",") if e != "healthz"]],
        default=ENDPOINTS,
        help=f"comma-separated from {','.join(ENDPOINTS)} (healthz always runs first)",
    )
    parser.add_argument("--rows", type=int, default=5000, help="rows of the seeded table")
    parser.add_argument(
        "--access-log", action="store_true", help="keep the server's per-request log line"
    )
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds before each cell")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="datalease-api-bench-") as tmp:
        root = Path(tmp)
        csv = write("citizens", args.rows, root / "citizens.csv", seed=1)
        for db in ["sqlite", "postgres"] if args.db == "both" else [args.db]:
            bench_db(db, args, csv, root)


if __name__ == "__main__":
    main()
