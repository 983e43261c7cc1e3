"""Identifiers and values shared by the OpenAPI examples, so that examples agree."""

from __future__ import annotations

from typing import Any

PROVIDER_ID = "acc_460f8342ee1c656121e2"
BUYER_ID = "acc_6d0f2375a38306915f3f"
OPERATOR_ID = "acc_e6b1c16bc3f215e35075"
DATASET_ID = "ds_9e1c0ba41a3814340863"
OFFER_ID = "off_13dcdfca056d94ded20b"
LEASE_ID = "lse_b4dec8b630f2830f929d"
RELEASE_ID = "rel_5b36ff5ec0109eafeeab"
JOB_ID = "job_76feb1ff40d5e8ca3921"
BUDGET_REQUEST_ID = "bgr_ee621827a9e004a715a4"
SHA256 = "45dd5f6c135b16137cabf511e084faa0e45878fba7994c44551962df6e70d874"
POLICY_HASH = "e42b8526bf4c60eb4d81569b0c9aefd1d4fa8a493ada86b0fb8755c9c28bca26"
ROOT = "afb7dce1e5a8bc90d095a9dc1beb5466e2b7852e9e407454bed2dcd0bbccb679"
SIGNATURE = (
    "0aa9a6467567776e4cb6481ca1778f3d2e7f5e12222662a21a970322dd17d09b"
    "9719fdb357d76218f07d31e3b26f1dde94eacc801695abd303e6d267e4a9f005"
)
PUBLIC_KEY_HEX = "2ad95b817fec2786fb2f34b73d90324a4ce8e7f1cedf4b8f1226e1a83a3f21f3"
PUBLIC_KEY_PEM = (
    "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAKtlbgX/sJ4b7LzS3PZAySkzo5/HO30uPEibhqDo/IfM=\n"
    "-----END PUBLIC KEY-----\n"
)
TIME = "2026-11-26T18:19:39.830108Z"
LATER = "2026-12-26T18:19:39.830108Z"
HEAD: dict[str, Any] = {
    "root": ROOT,
    "signature": SIGNATURE,
    "size": 32,
    "time": "2026-11-26T18:19:40.917000Z",
}
POLICY: dict[str, Any] = {
    "k": 3,
    "max_suppression": 0.05,
    "columns": {
        "citizen_id": {"class": "identifier", "rule": "token"},
        "resident_id": {"class": "identifier", "rule": "mask", "preset": "cn_resident_id"},
        "birth_date": {"class": "quasi_identifier", "rule": "generalize", "to": "year"},
        "district": {"class": "quasi_identifier", "rule": "keep"},
        "monthly_income": {
            "class": "sensitive",
            "rule": "noise",
            "epsilon": 1.0,
            "bounds": [0, 100000],
        },
        "email": {"class": "drop"},
    },
}
TERMS: dict[str, Any] = {
    "allowed_purposes": ["traffic-planning", "academic-research"],
    "max_period_days": 120,
    "permitted_uses": ["read", "aggregate", "derive"],
    "prohibitions": ["reidentification", "onward-transfer", "linking-to-identify"],
    "territory": "CN",
    "max_downloads": 3,
    "link_across_leases": False,
}
PRICING: dict[str, Any] = {
    "base_minor_per_1000_rows": 20000,
    "minimum_minor": 10000,
    "exclusive": False,
}
SHARES: dict[str, Any] = {
    "provider": 7000,
    "platform": 1500,
    "subject_pool": 500,
    "party:futian-dc": 1000,
}
QUOTE: dict[str, Any] = {
    "id": "q-563f56e8d3ac97e28f61e3753f1cb64e",
    "offer_id": OFFER_ID,
    "currency": "CNY",
    "total_minor": 40000,
    "subtotal_minor": 40000,
    "minimum_applied": False,
    "factors": [
        {
            "name": "base",
            "numerator": 20000,
            "denominator": 1,
            "explanation": "20000 minor units per 1,000 rows per plain column",
        },
        {
            "name": "rows",
            "numerator": 3,
            "denominator": 25,
            "explanation": "120 rows at 100% = 0.12 billable thousand rows",
        },
    ],
    "issued_at": "2026-11-26T18:19:41.824413+00:00",
    "expires_at": "2026-11-26T18:34:41.824413+00:00",
}
ACCOUNTING: dict[str, Any] = {
    "op": "count",
    "columns": [],
    "mechanism": "geometric (discrete Laplace)",
    "epsilon": 0.1,
    "delta": 0.0,
    "sensitivity": 1.0,
    "unit": "one row = one person",
    "max_rows": 1,
    "epsilon_exact": "1/10",
    "delta_exact": "0",
    "epsilon_micro": 100000,
}
