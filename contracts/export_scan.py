"""The hot loop of an audit: hash and check every entry line of a ledger export.

Kept apart from :mod:`contracts.verify` so that worker processes can run it on
chunks of lines. Lines stay bytes (a leaf is hashed as it stands in the line) and
only transactions, and records not in the ledger's own form, are decoded: an audit
of a million entries costs not much more than hashing them.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import json
import json.scanner
import multiprocessing
import os
import re
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from hashlib import sha256
from typing import Any

import numpy as np

from contracts.dividends import DIVIDEND, source_refs
from contracts.errors import ContractError
from contracts.escrow import (
    KIND_CODES,
    LEASE_KINDS,
    OTHER,
    PAYMENT,
    REFUND,
    SPLIT,
    FlowColumns,
    Money,
    escrow_flows,
)
from contracts.ledger import (
    ESCROW,
    TRANSACTION_TYPE,
    check_postings,
    postings_from_entry,
)
from contracts.merkle import MerkleTree, subtree_levels
from contracts.revenue import TOTAL_BP, check_shares

Balances = dict[str, dict[str, int]]


@dataclass
class ScanResult:
    """Leaf hashes (or the tree over them), balances per currency, entries, first failure."""

    hashes: bytearray = field(default_factory=bytearray)
    balances: Balances = field(default_factory=dict)
    count: int = 0
    failure: tuple[int, str] | None = None
    tx_ids: dict[str, int] = field(default_factory=dict)  # transaction id -> first entry
    # What the escrow rules need of each transaction: those checked one by one as
    # (entry, kind, lease id, escrow moves, credits), those checked in bulk as columns.
    money: list[Money] = field(default_factory=list)
    flows: list[FlowColumns] = field(default_factory=list)
    # (entry, its sources' ids and leaf hashes) of each dividend, for check_sources
    dividends: list[tuple[int, list[tuple[str, bytes]]]] = field(default_factory=list)
    tree: MerkleTree | None = None  # grown by merge(), instead of keeping the hashes
    # From a worker: its subtrees (see subtree_levels) in place of the hashes, for the
    # leaves numbered from ``start``.
    levels: list[bytes] | None = None
    start: int = 0
    lines: int = 0  # of a block or a worker's range, blank ones included

    def merge(self, later: ScanResult) -> None:
        """Append the result of the chunk that follows this one."""
        hashes = later.hashes if later.levels is None else later.levels[0]
        if self.tree is not None and later.levels and later.start == self.tree.size:
            self.tree.extend_levels(later.levels)
        elif self.tree is not None:
            self.tree.extend_hashes(hashes)
        else:
            self.hashes += hashes
        self.count += later.count
        self.money += later.money
        self.dividends += later.dividends
        self.flows += later.flows
        again = later.tx_ids.keys() & self.tx_ids.keys()
        repeats = [
            (index, f"entry {index}: {_repeated(tx_id, self.tx_ids[tx_id])}")
            for tx_id, index in ((tx_id, later.tx_ids[tx_id]) for tx_id in again)
        ]
        if later.failure:
            repeats.append(later.failure)
        self.failure = self.failure or min(repeats, default=None)
        # An id seen before keeps its first entry.
        self.tx_ids.update({k: v for k, v in later.tx_ids.items() if k not in again})
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
    kind = entry.get("kind")
    lease = meta.get("lease_id") if kind in LEASE_KINDS and isinstance(meta, dict) else None
    result.money.append((seq, kind, lease, *escrow_flows(postings)))
    if kind == DIVIDEND:
        result.dividends.append((seq, source_refs(meta)))
    return None


def scan_file(path: str | os.PathLike[str], offset: int, workers: int) -> ScanResult:
    """:func:`scan_lines` over the entry lines of a file from byte ``offset``: with one
    worker block by block in this process, otherwise split into ranges of whole lines
    that ``workers`` processes read and check themselves."""
    if workers <= 1:
        return _scan_blocks(path, offset)
    ranges = _line_ranges(path, offset, pieces=workers * 4)
    if len(ranges) <= 1:
        return _merged(path, ranges, [_scan_range(path, *piece) for piece in ranges])
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
        return _merged(path, ranges, (future.result() for future in futures))


# Bytes read at a time: memory stays bounded for any export size, and blocks this small
# keep the scan's temporaries in memory that is reused (32 MB blocks spent a sixth of the
# scan's time faulting in fresh pages).
_BLOCK = 4 << 20


def _scan_blocks(
    path: str | os.PathLike[str], begin: int, end: int | None = None, first: int | None = None
) -> ScanResult:
    """Scan the bytes from ``begin`` to ``end`` (the file's end when None) in blocks of
    whole lines, one after the other. Without ``first`` the lines are the entries from
    the start and the tree is grown as the blocks come; a range numbered from ``first``
    keeps its leaf hashes instead."""
    total = ScanResult(tree=MerkleTree() if first is None else None)
    first = first or 0
    rest = b""
    with open(path, "rb") as file, _uncollected():
        file.seek(begin)
        left = (os.fstat(file.fileno()).st_size if end is None else end) - begin
        while left > 0:
            # Read into the block itself, and cut it down in place: a block is allocated
            # once, not copied to join the line left over or to cut one off.
            data = bytearray(len(rest) + min(_BLOCK, left))
            data[: len(rest)] = rest
            with memoryview(data) as view:
                size = file.readinto(view[len(rest) :])
            if not size:
                break
            left -= size
            del data[len(rest) + size :]
            cut = data.rfind(b"\n") + 1
            rest = bytes(data[cut:])
            del data[cut:]
            if data:
                scanned = _scan_data(data, first + total.lines)
                total.merge(scanned)
                total.lines += scanned.lines
    if rest:
        scanned = _scan_data(rest, first + total.lines)
        total.merge(scanned)
        total.lines += scanned.lines
    return total


def _merged(
    path: str | os.PathLike[str],
    ranges: list[tuple[int, int, int]],
    results: Iterable[ScanResult],
) -> ScanResult:
    """Merge the results of ``ranges`` in order, growing the tree as each arrives (while
    others still run). A range numbered by the seq its first line claims is scanned again
    from the true number when the ranges before it hold another count of lines."""
    total = ScanResult(tree=MerkleTree())
    lines = 0
    with _uncollected():
        for (begin, end, first), result in zip(ranges, results, strict=True):
            scanned = result if first == lines else _scan_range(path, begin, end, lines)
            total.merge(scanned)
            lines += scanned.lines
    return total


_CLAIMED_SEQ = re.compile(rb'\{"seq":(0|[1-9][0-9]{0,17}),')


def _line_ranges(
    path: str | os.PathLike[str], offset: int, pieces: int
) -> list[tuple[int, int, int]]:
    """(begin, end, first line number) of byte ranges that start and end on line breaks.
    A range is numbered by the seq its first line claims, so that the ranges need not be
    read here to count their lines (:func:`_merged` checks the claims)."""
    size = os.path.getsize(path)
    with open(path, "rb") as file:
        bounds = {offset: 0, size: 0}
        for piece in range(1, pieces):
            file.seek(offset + (size - offset) * piece // pieces)
            file.readline()
            begin = min(file.tell(), size)
            claimed = _CLAIMED_SEQ.match(file.read(32))
            bounds[begin] = int(claimed[1]) if claimed and begin < size else 0
        bounds[offset] = 0
    edges = sorted(bounds)
    return [(begin, end, bounds[begin]) for begin, end in itertools.pairwise(edges)]


def _scan_range(path: str | os.PathLike[str], begin: int, end: int, first: int) -> ScanResult:
    result = _scan_blocks(path, begin, end, first)
    # The subtrees of this range are hashed here, in parallel, not in the parent.
    result.levels, result.start = subtree_levels(result.hashes, first), first
    result.hashes = bytearray()
    return result


@contextlib.contextmanager
def _uncollected() -> Iterator[None]:
    """The collector paused: a scan and the merging of its results make many small objects
    and no cycles, and its passes over them (and over the rest of the heap) would only
    cost time."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def _scan_data(data: bytes | bytearray, first: int) -> ScanResult:
    """Scan whole lines of an export numbered from ``first``."""
    result = _scan_whole_lines(data, first)
    if not result.lines:  # counted already when every line is an entry
        result.lines = data.count(b"\n") + (not data.endswith(b"\n"))
    return result


def _scan_whole_lines(data: bytes | bytearray, first: int) -> ScanResult:
    try:
        if not data.isascii():  # ASCII is UTF-8, and much faster to tell
            data.decode("utf-8")  # records are not decoded one by one: check them all at once
    except UnicodeDecodeError as exc:
        result = scan_lines(_lines(bytes(data)), first)
        seq = first + data.count(b"\n", 0, exc.start)
        if result.failure is None or seq < result.failure[0]:
            result.failure = (seq, f"entry {seq}: the line is not UTF-8 ({exc.reason})")
        return result
    plain = _scan_plain(data, first)
    # Anything unusual goes to the line-by-line scan, which names it exactly.
    return plain if plain is not None else scan_lines(_lines(bytes(data)), first)


def _lines(data: bytes) -> list[bytes]:
    lines = data.split(b"\n")
    if lines and not lines[-1]:
        lines.pop()
    return lines


# A line that ends the way the ledger writes every entry: its type last, a plain kind.
_TYPE_AT_END = re.compile(rb',"type":"([a-z][a-z0-9_.-]{0,63})"}}\n')
# The float test of scan_lines on a whole block: bytes mapped to classes, where 's' is
# ':', ',' or '['; 'k' a digit, sign or space; 'f' one of '.eENI'; 'o' anything else.
_CLASSES = bytes(
    ord("s") if byte in b":,[" else
    ord("k") if byte in b"0123456789-+ \t\r\n" else
    ord("f") if byte in b".eENI" else ord("o")
    for byte in range(256)
)  # fmt: skip
_FLOAT_AT = re.compile(rb"sk*f")


class _Leaves:
    """The leaves of a block's lines, cut out of it when asked for."""

    def __init__(self, data: bytes | bytearray, starts: Any, ends: Any) -> None:
        self.data, self.starts, self.ends = data, starts.tolist(), ends.tolist()

    def __getitem__(self, index: int) -> bytes:
        return bytes(self.data[self.starts[index] : self.ends[index]])

    def many(self, indexes: list[int]) -> list[bytes]:
        data, starts, ends = self.data, self.starts, self.ends
        return [data[starts[index] : ends[index]] for index in indexes]  # type: ignore[misc]


def _hash_in_layout(
    data: bytes | bytearray, first: int, starts: Any, ends: Any, leaf_starts: Any
) -> tuple[bytearray, Any] | None:
    """The leaf hashes of a block's lines, each line checked to have the export layout and
    its claimed hash, and whether each leaf starts as a record must (``{"``); None when a
    line does not. ``leaf_starts`` is filled in with where each leaf begins."""
    count = len(ends)
    # Each leaf's hash input, 0x00 and the leaf, stands in the block once the byte before
    # the leaf (the ':' of '"entry":') is set to 0x00, put back once all are hashed: no
    # leaf is copied. A block given as bytes is copied once for that.
    prefixed = data if isinstance(data, bytearray) else bytearray(data)
    bytes_of = np.frombuffer(prefixed, np.uint8)
    hashes = bytearray()
    plain = []
    low = zeroed = 0
    try:
        with memoryview(prefixed) as view:
            while low < count:  # lines whose seq has as many digits share one layout
                digits = len(str(first + low))
                high = min(count, 10**digits - first)
                width = 7 + digits + 14  # '{"seq":' N ',"leaf_hash":"'
                at = width + 74
                begin, end = starts[low:high], ends[low:high] - 1  # end: the line's last '}'
                if (end - begin < at + 2).any():
                    return None
                # Each line up to its leaf's first two bytes, as a row of a matrix.
                heads = np.frombuffer(
                    b"".join(
                        [
                            data[line:stop]
                            for line, stop in zip(
                                begin.tolist(), (begin + at + 2).tolist(), strict=True
                            )
                        ]
                    ),
                    np.uint8,
                ).reshape(high - low, at + 2)
                layout = np.frombuffer(
                    b'{"seq":' + b"0" * digits + b',"leaf_hash":"' + b"0" * 64 + _ENTRY, np.uint8
                )
                fixed = np.ones(at, bool)
                fixed[7 : 7 + digits] = fixed[width : width + 64] = False
                if not (heads[:, :at][:, fixed] == layout[fixed]).all():
                    return None
                seqs = np.arange(first + low, first + high, dtype=np.int64)
                for place in range(digits):
                    digit = 48 + seqs // 10 ** (digits - 1 - place) % 10
                    if not (heads[:, 7 + place] == digit).all():
                        return None
                leaf_starts[low:high] = begin + at
                bytes_of[begin + at - 1] = 0
                zeroed = high
                block = b"".join(
                    [
                        sha256(view[leaf:stop]).digest()
                        for leaf, stop in zip((begin + at - 1).tolist(), end.tolist(), strict=True)
                    ]
                )
                claimed = np.frombuffer(block.hex().encode("ascii"), np.uint8).reshape(-1, 64)
                if not np.array_equal(heads[:, width : width + 64], claimed):
                    return None
                plain.append((heads[:, at] == ord("{")) & (heads[:, at + 1] == ord('"')))
                hashes += block
                low = high
    finally:
        bytes_of[leaf_starts[:zeroed] - 1] = ord(":")
    return hashes, np.concatenate(plain)


def _scan_plain(data: bytes | bytearray, first: int) -> ScanResult | None:
    """:func:`scan_lines` for a block in which every line has the export layout, its claimed
    hash and a plain record or transaction type at its end, with the layout and the hashes
    compared for all lines at once; None when any of that does not hold.

    The record test of scan_lines (no float, no escape, no ``"transaction"``) is run over
    the whole block; the lines it picks out are parsed like every transaction."""
    # A blank line has no type at its end, so the count of kinds below refuses it.
    if not data or b"\r" in data:
        return None
    if not data.endswith(b"\n"):
        data = bytes(data) + b"\n"
    kinds = _TYPE_AT_END.findall(data)
    ends = np.flatnonzero(np.frombuffer(data, np.uint8) == 10)
    count = len(ends)
    if len(kinds) != count:  # each match ends one line, so this is one per line
        return None
    starts = np.zeros(count, np.int64)
    starts[1:] = ends[:-1] + 1
    leaf_starts = np.zeros(count, np.int64)
    hashed = _hash_in_layout(data, first, starts, ends, leaf_starts)
    if hashed is None:
        return None
    hashes, plain = hashed
    # The record test of scan_lines: lines it does not pass are parsed, like transactions.
    # Lines holding "transaction" anywhere: transactions, which the bulk check takes, and
    # records that name it, which it refuses and hands on to the exact check.
    named = [m.start() for m in re.finditer(_TRANSACTION, data)]
    picked = [
        np.unique(np.searchsorted(starts, np.array(named, np.int64), side="right") - 1),
        np.flatnonzero(~plain),
    ]
    found = [np.array([m.start() for m in _FLOAT_AT.finditer(data.translate(_CLASSES))], np.int64)]
    if b"\\" in data:
        found.append(np.flatnonzero(np.frombuffer(data, np.uint8) == ord("\\")))
    if any(len(where) for where in found):  # to the lines they are in
        picked += [np.searchsorted(starts, where, side="right") - 1 for where in found]
    result = ScanResult(hashes=hashes, count=count, lines=count)
    parsed = set(np.concatenate(picked[1:]).tolist())
    result.failure = _check_entries(
        np.unique(np.concatenate(picked)).tolist(),
        parsed,
        _Leaves(data, leaf_starts, ends - 1),
        first,
        result,
    )
    return result


# Possessive (no backtracking into a string): a string ends at its first quote anyway.
_STRING = rb'"[^"\\\x00-\x1f]++"'  # non-empty, no escape, no control character
_ACCOUNT = rb'"[^"\\\x00-\x1f{]++"'  # and no '{', which then opens each posting
_AMOUNT = rb"-?[1-9][0-9]{0,11}"  # below 10**12, so that sums stay within int64
_MOST_POSTINGS = 9_000_000
# A transaction as the ledger writes it (canonical JSON, the meta of a payment, split or
# refund), one per line of the joined leaves; any other line matches the last group. Its
# postings are matched by _POSTING, which must then cover them all.
_TRANSACTION_LEAVES = re.compile(
    rb'^(?:\{"id":(' + _STRING + rb'),"kind":"(payment|split|refund|payout)",'
    rb'"meta":\{(?:"amount_minor":(0|[1-9][0-9]{0,11}),)?"lease_id":(' + _STRING + rb")"
    rb'(?:,"shares_bp":(\{[^{}\\]*\}))?\},'
    rb'"postings":\[([^\[\]\n]++)\],'
    rb'"time":"[^"\\\x00-\x1f]*+","type":"transaction"\}|(.*))$',
    re.MULTILINE,
)
# One posting and what follows it: a comma before the next, a line break after the last.
_POSTING = re.compile(
    rb'\{"account":"([^"\\\x00-\x1f{]++)","amount_minor":(' + _AMOUNT + rb"),"
    rb'"currency":"([A-Z]{3})"\}(,|\n|\Z)'
)
_POSTING_TEXT = len(b'{"account":"","amount_minor":,"currency":"CNY"}')


def _check_entries(
    indexes: list[int], parsed: set[int], leaves: _Leaves, first: int, result: ScanResult
) -> tuple[int, str] | None:
    """Check the entries of a block that need more than their hash, in order: transactions
    in the ledger's own form in bulk (arrays of postings, splits per set of shares), the
    rest and any that fail one by one by :func:`_entry_problem`, for its exact message."""
    plain = [index for index in indexes if index not in parsed]
    bulk = _bulk_transactions(leaves.many(plain))
    entries = np.array(plain, np.int64) + first
    if bulk is not None and len(plain) == len(indexes) and bulk.ok.all():
        # Every one passes unless an id repeats, in the block or before it.
        ids = dict(zip(bulk.tx_ids, entries.tolist(), strict=True))
        if len(ids) == len(plain) and not ids.keys() & result.tx_ids.keys():
            result.tx_ids.update(ids)
            bulk.take(result, entries, bulk.ok)
            return None
    taken = np.zeros(len(plain), bool)  # which of them pass
    failure = None
    fast = 0
    for index in indexes:
        seq = first + index
        in_bulk = fast < len(plain) and plain[fast] == index
        if in_bulk and bulk is not None and bulk.ok[fast]:
            tx_id = bulk.tx_ids[fast]
            earlier = result.tx_ids.setdefault(tx_id, seq)
            problem = _repeated(tx_id, earlier) if earlier != seq else None
            taken[fast] = problem is None
        else:
            problem = _entry_problem(leaves[index], seq, result)
        if in_bulk:
            fast += 1
        if problem is not None and failure is None:
            failure = (seq, f"entry {seq}: {problem}")
    if bulk is not None and taken.any():
        bulk.take(result, entries, taken)
    return failure


@dataclass
class _Postings:
    """The postings of a block's transactions as arrays: an account code and an amount
    each, in order, ``counts`` of them per transaction, all in one currency."""

    names: list[str]
    codes: Any
    amounts: Any
    counts: Any
    currency: str

    def add_to(self, balances: Balances, taken: Any) -> None:
        """Add the postings of the transactions marked in ``taken`` to ``balances``."""
        mask = np.repeat(taken, self.counts)
        codes, amounts = self.codes[mask], self.amounts[mask]
        totals = np.zeros(len(self.names), np.int64)
        np.add.at(totals, codes, amounts)
        accounts = balances.setdefault(self.currency, {})
        for code in np.unique(codes).tolist():
            name = self.names[code]
            accounts[name] = accounts.get(name, 0) + int(totals[code])


@dataclass
class _Bulk:
    """Transactions in the ledger's own form, as columns: whether each balances and splits
    exactly (``ok``), its id, kind, lease, escrow move and credits, and the postings."""

    ok: Any
    tx_ids: list[str]
    kinds: Any
    leases: list[str]
    moves: Any
    credits: Any
    postings: _Postings

    def take(self, result: ScanResult, entries: Any, taken: Any) -> None:
        """Count the transactions marked in ``taken`` (numbered ``entries``) in ``result``:
        their postings in the balances, their flows for the escrow rules."""
        self.postings.add_to(result.balances, taken)
        kinds = self.kinds[taken]
        leased = (kinds == PAYMENT) | (kinds == SPLIT) | (kinds == REFUND)
        result.flows.append(
            FlowColumns(
                entries[taken],
                kinds,
                [
                    lease if on else ""
                    for lease, on in zip(
                        itertools.compress(self.leases, taken.tolist()),
                        leased.tolist(),
                        strict=True,
                    )
                ],
                [self.postings.currency] * len(kinds),
                self.moves[taken],
                self.credits[taken],
            )
        )


_KIND_CODES = {kind.encode(): code for kind, code in KIND_CODES.items()}


def _bulk_transactions(leaves: list[bytes]) -> _Bulk | None:
    """Which leaves are transactions in the ledger's own form that balance and split
    exactly, with what :func:`_entry_problem` would keep of them; None when the block
    as a whole is not in that form (each leaf then goes to the exact check).

    Postings are checked as arrays: per transaction they must sum to zero, and a split must
    debit escrow by its amount and credit each party its part once. That is stricter than
    :func:`contracts.ledger.check_postings` (which would also take a party's part in two
    postings), so a leaf refused here is only sent on to the exact check."""
    if not leaves:
        return None
    rows = _TRANSACTION_LEAVES.findall(b"\n".join(leaves))
    if len(rows) != len(leaves):
        return None
    matched = np.array([bool(row[0]) for row in rows])
    bodies = b"\n".join([row[5] for row in rows if row[0]])
    postings = _POSTING.findall(bodies)
    if not postings or len(postings) > _MOST_POSTINGS:
        return None
    accounts, amounts_text, currencies, ends = zip(*postings, strict=True)
    # The matches are apart, so they cover every byte of the postings only if their
    # lengths add up to it: nothing else stands between them.
    covered = _POSTING_TEXT * len(postings) + sum(map(len, accounts))
    covered += sum(map(len, amounts_text)) + sum(map(len, ends))
    # A line ending in a comma ends with the last: it must not take that comma as its own.
    if covered != len(bodies) or ends[-1]:
        return None
    # One currency, and few enough amounts below 10**12 that int64 sums cannot overflow.
    currency = currencies[0]
    if currencies.count(currency) != len(currencies):
        return None
    # Accounts hold no '{', so each one in a body opens a posting.
    text = np.frombuffer(bodies, np.uint8)
    edges = np.concatenate(([0], np.flatnonzero(text == 10), [len(bodies)]))
    counts = np.zeros(len(rows), np.int64)
    counts[matched] = np.diff(np.searchsorted(np.flatnonzero(text == ord("{")), edges))
    # Two or more postings; refunds taken back from the parties (with shares) are left to
    # the exact check.
    ok = (counts >= 2) & np.array([not (row[1] == b"refund" and row[4]) for row in rows])
    codes = {account: code for code, account in enumerate(dict.fromkeys(accounts))}
    account_codes = np.fromiter(map(codes.__getitem__, accounts), np.int64, len(accounts))
    try:
        names = [account.decode("utf-8") for account in codes]
        tx_ids = [row[0][1:-1].decode("utf-8") for row in rows]
        leases = [row[3][1:-1].decode("utf-8") for row in rows]
    except UnicodeDecodeError:
        return None
    amounts = np.fromiter(map(int, amounts_text), np.int64, len(postings))
    starts = np.zeros(len(rows), np.int64)
    starts[1:] = np.cumsum(counts)[:-1]

    def per_transaction(values: Any) -> Any:
        # Rows that did not match have no postings (and are refused already); the zero
        # after the last posting keeps their start within the array.
        return np.add.reduceat(np.append(values, 0), starts)

    ok &= per_transaction(amounts) == 0
    escrow = account_codes == codes.get(ESCROW.encode(), -1)
    moves = per_transaction(np.where(escrow, amounts, 0))
    credits = per_transaction(np.where(~escrow & (amounts > 0), amounts, 0))
    kinds = np.fromiter((_KIND_CODES.get(row[1], OTHER) for row in rows), np.int8, len(rows))
    splits: dict[bytes, list[int]] = {}
    for position in np.flatnonzero(kinds == SPLIT).tolist():
        splits.setdefault(rows[position][4], []).append(position)
    for shares_raw, positions in splits.items():
        where = np.array(positions, np.int64)
        ok[where] &= _splits_exact(
            shares_raw, where, rows, starts, counts, account_codes, amounts, codes
        )
    return _Bulk(
        ok,
        tx_ids,
        kinds,
        leases,
        moves,
        credits,
        _Postings(names, account_codes, amounts, counts, currency.decode("ascii")),
    )


def _splits_exact(
    shares_raw: bytes,
    where: Any,
    rows: list[tuple[bytes, ...]],
    starts: Any,
    counts: Any,
    account_codes: Any,
    amounts: Any,
    codes: dict[bytes, int],
) -> Any:
    """Whether each split (rows at ``where``, all with these shares) takes exactly its
    amount out of escrow and gives each party its part of ``split(amount, shares_bp)``."""
    refused = np.zeros(len(where), bool)
    shares = _shares(shares_raw)
    if shares is None or not all(rows[i][2] for i in where.tolist()):
        return refused
    parties, bp, tie = shares
    width = len(parties) + 1
    column = np.full(len(codes), -1, np.int64)
    for place, party in enumerate(parties):
        if party.encode("utf-8") in codes:
            column[codes[party.encode("utf-8")]] = place
    if ESCROW in parties:
        return refused
    if ESCROW.encode() in codes:
        column[codes[ESCROW.encode()]] = width - 1
    paid = np.array([int(rows[i][2]) for i in where.tolist()], np.int64)
    base, rest = np.divmod(paid[:, None] * bp[None, :], TOTAL_BP)
    leftover = paid - base.sum(axis=1)
    order = np.argsort(np.argsort((TOTAL_BP - rest) * len(parties) + tie, axis=1), axis=1)
    expected = np.zeros((len(where), width), np.int64)
    expected[:, :-1] = base + (order < leftover[:, None])
    expected[:, -1] = -paid
    n = counts[where]
    total = int(n.sum())
    line = np.repeat(np.arange(len(where)), n)
    index = np.arange(total) - np.repeat(np.cumsum(n) - n, n) + np.repeat(starts[where], n)
    place = column[account_codes[index]]
    given = np.zeros((len(where), width), np.int64)
    seen = np.zeros((len(where), width), np.int64)
    good = place >= 0
    np.add.at(given, (line[good], place[good]), amounts[index][good])
    np.add.at(seen, (line[good], place[good]), 1)
    bad_line = np.zeros(len(where), bool)
    bad_line[line[~good]] = True
    return ~bad_line & (seen <= 1).all(axis=1) & (given == expected).all(axis=1)


_SHARES: dict[bytes, tuple[list[str], Any, Any] | None] = {}


def _shares(raw: bytes) -> tuple[list[str], Any, Any] | None:
    """Parties, basis points and tie order (larger share, then name) of a shares_bp
    object; None unless it parses and :func:`check_shares` accepts it. Kept per text."""
    if raw not in _SHARES:
        try:
            shares, end = _SCAN(raw.decode("utf-8"), 0)
            if end != len(raw) or type(shares) is not dict:
                raise ValueError("not an object")
            check_shares(shares)
        except (StopIteration, ValueError, ContractError):
            _SHARES[raw] = None
        else:
            parties = list(shares)
            ranked = sorted(parties, key=lambda party: (-shares[party], party))
            tie = np.array([ranked.index(party) for party in parties], np.int64)
            _SHARES[raw] = (parties, np.array([shares[p] for p in parties], np.int64), tie)
    return _SHARES[raw]
