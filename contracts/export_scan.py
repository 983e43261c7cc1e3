"""The hot loop of an audit: hash and check every entry line of a ledger export.

Kept apart from :mod:`contracts.verify` so that worker processes can run it on
chunks of lines: a million entries are mostly JSON parsing, which splits well
across cores.
"""

from __future__ import annotations

import gc
import itertools
import json
import json.scanner
import multiprocessing
import os
import threading
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from hashlib import sha256
from typing import Any

from contracts.errors import ContractError
from contracts.ledger import TRANSACTION_TYPE, check_postings, postings_from_entry
from contracts.merkle import MerkleTree

Balances = dict[str, dict[str, int]]


@dataclass
class ScanResult:
    """Leaf hashes (or the tree over them), balances per currency, entries, first failure."""

    hashes: bytearray = field(default_factory=bytearray)
    balances: Balances = field(default_factory=dict)
    count: int = 0
    failure: tuple[int, str] | None = None
    tx_ids: dict[str, int] = field(default_factory=dict)  # transaction id -> first entry
    tree: MerkleTree | None = None  # grown by merge(), instead of keeping the hashes

    def merge(self, later: ScanResult) -> None:
        """Append the result of the chunk that follows this one."""
        if self.tree is not None:
            self.tree.extend_hashes(later.hashes)
        else:
            self.hashes += later.hashes
        self.count += later.count
        repeats = [
            (index, f"entry {index}: {_repeated(tx_id, self.tx_ids[tx_id])}")
            for tx_id, index in later.tx_ids.items()
            if tx_id in self.tx_ids
        ]
        if later.failure:
            repeats.append(later.failure)
        self.failure = self.failure or min(repeats, default=None)
        for tx_id, index in later.tx_ids.items():
            self.tx_ids.setdefault(tx_id, index)
        for currency, accounts in later.balances.items():
            mine = self.balances.setdefault(currency, {})
            for account, amount in accounts.items():
                mine[account] = mine.get(account, 0) + amount

    def merkle_tree(self) -> MerkleTree:
        """The tree over every leaf hash seen."""
        return self.tree if self.tree is not None else MerkleTree.from_leaf_hashes(self.hashes)


def _reject_float(text: str) -> Any:
    raise ValueError(f"float {text} in a ledger entry (money and decimals must not be floats)")


_SCAN = json.scanner.make_scanner(
    json.JSONDecoder(parse_float=_reject_float, parse_constant=_reject_float)  # type: ignore[arg-type]
)


_SEQ = '{"seq":'
_HASH = ',"leaf_hash":"'
_ENTRY = '","entry":'


def scan_lines(lines: Iterable[str], start: int = 0) -> ScanResult:
    """Hash and check entry lines numbered from ``start``; keep the first failure.

    A line is ``{"seq":N,"leaf_hash":"<64 hex>","entry":<leaf>}``; the leaf's exact
    text is cut out of the line and hashed, and only the leaf is parsed.
    """
    result = ScanResult()
    hashes = result.hashes
    failure: tuple[int, str] | None = None
    seq = start
    blank = False
    for raw in lines:
        line = raw.rstrip("\r\n")
        if not line:  # tolerated at the end of an export, an error anywhere else
            blank = True
            continue
        if blank:
            blank = False
            failure = failure or (seq, f"entry {seq}: a blank line stands before it")
        cut = line.find(_HASH, 7)
        at = cut + 88  # the leaf starts after the hash (64) and '","entry":' (10)
        if cut < 0 or not line.startswith(_SEQ) or line[at - 10 : at] != _ENTRY or line[-1] != "}":
            digest = sha256(b"\x00" + line.encode("utf-8")).digest()
            problem = "the line does not follow the export layout"
        else:
            digest = sha256(b"\x00" + line[at:-1].encode("utf-8")).digest()
            problem = None
            if line[7:cut] != str(seq):
                problem = (
                    f"the line says seq {line[7:cut]} (an entry was deleted, inserted or reordered)"
                    if line[7:cut].isdecimal()
                    else "the line does not follow the export layout"
                )
            elif digest.hex() != line[cut + 14 : at - 10]:
                problem = "its content does not match its leaf hash"
            else:
                problem = _entry_problem(line, at, seq, result)
        hashes += digest
        if problem is not None and failure is None:
            failure = (seq, f"entry {seq}: {problem}")
        seq += 1
    result.count = seq - start
    result.failure = failure
    return result


def _repeated(tx_id: str, first: int) -> str:
    return f"transaction {tx_id} was already recorded as entry {first}"


def _entry_problem(line: str, at: int, seq: int, result: ScanResult) -> str | None:
    """Parse the leaf; check its type, and for transactions double entry, exact splits
    and an id not seen before."""
    try:
        entry, end = _SCAN(line, at)
    except (StopIteration, ValueError) as exc:
        return f"the entry is not valid JSON ({exc!r})"
    if end != len(line) - 1:
        return "the line has more after the entry"
    if type(entry) is not dict or type(entry.get("type")) is not str:
        return "an entry is a JSON object with a string 'type'"
    if entry["type"] != TRANSACTION_TYPE:
        return None
    try:
        postings = postings_from_entry(entry.get("postings"))
        check_postings(entry.get("id"), entry.get("kind"), postings, entry.get("meta") or {})
    except ContractError as exc:
        return exc.message
    tx_id = entry.get("id")
    if type(tx_id) is not str or not tx_id:
        return f"a transaction needs a non-empty string id; got {tx_id!r}"
    first = result.tx_ids.setdefault(tx_id, seq)
    if first != seq:
        return _repeated(tx_id, first)
    for account, amount, currency in postings:
        accounts = result.balances.setdefault(currency, {})
        accounts[account] = accounts.get(account, 0) + amount
    return None


def scan_file(path: str | os.PathLike[str], offset: int, workers: int) -> ScanResult:
    """:func:`scan_lines` over the entry lines of a file from byte ``offset``, split
    into ranges of whole lines that ``workers`` processes read and check themselves."""
    ranges = _line_ranges(path, offset, pieces=workers * 4)
    if workers <= 1 or len(ranges) <= 1:
        return _merged(_scan_range(path, *piece) for piece in ranges)
    # fork is cheap and needs no import guard, but is unsafe in a threaded process.
    method = "fork" if threading.active_count() == 1 and os.name == "posix" else "spawn"
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method)) as pool:
        # Frozen objects are skipped by the children's collector, so the parent's heap
        # stays shared instead of being copied page by page (see gc.freeze).
        gc.freeze()
        try:
            futures = [pool.submit(_scan_range, path, *piece) for piece in ranges]
        finally:
            gc.unfreeze()
        return _merged(future.result() for future in futures)


def _merged(results: Iterable[ScanResult]) -> ScanResult:
    """Merge results in order, growing the tree as each arrives (while others still run)."""
    total = ScanResult(tree=MerkleTree())
    for result in results:
        total.merge(result)
    return total


def _line_ranges(
    path: str | os.PathLike[str], offset: int, pieces: int
) -> list[tuple[int, int, int]]:
    """(begin, end, first line number) of byte ranges that start and end on line breaks."""
    size = os.path.getsize(path)
    with open(path, "rb") as file:
        bounds = {offset, size}
        for piece in range(1, pieces):
            file.seek(offset + (size - offset) * piece // pieces)
            file.readline()
            bounds.add(min(file.tell(), size))
        edges = sorted(bounds)
        ranges, first = [], 0
        for begin, end in itertools.pairwise(edges):
            file.seek(begin)
            data = file.read(end - begin)
            lines = data.count(b"\n") + (not data.endswith(b"\n"))
            ranges.append((begin, end, first))
            first += lines
    return ranges


def _scan_range(path: str | os.PathLike[str], begin: int, end: int, first: int) -> ScanResult:
    with open(path, "rb") as file:
        file.seek(begin)
        text = file.read(end - begin).decode("utf-8")
    lines = text.split("\n")
    if lines and not lines[-1]:
        lines.pop()
    return scan_lines(lines, first)
