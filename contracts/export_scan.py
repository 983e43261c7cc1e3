"""The hot loop of an audit: hash and check every entry line of a ledger export.

Kept apart from :mod:`contracts.verify` so that worker processes can run it on
chunks of lines. Lines stay bytes (a leaf is hashed as it stands in the line) and
only transactions, and records not in the ledger's own form, are decoded: an audit
of a million entries costs not much more than hashing them.
"""

from __future__ import annotations

import gc
import itertools
import json
import json.scanner
import multiprocessing
import os
import re
import threading
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from hashlib import sha256
from typing import Any

from contracts.errors import ContractError
from contracts.ledger import (
    TRANSACTION_TYPE,
    PostingTuple,
    check_postings,
    postings_from_entry,
)
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
    # (entry, kind, postings, meta) of each transaction, in log order, for the escrow rules
    money: list[tuple[int, Any, list[PostingTuple], Any]] = field(default_factory=list)
    tree: MerkleTree | None = None  # grown by merge(), instead of keeping the hashes

    def merge(self, later: ScanResult) -> None:
        """Append the result of the chunk that follows this one."""
        if self.tree is not None:
            self.tree.extend_hashes(later.hashes)
        else:
            self.hashes += later.hashes
        self.count += later.count
        self.money += later.money
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


_TRANSACTION = b'"transaction"'
_TYPE_KEY = b',"type":"'
_RECORD_KIND = re.compile(rb"[a-z][a-z0-9_.-]{0,63}")
_ENTRY = b'","entry":'
# Outside strings a float (or NaN, Infinity) is the only value in which a '.', 'e', 'E',
# 'N' or 'I' follows ':', ',' or '[' once digits, signs and spaces are left out. Mapped
# and deleted in one pass, a leaf with no ':.' can hold none; a leaf that has one (also
# from inside a string) is parsed, which decides exactly.
_FLOAT_MAP = bytes.maketrans(b".eENI:,[", b".....:::")
_FLOAT_DROP = b"0123456789-+ \t\r\n"


def scan_lines(lines: Iterable[bytes], start: int = 0) -> ScanResult:
    """Hash and check entry lines (UTF-8 bytes) numbered from ``start``; keep the first
    failure.

    A line is ``{"seq":N,"leaf_hash":"<64 hex>","entry":<leaf>}``; the leaf's exact
    bytes are cut out of the line and hashed, and the claimed hashes are compared all
    at once. Transactions are parsed and checked in full. A record as the ledger
    writes them (an object ending in ``"type"`` with a record kind, and no float, no
    escape and no ``"transaction"`` in it) is bound by its hash and not parsed; any
    other entry is parsed and checked.
    """
    result = ScanResult()
    hashes = result.hashes
    claimed: list[bytes] = []
    kinds: set[bytes] = set()  # record kinds seen, checked once each
    failure: tuple[int, str] | None = None  # of the layout and the entries (hashes below)
    failure_is_layout = False
    seq = start
    blank = False
    for line in lines:
        head = b'{"seq":%d,"leaf_hash":"' % seq
        at = len(head) + 74  # the leaf follows the hash (64) and '","entry":' (10)
        if not (line.startswith(head) and line[-1:] == b"}" and line[at - 10 : at] == _ENTRY):
            line = line.rstrip(b"\r\n")
            if not line:  # tolerated at the end of an export, an error anywhere else
                blank = True
                continue
            if not (line.startswith(head) and line[-1:] == b"}" and line[at - 10 : at] == _ENTRY):
                hashes += sha256(b"\x00" + line).digest()
                claimed.append(b"-" * 64)
                if failure is None:
                    failure, failure_is_layout = (seq, f"entry {seq}: {_layout(line, seq)}"), True
                seq += 1
                continue
        if blank:
            blank = False
            if failure is None:
                failure = (seq, f"entry {seq}: a blank line stands before it")
                failure_is_layout = True
        leaf = line[at:-1]
        hashes += sha256(b"\x00" + leaf).digest()
        claimed.append(line[at - 74 : at - 10])
        kind = leaf[leaf.rfind(_TYPE_KEY) + 9 : -2]
        if (
            (kind not in kinds and not _record_kind(kind, kinds))
            or leaf[:2] != b'{"'
            or leaf[-2:] != b'"}'
            or _TRANSACTION in leaf
            or b"\\" in leaf
            or b":." in leaf.translate(_FLOAT_MAP, _FLOAT_DROP)
        ):
            problem = _entry_problem(leaf, seq, result)
            if problem is not None and failure is None:
                failure = (seq, f"entry {seq}: {problem}")
        seq += 1
    result.count = seq - start
    mismatch = _first_hash_mismatch(hashes, claimed)
    if mismatch is not None and (
        failure is None
        or mismatch < failure[0] - start
        or (mismatch == failure[0] - start and not failure_is_layout)
    ):
        index = start + mismatch
        failure = (index, f"entry {index}: its content does not match its leaf hash")
    result.failure = failure
    return result


def _record_kind(kind: bytes, kinds: set[bytes]) -> bool:
    """Whether ``kind`` (cut from a leaf's end) names a record; remembered when it does."""
    if _RECORD_KIND.fullmatch(kind) is None or kind == b"transaction":
        return False
    kinds.add(kind)
    return True


def _layout(line: bytes, seq: int) -> str:
    """Why a line is not the entry line expected at ``seq``."""
    number = line[7 : line.find(b",", 7)]
    if number.isdigit() and number != b"%d" % seq:
        head = b'{"seq":' + number + b',"leaf_hash":"'
        at = len(head) + 74
        if line.startswith(head) and line[-1:] == b"}" and line[at - 10 : at] == _ENTRY:
            return (
                f"the line says seq {number.decode()} (an entry was deleted, inserted or reordered)"
            )
    return "the line does not follow the export layout"


def _first_hash_mismatch(hashes: bytearray, claimed: list[bytes]) -> int | None:
    """The position of the first leaf whose claimed hash differs from the computed one."""
    computed = hashes.hex().encode("ascii")
    joined = b"".join(claimed)
    if computed == joined:
        return None
    for position in range(len(claimed)):
        offset = position * 64
        if computed[offset : offset + 64] != joined[offset : offset + 64]:
            return position
    return None


def _repeated(tx_id: str, first: int) -> str:
    return f"transaction {tx_id} was already recorded as entry {first}"


def _entry_problem(leaf: bytes, seq: int, result: ScanResult) -> str | None:
    """Parse the leaf; check its type, and for transactions double entry, exact splits
    and an id not seen before; keep what the escrow rules need."""
    try:
        text = leaf.decode("utf-8")
        entry, end = _SCAN(text, 0)
    except (StopIteration, ValueError) as exc:
        return f"the entry is not valid JSON ({exc!r})"
    if end != len(text):
        return "the line has more after the entry"
    if type(entry) is not dict or type(entry.get("type")) is not str:
        return "an entry is a JSON object with a string 'type'"
    if entry["type"] != TRANSACTION_TYPE:
        return None
    meta = entry.get("meta") or {}
    try:
        postings = postings_from_entry(entry.get("postings"))
        check_postings(entry.get("id"), entry.get("kind"), postings, meta)
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
    result.money.append((seq, entry.get("kind"), postings, meta))
    return None


def scan_file(path: str | os.PathLike[str], offset: int, workers: int) -> ScanResult:
    """:func:`scan_lines` over the entry lines of a file from byte ``offset``: with one
    worker block by block in this process, otherwise split into ranges of whole lines
    that ``workers`` processes read and check themselves."""
    if workers <= 1:
        return _scan_blocks(path, offset)
    ranges = _line_ranges(path, offset, pieces=workers * 4)
    if len(ranges) <= 1:
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


_BLOCK = 32 << 20  # bytes read at a time: memory stays bounded for any export size


def _scan_blocks(path: str | os.PathLike[str], offset: int) -> ScanResult:
    """Scan the file in blocks of whole lines, one after the other."""
    total = ScanResult(tree=MerkleTree())
    first = 0
    with open(path, "rb") as file:
        file.seek(offset)
        rest = b""
        while block := file.read(_BLOCK):
            data = rest + block
            cut = data.rfind(b"\n") + 1
            data, rest = data[:cut], data[cut:]
            if data:
                total.merge(_scan_data(data, first))
                first += data.count(b"\n")
        if rest:
            total.merge(_scan_data(rest, first))
    return total


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
        data = file.read(end - begin)
    return _scan_data(data, first)


def _scan_data(data: bytes, first: int) -> ScanResult:
    """Scan whole lines of an export numbered from ``first``."""
    lines = data.split(b"\n")
    if lines and not lines[-1]:
        lines.pop()
    result = scan_lines(lines, first)
    try:
        data.decode("utf-8")  # records are not decoded one by one: check them all at once
    except UnicodeDecodeError as exc:
        seq = first + data.count(b"\n", 0, exc.start)
        if result.failure is None or seq < result.failure[0]:
            result.failure = (seq, f"entry {seq}: the line is not UTF-8 ({exc.reason})")
    return result
