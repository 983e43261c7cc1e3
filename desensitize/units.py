"""Counting persons, not rows: k and l over the privacy unit.

When rows carry a person key (the policy's privacy unit), an equivalence class of
five rows may be one child's five boardings. Two attacker models follow:

- *unlinked*: no released column ties a person's rows together, so each row's class
  must hold at least k distinct persons;
- *linked*: a per-lease pseudonym ties them, so a person is the whole set of
  classes their rows fall in (their *signature*), and each signature must be shared
  by at least k persons; l-diversity then holds over the rows of those persons.

Both work on per-combination codes: `classes[i]` is the class of combination `i`,
`persons[i]` its person, `weights[i]` its rows.
"""

from __future__ import annotations

import numpy as np

__all__ = ["persons_per_class", "signature_groups"]

_SEED = 0x5EED_C1A5


def persons_per_class(classes: np.ndarray, persons: np.ndarray, n_classes: int) -> np.ndarray:
    """Distinct persons in each class (unlinked model)."""
    if not len(classes):
        return np.zeros(n_classes, dtype=np.int64)
    pairs = np.unique(classes.astype(np.int64) * (int(persons.max()) + 1) + persons)
    return np.bincount(pairs // (int(persons.max()) + 1), minlength=n_classes)


def signature_groups(
    classes: np.ndarray, persons: np.ndarray, n_classes: int, n_persons: int
) -> tuple[np.ndarray, np.ndarray]:
    """Each person's signature group and the persons in each group (linked model).

    A signature is the set of classes a person's rows fall in, hashed as a sum of random
    64-bit words per class (a set hash: pairs are made unique first); two persons share a
    group exactly when their sets are equal, up to a 2^-64 collision chance.
    """
    words = np.random.default_rng(_SEED).integers(
        0, np.iinfo(np.int64).max, size=max(n_classes, 1), dtype=np.int64
    )
    stride = max(n_classes, 1)
    pairs = np.unique(persons.astype(np.int64) * stride + classes)
    owner, cls = pairs // stride, pairs % stride
    with np.errstate(over="ignore"):
        signature = np.zeros(n_persons, dtype=np.int64)
        np.add.at(signature, owner, words[cls])
    # Every person code comes from the combinations themselves, so none is without rows.
    _, group, sizes = np.unique(signature, return_inverse=True, return_counts=True)
    return group, sizes
