"""The Merkle tree against the RFC 6962 test vectors and an independent reference."""

from __future__ import annotations

import itertools
import random
from hashlib import sha256

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts import (
    EMPTY_ROOT,
    MerkleTree,
    ProofError,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)
from contracts.merkle import subtree_levels

# The eight leaves, per-size roots and proofs used by Certificate Transparency's
# merkle_tree_test and by transparency-dev/merkle (proof/verify_test.go).
LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
# (leaf index, tree size, audit path)
INCLUSION = [
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (0, 1, []),
]
# (old size, new size, consistency proof)
CONSISTENCY = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]


def hexes(proof: list[bytes]) -> list[str]:
    return [node.hex() for node in proof]


@pytest.fixture(scope="module")
def vector_tree() -> MerkleTree:
    tree = MerkleTree()
    for leaf in LEAVES:
        tree.append(leaf)
    return tree


# An independent reference: the recursive definitions of RFC 6962 section 2.1.
def ref_mth(leaves: list[bytes]) -> bytes:
    if not leaves:
        return sha256(b"").digest()
    if len(leaves) == 1:
        return sha256(b"\x00" + leaves[0]).digest()
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return sha256(b"\x01" + ref_mth(leaves[:k]) + ref_mth(leaves[k:])).digest()


def ref_path(m: int, leaves: list[bytes]) -> list[bytes]:
    if len(leaves) == 1:
        return []
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    if m < k:
        return ref_path(m, leaves[:k]) + [ref_mth(leaves[k:])]
    return ref_path(m - k, leaves[k:]) + [ref_mth(leaves[:k])]


def ref_subproof(m: int, leaves: list[bytes], complete: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if complete else [ref_mth(leaves)]
    k = 1 << ((n - 1).bit_length() - 1)
    if m <= k:
        return ref_subproof(m, leaves[:k], complete) + [ref_mth(leaves[k:])]
    return ref_subproof(m - k, leaves[k:], False) + [ref_mth(leaves[:k])]


def test_empty_tree_root_is_sha256_of_nothing() -> None:
    assert MerkleTree().root().hex() == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    assert MerkleTree().root() == EMPTY_ROOT


@pytest.mark.parametrize("size", range(1, 9))
def test_root_of_each_prefix_matches_rfc6962_vectors(vector_tree: MerkleTree, size: int) -> None:
    assert vector_tree.root(size).hex() == ROOTS[size - 1]
    assert MerkleTree.from_leaves(LEAVES[:size]).root().hex() == ROOTS[size - 1]


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION)
def test_inclusion_proofs_match_rfc6962_vectors_and_verify(
    vector_tree: MerkleTree, index: int, size: int, path: list[str]
) -> None:
    proof = vector_tree.inclusion_proof(index, size)
    assert hexes(proof) == path
    root = bytes.fromhex(ROOTS[size - 1])
    assert verify_inclusion(leaf_hash(LEAVES[index]), index, size, proof, root)


@pytest.mark.parametrize(("old", "new", "path"), CONSISTENCY)
def test_consistency_proofs_match_rfc6962_vectors_and_verify(
    vector_tree: MerkleTree, old: int, new: int, path: list[str]
) -> None:
    proof = vector_tree.consistency_proof(old, new)
    assert hexes(proof) == path
    old_root, new_root = (bytes.fromhex(ROOTS[s - 1]) for s in (old, new))
    assert verify_consistency(old, new, old_root, new_root, proof)


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION[:4])
def test_corrupted_inclusion_proofs_fail(index: int, size: int, path: list[str]) -> None:
    proof = [bytes.fromhex(h) for h in path]
    root, leaf = bytes.fromhex(ROOTS[size - 1]), leaf_hash(LEAVES[index])
    probes = [
        (leaf, index - 1, size, proof, root),
        (leaf, index + 1, size, proof, root),
        (leaf, index ^ 2, size, proof, root),
        (leaf, index, size * 2, proof, root),
        (leaf, index, size // 2, proof, root),
        (leaf_hash(b"WrongLeaf"), index, size, proof, root),
        (leaf, index, size, proof, EMPTY_ROOT),
        (leaf, index, size, [*proof, b""], root),
        (leaf, index, size, [*proof, root], root),
        (leaf, index, size, [root, *proof], root),
        (leaf, index, size, proof[:-1], root),
    ]
    for position in range(len(proof)):
        flipped = list(proof)
        flipped[position] = bytes([flipped[position][0] ^ 8]) + flipped[position][1:]
        probes.append((leaf, index, size, flipped, root))
    assert not any(verify_inclusion(*probe) for probe in probes)


@pytest.mark.parametrize(("old", "new", "path"), CONSISTENCY[1:])
def test_corrupted_consistency_proofs_fail(old: int, new: int, path: list[str]) -> None:
    proof = [bytes.fromhex(h) for h in path]
    r1, r2 = (bytes.fromhex(ROOTS[s - 1]) for s in (old, new))
    probes = [
        (old - 1, new, r1, r2, proof),
        (old + 1, new, r1, r2, proof),
        (old ^ 2, new, r1, r2, proof),
        (old, new * 2, r1, r2, proof),
        (old, new // 2, r1, r2, proof),
        (old, new, r2, r1, proof),
        (old, new, r1, r2, []),
        (old, new, r1, r2, [*proof, r1]),
        (old, new, r1, r2, [r2, *proof]),
        (old, new, r1, r2, [proof[0], *proof]),
        (old, new, r1, r2, proof[:-1]),
    ]
    for position in range(len(proof)):
        flipped = list(proof)
        flipped[position] = bytes([flipped[position][0] ^ 16]) + flipped[position][1:]
        probes.append((old, new, r1, r2, flipped))
    assert not any(verify_consistency(*probe) for probe in probes)


@pytest.mark.parametrize(
    ("old", "new", "old_root", "new_root", "proof", "valid"),
    [
        (0, 0, EMPTY_ROOT, EMPTY_ROOT, [], True),
        (0, 5, EMPTY_ROOT, bytes.fromhex(ROOTS[4]), [], True),
        (3, 3, bytes.fromhex(ROOTS[2]), bytes.fromhex(ROOTS[2]), [], True),
        (3, 3, bytes.fromhex(ROOTS[2]), bytes.fromhex(ROOTS[3]), [], False),
        (3, 3, bytes.fromhex(ROOTS[2]), bytes.fromhex(ROOTS[2]), [EMPTY_ROOT], False),
        (0, 1, EMPTY_ROOT, bytes.fromhex(ROOTS[0]), [EMPTY_ROOT], False),
        (2, 1, bytes.fromhex(ROOTS[1]), bytes.fromhex(ROOTS[0]), [], False),
    ],
)
def test_trivial_consistency_cases_follow_the_rfc(
    old: int, new: int, old_root: bytes, new_root: bytes, proof: list[bytes], valid: bool
) -> None:
    assert verify_consistency(old, new, old_root, new_root, proof) is valid


def test_inclusion_in_an_empty_tree_never_verifies() -> None:
    assert not verify_inclusion(EMPTY_ROOT, 0, 0, [], EMPTY_ROOT)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda t: t.root(9), r"tree size must be between 0 and 8; got 9"),
        (lambda t: t.inclusion_proof(8, 8), r"leaf index must be in \[0, 8\); got 8"),
        (lambda t: t.inclusion_proof(0, 0), r"leaf index must be in \[0, 0\)"),
        (lambda t: t.consistency_proof(5, 4), r"0 <= old_size <= new_size; got 5 and 4"),
        (lambda t: t.append_hash(b"short"), r"a leaf hash has 32 bytes, got 5"),
    ],
)
def test_proofs_for_sizes_the_tree_lacks_are_refused(
    vector_tree: MerkleTree, call, message: str
) -> None:
    with pytest.raises(ProofError, match=message):
        call(vector_tree)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(max_size=12), min_size=1, max_size=70), st.data())
def test_random_trees_match_the_reference_and_every_proof_verifies(
    leaves: list[bytes], data: st.DataObject
) -> None:
    appended = MerkleTree()
    for leaf in leaves:
        appended.append(leaf)
    rebuilt = MerkleTree.from_leaves(leaves)
    size = data.draw(st.integers(1, len(leaves)), label="size")
    root = ref_mth(leaves[:size])
    assert appended.root(size) == rebuilt.root(size) == root
    for index in range(size):
        proof = appended.inclusion_proof(index, size)
        assert proof == rebuilt.inclusion_proof(index, size) == ref_path(index, leaves[:size])
        assert len(proof) <= (size - 1).bit_length()
        assert verify_inclusion(leaf_hash(leaves[index]), index, size, proof, root)
    for old in range(size + 1):
        proof = appended.consistency_proof(old, size)
        expected = [] if old in (0, size) else ref_subproof(old, leaves[:size], True)
        assert proof == expected
        assert verify_consistency(old, size, ref_mth(leaves[:old]), root, proof)


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 300), st.data())
def test_a_changed_hash_in_any_proof_fails(size: int, data: st.DataObject) -> None:
    tree = MerkleTree.from_leaves(i.to_bytes(4, "big") for i in range(size))
    index = data.draw(st.integers(0, size - 1), label="index")
    old = data.draw(st.integers(1, size - 1), label="old")
    inclusion = tree.inclusion_proof(index, size)
    consistency = tree.consistency_proof(old, size)
    hashed, root, old_root = tree.leaf_hash_at(index), tree.root(), tree.root(old)
    assert verify_inclusion(hashed, index, size, inclusion, root)
    assert verify_consistency(old, size, old_root, root, consistency)
    if inclusion:
        at = data.draw(st.integers(0, len(inclusion) - 1), label="inclusion position")
        bit = data.draw(st.integers(0, 255), label="bit")
        inclusion[at] = _flip(inclusion[at], bit)
        assert not verify_inclusion(hashed, index, size, inclusion, root)
    at = data.draw(st.integers(0, len(consistency) - 1), label="consistency position")
    consistency[at] = _flip(consistency[at], data.draw(st.integers(0, 255), label="bit"))
    assert not verify_consistency(old, size, old_root, root, consistency)
    assert not verify_inclusion(_flip(hashed, 0), index, size, tree.inclusion_proof(index), root)


def _flip(node: bytes, bit: int) -> bytes:
    changed = bytearray(node)
    changed[bit // 8] ^= 1 << (bit % 8)
    return bytes(changed)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 40), max_size=8))
def test_extending_in_batches_builds_the_same_tree_as_appending(batches: list[int]) -> None:
    appended, extended, next_leaf = MerkleTree(), MerkleTree(), 0
    for batch in batches:
        leaves = [i.to_bytes(4, "big") for i in range(next_leaf, next_leaf + batch)]
        next_leaf += batch
        for leaf in leaves:
            appended.append(leaf)
        extended.extend_hashes([leaf_hash(leaf) for leaf in leaves])
        assert extended.size == appended.size
        assert all(extended.root(s) == appended.root(s) for s in range(appended.size + 1))
    if appended.size:
        last = appended.size - 1
        assert extended.inclusion_proof(last) == appended.inclusion_proof(last)


@pytest.mark.parametrize("seed", range(40))
def test_a_tree_joined_from_pieces_hashed_apart_is_the_tree_of_all_leaves(seed: int) -> None:
    rng = random.Random(seed)
    size = rng.randrange(1, 300)
    hashes = [leaf_hash(b"%d" % i) for i in range(size)]
    cuts = sorted({0, size, *(rng.randrange(size) for _ in range(rng.randrange(6)))})
    joined = MerkleTree()
    for begin, end in itertools.pairwise(cuts):
        joined.extend_levels(subtree_levels(b"".join(hashes[begin:end]), begin))
    whole = MerkleTree.from_leaf_hashes(hashes)
    assert joined._levels == whole._levels
    assert [joined.root(n) for n in range(1, size + 1)] == [
        whole.root(n) for n in range(1, size + 1)
    ]
