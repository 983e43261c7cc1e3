"""Datasets: registration after an encrypted upload, policies and desensitized previews."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, BinaryIO, cast

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from desensitize import Keyring, Policy, apply, profile
from desensitize.noise_error import noise_errors
from desensitize.suggest import suggest
from exchange.context import Exchange
from exchange.db.models import Account, Dataset, Offer
from exchange.errors import Conflict, Forbidden, Invalid, NotFound
from exchange.ingest import (
    UploadError,
    check_delimiter,
    check_text_encoding,
    detect_delimiter,
    detect_encoding,
    detect_format,
    iter_tables,
)
from exchange.ingest.header import sample_text
from exchange.memory import give_back, return_large_blocks
from exchange.services import allowance
from exchange.services.memo import Memo
from exchange.services.raw import raw_context, read_raw, write_table
from exchange.services.releases import ensure_release

GRADES = ("core", "important", "general")
PROFILE_ROWS = 10_000
UPLOAD_BATCH_ROWS = 50_000
PREVIEW_SAMPLE_ROWS = 5_000


@dataclass(frozen=True)
class UploadMeta:
    name: str
    domain: str
    grade: str
    description: str
    encoding: str | None = None  # CSV only; detected when not given
    delimiter: str | None = None

    @classmethod
    def from_fields(cls, fields: dict[str, str]) -> UploadMeta:
        name = fields.get("name", "").strip()
        if not name:
            raise Invalid("form field 'name' is required")
        grade = fields.get("grade", "general").strip().lower()
        if grade not in GRADES:
            raise Invalid(f"form field 'grade' must be one of {', '.join(GRADES)}")
        domain = fields.get("domain", "general").strip().lower() or "general"
        if len(name) > 200 or len(domain) > 60:
            raise Invalid("form fields 'name' (200) or 'domain' (60) are too long")
        encoding = delimiter = None
        try:
            if fields.get("encoding", "").strip():
                encoding = check_text_encoding(fields["encoding"].strip())
        except ValueError as exc:
            raise Invalid(f"form field 'encoding': {exc}") from None
        try:
            if fields.get("delimiter", ""):
                delimiter = check_delimiter(fields["delimiter"])
        except ValueError as exc:
            raise Invalid(f"form field 'delimiter': {exc}") from None
        return cls(
            name=name,
            domain=domain,
            grade=grade,
            description=fields.get("description", "").strip(),
            encoding=encoding,
            delimiter=delimiter,
        )


@dataclass(frozen=True)
class Sniffed:
    """How an upload is read: its format, and for CSV its text encoding and delimiter."""

    fmt: str
    encoding: str  # 'binary' for Parquet
    delimiter: str | None  # None for Parquet


def sniff(
    filename: str,
    head: bytes,
    *,
    complete: bool = False,
    encoding: str | None = None,
    delimiter: str | None = None,
) -> Sniffed:
    """Format, text encoding and delimiter of an upload from its name and first bytes
    (``complete`` if they are the whole file); ``encoding`` and ``delimiter`` given by the
    uploader are taken as they are."""
    if not head:
        raise UploadError("the file is empty")
    fmt = detect_format(filename, head)
    if fmt == "parquet":
        return Sniffed(fmt, "binary", None)
    encoding = encoding or detect_encoding(head, complete=complete)
    if delimiter is None:
        text = sample_text(head, encoding, complete=complete)
        delimiter = detect_delimiter(text, complete=complete)
    return Sniffed(fmt, encoding, delimiter)


def schema_of(frame: pd.DataFrame) -> list[dict[str, str]]:
    return [{"name": str(c), "dtype": str(t)} for c, t in frame.dtypes.items()]


def register(
    session: Session,
    exchange: Exchange,
    *,
    dataset_id: str,
    provider: Account,
    meta: UploadMeta,
    filename: str,
    fmt: str,
    encoding: str,
    storage_name: str,
    wrapped_key: bytes,
    raw_sha256: str,
    raw_size: int,
    delimiter: str | None = None,
) -> Dataset:
    """Read the stored upload back (decrypting on the fly), count and profile it."""
    dataset = Dataset(
        id=dataset_id,
        provider_id=provider.id,
        name=meta.name,
        domain=meta.domain,
        grade=meta.grade,
        description=meta.description,
        filename=filename[:255],
        fmt=fmt,
        encoding=encoding,
        rows=0,
        schema=[],
        raw_sha256=raw_sha256,
        raw_size=raw_size,
        wrapped_key=wrapped_key,
        storage_name=storage_name,
        profile={},
    )
    key = exchange.master.unwrap(wrapped_key, context=raw_context(dataset_id))
    rows = 0
    sample: pd.DataFrame | None = None
    return_large_blocks()
    with exchange.store.open_plaintext(storage_name, key, context=raw_context(dataset_id)) as fh:
        tables = iter_tables(
            cast(BinaryIO, fh),  # a RawIOBase, which pyarrow and csv read like any binary file
            fmt=fmt,
            encoding=encoding,
            delimiter=delimiter,
            batch_rows=UPLOAD_BATCH_ROWS,
            limits=exchange.settings.upload_limits,
        )
        for table in write_table(exchange, dataset_id, key, tables):
            if sample is None:  # the schema's pandas metadata brings the upload's dtypes back
                sample = table.slice(0, PROFILE_ROWS).to_pandas()
            rows += table.num_rows
    give_back()
    if sample is None or not len(sample.columns):
        raise UploadError("the file has no columns")
    dataset.rows = rows
    dataset.schema = schema_of(sample)
    found = profile(sample)
    # The gate's plan on the sample: minor columns that would push birth dates, region
    # and gender coarser are left out, and the provider sees what the release would keep.
    suggestion = suggest(found, sample, rows=rows, k=5)
    dataset.profile = {
        **found.to_dict(),
        "suggested_policy": suggestion.policy,
        "suggested_utility": suggestion.utility,
        "suggested_dropped": suggestion.dropped,
    }
    if delimiter is not None:  # how the raw CSV is read again (see raw.ensure_table)
        dataset.profile["csv_delimiter"] = delimiter
    session.add(dataset)
    exchange.log.record(
        session,
        "upload",
        actor=provider.id,
        dataset=dataset.id,
        raw_sha256=raw_sha256,
        rows=rows,
        grade=meta.grade,
    )
    session.flush()  # the allowance's spend row refers to the dataset
    allowance.charge_profile(session, exchange, dataset, found.bounds_epsilon)
    return dataset


def get_owned(session: Session, dataset_id: str, account: Account) -> Dataset:
    dataset = session.get(Dataset, dataset_id)
    if dataset is None:
        raise NotFound(f"dataset {dataset_id} does not exist")
    if account.role == "provider" and dataset.provider_id != account.id:
        raise Forbidden(f"dataset {dataset_id} belongs to another provider")
    if account.role not in ("provider", "auditor", "operator"):
        raise Forbidden("only the providing account can read a dataset's details")
    return dataset


def list_for(session: Session, account: Account) -> list[Dataset]:
    query = select(Dataset).order_by(Dataset.created_at)
    if account.role == "provider":
        query = query.where(Dataset.provider_id == account.id)
    elif account.role not in ("auditor", "operator"):
        raise Forbidden("buyers browse the catalog, not the dataset list")
    return list(session.scalars(query))


def load_policy(exchange: Exchange, dataset: Dataset, body: dict[str, Any]) -> Policy:
    """Parse and check a policy against the dataset's real columns and types."""
    policy = Policy.from_dict(body)
    columns = {c["name"] for c in dataset.schema}
    unknown = sorted(set(policy.to_dict().get("columns", {})) - columns)
    if unknown:
        raise Invalid(
            f"the policy names columns the dataset does not have: {', '.join(unknown)}; "
            f"its columns are {', '.join(sorted(columns))}"
        )
    sample = read_raw(exchange, dataset, max_rows=1_000)
    policy.validate_for(sample)
    # Types alone do not prove a rule can run (e.g. "year" of a text column): run every rule
    # on a sample now, so no buyer ever pays for an extract that cannot be made.
    apply(sample, policy.rules_only(), Keyring(exchange.master.derive("policy-check")))
    return policy


def set_policy(
    session: Session, exchange: Exchange, dataset: Dataset, actor: Account, body: dict[str, Any]
) -> Dataset:
    policy = load_policy(exchange, dataset, body)
    _keep_offer_promises(session, dataset, policy)
    # The release is made now, so a policy that fails the gate is refused with its reasons
    # (a 422 naming the columns and class sizes) before anything is offered.
    release = ensure_release(session, exchange, dataset, policy)
    dataset.policy = policy.to_dict()
    dataset.policy_hash = policy.hash()
    exchange.log.record(
        session,
        "policy_set",
        actor=actor.id,
        dataset=dataset.id,
        policy_hash=dataset.policy_hash,
        release=release.id,
    )
    return dataset


def _keep_offer_promises(session: Session, dataset: Dataset, policy: Policy) -> None:
    """A new policy may not release below the k an active offer promises its buyers."""
    promised = session.scalars(
        select(Offer).where(Offer.dataset_id == dataset.id, Offer.status == "active")
    ).all()
    above = [o for o in promised if o.k > (policy.k or 1)]
    if above:
        raise Conflict(
            f"active offer {above[0].id} promises k={above[0].k}, above the new policy's "
            f"k={policy.k or 1}: withdraw the offer or keep k at {above[0].k} or more",
            code="offer_promises_k",
        )


# Query options for routes that show or price an offer: they never read a dataset's
# profile, upload schema or wrapped key, which would otherwise be loaded (and their JSON
# decoded) on every request.
TERMS_ONLY = (defer(Dataset.profile), defer(Dataset.schema), defer(Dataset.wrapped_key))


def require_policy(dataset: Dataset) -> Policy:
    if dataset.policy is None:
        raise Conflict(
            f"dataset {dataset.id} has no desensitization policy yet; "
            f"PUT /v1/datasets/{dataset.id}/policy first"
        )
    if dataset.policy_hash is None:
        return Policy.from_dict(dataset.policy)
    # Parsed once per process and policy: the hash is of the policy's content.
    policy = dataset.policy
    return _POLICIES.get_or_make(dataset.policy_hash, lambda: Policy.from_dict(policy))


_POLICIES = Memo(1024)  # Policy is frozen, so sharing one between requests is safe


def preview(
    session: Session, exchange: Exchange, dataset: Dataset, viewer: Account, *, rows: int
) -> dict[str, Any]:
    """Desensitized real rows, the risk/utility report and each noisy column's error
    against the truth (RMSE, values clamped on a bound, correlation), under a preview-only key.

    Real rows, even desensitized, are shown before a lease only to the dataset's own
    provider (auditors and operators read its details, not its rows), and every view is
    an access event in the verifiable log. The caller commits.
    """
    if viewer.role != "provider" or dataset.provider_id != viewer.id:
        raise Forbidden(
            f"only the provider of dataset {dataset.id} may preview its rows; "
            "buyers see the catalog's synthetic sample"
        )
    policy = require_policy(dataset)
    sample = read_raw(exchange, dataset, max_rows=PREVIEW_SAMPLE_ROWS)
    # A key that no lease uses, so preview tokens cannot be linked to any extract.
    keys = Keyring(exchange.master.derive(f"preview:{dataset.id}:{dataset.policy_hash}"))
    if policy.k and len(sample) < policy.k:
        raise Invalid(f"the dataset has {len(sample)} rows, fewer than k={policy.k}")
    result = apply(sample, policy, keys)
    # Provider-only: the noisy columns' error against the true sample values, so a provider
    # sees when noise has left nothing of a column before any buyer pays for it.
    noise = {e.column: e.to_dict() for e in noise_errors(sample, result.frame, policy)}
    head = result.frame.head(rows)
    # Logged once the rows exist: a refused or failed preview showed nothing.
    exchange.log.record(
        session,
        "preview_view",
        actor=viewer.id,
        dataset=dataset.id,
        rows=len(head),
        policy_hash=dataset.policy_hash,
    )
    warnings = [f"column {name!r}: {e['warning']}" for name, e in noise.items() if e["warning"]]
    if len(sample) < dataset.rows and result.report.k_anonymity:
        warnings.append(
            f"the generalization levels and suppression shown are an estimate planned on the "
            f"first {len(sample)} of {dataset.rows} rows; the release plans on every row "
            "and may choose other levels"
        )
    return {
        "rows": _json_rows(head),
        "columns": [str(c) for c in head.columns],
        "sample_rows": len(sample),
        "report": result.report.to_dict(),
        "noise": noise,
        "warnings": warnings,
    }


def _json_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return json.loads(frame.to_json(orient="records", date_format="iso", force_ascii=False))
