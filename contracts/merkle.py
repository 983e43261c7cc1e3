"""An RFC 6962 / RFC 9162 Merkle tree with inclusion and consistency proofs.

Leaf hash ``SHA-256(0x00 || leaf)``, node hash ``SHA-256(0x01 || left || right)``,
empty tree ``SHA-256("")``. Every complete subtree is kept, level by level, in one
``bytearray`` of 32-byte hashes, so appending costs about two SHA-256 calls, a root
or a proof for any past size costs O(log n), and a tree rebuilt from a million stored
leaves hashes each level in one pass at C speed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from hashlib import sha256

from contracts.errors import ProofError

HASH_SIZE = 32
EMPTY_ROOT = sha256(b"").digest()
_LEAF = b"\x00"
_NODE = b"\x01"


def leaf_hash(leaf: bytes) -> bytes:
    """The RFC 6962 hash of one leaf: ``SHA-256(0x00 || leaf)``."""
    return sha256(_LEAF + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """The RFC 6962 hash of an inner node: ``SHA-256(0x01 || left || right)``."""
    return sha256(_NODE + left + right).digest()


def _parent_level(level: bytes | bytearray) -> bytearray:
    """Hash each complete pair of a level into the level above (an odd last node waits)."""
    view = memoryview(level)
    pairs = len(level) // (2 * HASH_SIZE) * 2 * HASH_SIZE
    step = 2 * HASH_SIZE
    return bytearray(
        b"".join([sha256(_NODE + view[i : i + step]).digest() for i in range(0, pairs, step)])
    )


def subtree_levels(hashes: bytes | bytearray, first: int) -> list[bytes]:
    """Level by level, the complete subtrees that lie wholly among leaf hashes numbered
    from ``first`` (level 0: the leaf hashes): one piece of a tree, hashed where the
    leaves were, that :meth:`MerkleTree.extend_levels` joins to the pieces before it."""
    levels = [bytes(hashes)]
    level, start = levels[0], first
    while True:
        skip = start & 1  # an odd first node pairs with the last node of the piece before
        pairs = (len(level) // HASH_SIZE - skip) // 2
        if pairs <= 0:
            return levels
        level = bytes(_parent_level(level[skip * HASH_SIZE : (skip + 2 * pairs) * HASH_SIZE]))
        levels.append(level)
        start = (start + skip) // 2


class MerkleTree:
    """An append-only Merkle tree over byte-string leaves (RFC 6962 section 2.1)."""

    __slots__ = ("_levels",)

    def __init__(self) -> None:
        # _levels[k] holds the hashes of the complete subtrees of 2**k leaves, in order.
        self._levels: list[bytearray] = [bytearray()]

    @classmethod
    def from_leaves(cls, leaves: Iterable[bytes]) -> MerkleTree:
        """Build a tree from leaf data (each leaf is hashed with the 0x00 prefix)."""
        return cls.from_leaf_hashes(b"".join([sha256(_LEAF + leaf).digest() for leaf in leaves]))

    @classmethod
    def from_leaf_hashes(cls, hashes: bytes | bytearray | Sequence[bytes]) -> MerkleTree:
        """Build a tree from leaf hashes, given concatenated or as a sequence of 32-byte values."""
        tree = cls()
        tree.extend_hashes(hashes)
        return tree

    def extend_hashes(self, hashes: bytes | bytearray | Sequence[bytes]) -> None:
        """Append many leaf hashes at once, hashing each level's new pairs in one pass."""
        if not isinstance(hashes, (bytes, bytearray)):
            hashes = b"".join(hashes)
        if len(hashes) % HASH_SIZE:
            raise ProofError(
                f"leaf hashes must be {HASH_SIZE} bytes each; got {len(hashes)} bytes in all"
            )
        levels, added, height = self._levels, hashes, 0
        while added:
            level = levels[height]
            # Pairs before the level's last odd node are complete already; hash the rest.
            first_pair = len(level) // (2 * HASH_SIZE)
            level += added
            added = _parent_level(bytes(level[first_pair * 2 * HASH_SIZE :]))
            height += 1
            if added and height == len(levels):
                levels.append(bytearray())

    def extend_levels(self, levels: Sequence[bytes]) -> None:
        """Append the leaves of a piece given by its :func:`subtree_levels`, numbered from
        this tree's size: only the nodes that pair this tree's last nodes with the piece's
        first ones are hashed here."""
        if len(levels[0]) % HASH_SIZE:
            raise ProofError(f"leaf hashes must be {HASH_SIZE} bytes each")
        mine, first, height = self._levels, self.size, 0
        while True:
            if height == len(mine):
                mine.append(bytearray())
            level = mine[height]
            if height:
                below = mine[height - 1]
                # Up to the piece's first node at this height (or as far as the level below
                # reaches, above the piece's own levels), nodes are hashed from their pairs.
                end = -(-first >> height) if height < len(levels) else len(below) // HASH_SIZE // 2
                while len(level) // HASH_SIZE < end:
                    at = len(level) * 2
                    level += sha256(_NODE + below[at : at + 2 * HASH_SIZE]).digest()
            if height < len(levels):
                level += levels[height]
            if height + 1 >= len(levels) and len(level) < 2 * HASH_SIZE:
                if not level and height:
                    mine.pop()
                return
            height += 1

    @property
    def size(self) -> int:
        """The number of leaves."""
        return len(self._levels[0]) // HASH_SIZE

    def __len__(self) -> int:
        return self.size

    def append(self, leaf: bytes) -> int:
        """Add one leaf and return its index."""
        return self.append_hash(sha256(_LEAF + leaf).digest())

    def append_hash(self, hashed_leaf: bytes) -> int:
        """Add a leaf given by its leaf hash and return its index."""
        if len(hashed_leaf) != HASH_SIZE:
            raise ProofError(f"a leaf hash has {HASH_SIZE} bytes, got {len(hashed_leaf)}")
        levels = self._levels
        index = len(levels[0]) // HASH_SIZE
        levels[0] += hashed_leaf
        position, height, node = index, 0, hashed_leaf
        # Each time the new node closes a pair, the parent subtree becomes complete.
        while position & 1:
            level = levels[height]
            node = sha256(_NODE + level[-2 * HASH_SIZE : -HASH_SIZE] + node).digest()
            height += 1
            position >>= 1
            if height == len(levels):
                levels.append(bytearray())
            levels[height] += node
        return index

    def leaf_hash_at(self, index: int) -> bytes:
        """The stored hash of leaf ``index``."""
        self._check_index(index, self.size)
        return self._node(0, index)

    def root(self, size: int | None = None) -> bytes:
        """The tree head hash for the first ``size`` leaves (default: all of them)."""
        size = self._check_size(size)
        return self._range_hash(0, size)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """The audit path of leaf ``index`` in the tree of ``size`` leaves, leaf to root."""
        size = self._check_size(size)
        self._check_index(index, size)
        proof: list[bytes] = []
        start, end = 0, size
        while end - start > 1:
            split = start + _largest_power_below(end - start)
            if index < split:
                proof.append(self._range_hash(split, end))
                end = split
            else:
                proof.append(self._range_hash(start, split))
                start = split
        proof.reverse()
        return proof

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """The RFC 6962 proof that the tree of ``old_size`` leaves is a prefix of ``new_size``."""
        new_size = self._check_size(new_size)
        if not 0 <= old_size <= new_size:
            raise ProofError(
                f"consistency needs 0 <= old_size <= new_size; got {old_size} and {new_size}"
            )
        if old_size in (0, new_size):
            return []
        proof: list[bytes] = []
        start, end, complete = 0, new_size, True
        # SUBPROOF(m, D[start:end], complete) of RFC 6962 section 2.1.2, unrolled.
        while old_size != end - start:
            split = _largest_power_below(end - start)
            if old_size <= split:
                proof.append(self._range_hash(start + split, end))
                end = start + split
            else:
                proof.append(self._range_hash(start, start + split))
                old_size -= split
                start += split
                complete = False
        if not complete:
            proof.append(self._range_hash(start, end))
        proof.reverse()
        return proof

    def _node(self, height: int, position: int) -> bytes:
        offset = position * HASH_SIZE
        return bytes(self._levels[height][offset : offset + HASH_SIZE])

    def _range_hash(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]) for a range that starts on a boundary of its own width."""
        if start == end:
            return EMPTY_ROOT
        parts: list[bytes] = []
        while start < end:
            height = (end - start).bit_length() - 1
            parts.append(self._node(height, start >> height))
            start += 1 << height
        result = parts.pop()
        while parts:
            result = sha256(_NODE + parts.pop() + result).digest()
        return result

    def _check_size(self, size: int | None) -> int:
        if size is None:
            return self.size
        if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= self.size:
            raise ProofError(f"tree size must be between 0 and {self.size}; got {size!r}")
        return size

    @staticmethod
    def _check_index(index: int, size: int) -> None:
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < size:
            raise ProofError(f"leaf index must be in [0, {size}); got {index!r}")


def _largest_power_below(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (for n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """Check an audit path with the algorithm of RFC 9162 section 2.1.3.2."""
    if not 0 <= index < size or not _all_hashes(leaf_hash, root, *proof):
        return False
    fn, sn, result = index, size - 1, leaf_hash
    for sibling in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            result = sha256(_NODE + sibling + result).digest()
            while not fn & 1 and fn:
                fn >>= 1
                sn >>= 1
        else:
            result = sha256(_NODE + result + sibling).digest()
        fn >>= 1
        sn >>= 1
    return sn == 0 and result == root


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Check a consistency proof with the algorithm of RFC 9162 section 2.1.4.2."""
    if not 0 <= old_size <= new_size or not _all_hashes(*proof):
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof
    if not proof or not _all_hashes(old_root, new_root):
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # an exact power of two: the old root is a node
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    first = second = path[0]
    for node in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            first = sha256(_NODE + node + first).digest()
            second = sha256(_NODE + node + second).digest()
            while not fn & 1 and fn:
                fn >>= 1
                sn >>= 1
        else:
            second = sha256(_NODE + second + node).digest()
        fn >>= 1
        sn >>= 1
    return sn == 0 and first == old_root and second == new_root


def _all_hashes(*values: bytes) -> bool:
    return all(isinstance(v, (bytes, bytearray)) and len(v) == HASH_SIZE for v in values)
