"""Ledger benchmark: appends per second, offline verification time, proof sizes.

    python bench/ledger_bench.py [--leaves 1000000]

The log is a realistic mix: for every lease a payment into escrow, a revenue
split out of it, five access events and a desensitization receipt. The last
line is machine-readable:
``leaves=N append_per_s=A verify_1m_s=V proof_hashes=P bare_1m_s=B verify_over_bare=R``,
where V is the faster of one process and ``--workers`` processes, B the faster of two
bare hashlib RFC 6962 roots over the same export lines (one before, one after the
verifications), both scaled to a million entries, and R = V / B. Both are timed in a
process of their own, as an auditor would run them, not in the one that built the
ledger. CPU times are printed beside the wall times: on a shared machine the wall time
of several processes says little on its own.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from contracts import (
    Ledger,
    MerkleTree,
    party_account,
    payment,
    provider_account,
    public_key_bytes,
    split_from_escrow,
    subject_pool_account,
    verify_consistency,
    verify_export_file,
    verify_inclusion,
)

SHARES = {
    provider_account("traffic-bureau"): 7_000,
    party_account("district-data-center"): 1_500,
    "platform": 1_000,
    subject_pool_account("citizens"): 500,
}
ENTRIES_PER_LEASE = 8


def make_entries(count: int) -> list[tuple[str, object]]:
    """Pre-built transactions and records, so that the timing measures appends only."""
    start = datetime(2025, 1, 1, tzinfo=UTC)
    entries: list[tuple[str, object]] = []
    lease = 0
    while len(entries) < count:
        when = start + timedelta(minutes=lease)
        lease_id = f"lease-{lease:07d}"
        amount = 50_000 + (lease * 7919) % 100_000
        entries.append(("tx", payment(f"buyer-{lease % 97}", amount, time=when, lease_id=lease_id)))
        entries.append(("tx", split_from_escrow(amount, SHARES, time=when, lease_id=lease_id)))
        for download in range(5):
            body = {
                "lease_id": lease_id,
                "buyer": f"buyer-{lease % 97}",
                "action": "download",
                "extract_sha256": hashlib.sha256(f"{lease}/{download}".encode()).hexdigest(),
                "rows": 10_000 + download,
            }
            entries.append(("access", body))
        receipt = {
            "lease_id": lease_id,
            "policy_sha256": hashlib.sha256(lease_id.encode()).hexdigest(),
            "k": 5,
            "epsilon": "0.5",
        }
        entries.append(("desensitization_receipt", receipt))
        lease += 1
    return entries[:count]


def bare_root(path: str) -> tuple[bytes, int]:
    """RFC 6962 root over the entry lines of an export with hashlib alone: each line a
    leaf, levels paired up, an odd last node carried up as the RFC's split does."""
    with open(path, "rb") as file:
        file.readline()  # the header
        level = [hashlib.sha256(b"\x00" + line.rstrip(b"\n")).digest() for line in file]
    count = len(level)
    while len(level) > 1:
        paired = [
            hashlib.sha256(b"\x01" + level[i] + level[i + 1]).digest()
            for i in range(0, len(level) - 1, 2)
        ]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return (level[0] if level else hashlib.sha256(b"").digest()), count


def _timed_bare(path: str, n: int) -> float:
    t0, cpu0 = time.perf_counter(), _cpu_seconds()
    _, count = bare_root(path)
    elapsed = time.perf_counter() - t0
    assert count == n, count
    print(
        f"bare hashlib RFC 6962 root over the {n:,} export lines: {elapsed:.2f} s "
        f"(CPU {_cpu_seconds() - cpu0:.2f} s)"
    )
    return elapsed


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children (wall time alone misleads
    on a shared machine)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def audit_export(path: str, public_key: bytes, n: int, workers: int) -> None:
    """Time the bare root and the verification of an export with one and ``workers``
    processes; the last line printed is ``[bare seconds, {workers: seconds}]``."""
    bare = [_timed_bare(path, n)]
    timings = {}
    for count in sorted({1, workers}):
        t0, cpu0 = time.perf_counter(), _cpu_seconds()
        report = verify_export_file(path, public_key, workers=count)
        timings[count] = time.perf_counter() - t0
        cpu = _cpu_seconds() - cpu0
        assert report.ok, report.reason
        print(
            f"verify {n:,} entries from the export, {count} process(es): "
            f"{timings[count]:.2f} s ({timings[count] * 1_000_000 / n:.2f} s per 1M; "
            f"CPU {cpu:.2f} s, load average {os.getloadavg()[0]:.1f})"
        )
    bare.append(_timed_bare(path, n))
    print(json.dumps([bare, timings]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--audit", nargs=2, metavar=("EXPORT", "KEY_HEX"), help=argparse.SUPPRESS)
    parser.add_argument("--leaves", type=int, default=1_000_000, help="ledger entries")
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="processes for verification"
    )
    args = parser.parse_args()
    n = args.leaves
    if n < 2:
        parser.error("--leaves must be at least 2")
    if args.audit:
        audit_export(args.audit[0], bytes.fromhex(args.audit[1]), n, args.workers)
        return

    t0 = time.perf_counter()
    entries = make_entries(n)
    print(f"built {n:,} entries in {time.perf_counter() - t0:.1f} s (not timed below)")

    ledger = Ledger()
    record_time = datetime(2025, 1, 1, tzinfo=UTC)
    t0 = time.perf_counter()
    for kind, value in entries:
        if kind == "tx":
            ledger.append_transaction(value)
        else:
            ledger.append_record(kind, value, time=record_time)
    append_s = time.perf_counter() - t0
    append_per_s = n / append_s
    print(f"ledger append (canonical JSON + store + tree): {append_per_s:,.0f}/s")

    del entries  # keep the collector's full passes short during the timings below
    gc.collect()
    leaves = list(ledger.store.entries())
    t0 = time.perf_counter()
    tree = MerkleTree()
    for leaf in leaves:
        tree.append(leaf)
    print(f"MerkleTree.append alone: {n / (time.perf_counter() - t0):,.0f}/s")
    t0 = time.perf_counter()
    rebuilt = MerkleTree.from_leaves(leaves)
    print(f"rebuild a tree from {n:,} stored leaves: {time.perf_counter() - t0:.2f} s")
    assert rebuilt.root() == ledger.tree.root() == tree.root()

    root = ledger.tree.root()
    bound = math.ceil(math.log2(n)) if n > 1 else 0
    longest = 0
    for index in (0, n // 3, n - 1):
        proof = ledger.inclusion_proof(index)
        assert verify_inclusion(ledger.tree.leaf_hash_at(index), index, n, proof, root)
        longest = max(longest, len(proof))
        print(f"inclusion proof of entry {index:,}: {len(proof)} hashes (ceil(log2 n) = {bound})")
    old = n // 2 + 1
    consistency = ledger.consistency_proof(old)
    assert verify_consistency(old, n, ledger.tree.root(old), root, consistency)
    print(f"consistency proof {old:,} -> {n:,}: {len(consistency)} hashes")

    key = Ed25519PrivateKey.generate()
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "ledger.jsonl")
        t0 = time.perf_counter()
        with open(path, "w", encoding="utf-8") as out:
            out.writelines(ledger.export_lines(key))
        size_mb = os.path.getsize(path) / 1e6
        print(f"export: {size_mb:,.0f} MB in {time.perf_counter() - t0:.1f} s")
        del ledger, leaves, tree, rebuilt
        gc.collect()
        # An auditor verifies in a process of its own: the processes a verification forks
        # from this one would copy, page by page, the heap that built the ledger.
        audit = subprocess.run(
            [sys.executable, __file__, "--audit", path, public_key_bytes(key).hex(),
             "--leaves", str(n), "--workers", str(args.workers)],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        *report, last = audit.stdout.splitlines()
        print("\n".join(report))
        bare, timings = json.loads(last)
        timings = {int(workers): seconds for workers, seconds in timings.items()}
    verify_1m_s = min(timings.values()) * 1_000_000 / n
    bare_1m_s = min(bare) * 1_000_000 / n

    print(
        f"leaves={n} append_per_s={append_per_s:.0f} verify_1m_s={verify_1m_s:.2f} "
        f"proof_hashes={longest} bare_1m_s={bare_1m_s:.2f} "
        f"verify_over_bare={verify_1m_s / bare_1m_s:.2f}"
    )


if __name__ == "__main__":
    main()
