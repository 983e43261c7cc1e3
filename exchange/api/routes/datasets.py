"""Provider endpoints for datasets: upload, read, policy, preview."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Query, Request
from starlette.concurrency import run_in_threadpool

from exchange.api.deps import (
    CurrentAccount,
    ExchangeDep,
    ProviderAccount,
    ReadSessionDep,
    SessionDep,
)
from exchange.api.multipart_stream import parse_upload
from exchange.api.openapi import account_errors, role_errors
from exchange.api.schemas import DatasetPublic, PreviewPublic
from exchange.api.schemas.examples import POLICY
from exchange.context import Exchange
from exchange.db.models import Account
from exchange.errors import Invalid, PayloadTooLarge
from exchange.ingest import DELIMITERS, ENCODINGS_TRIED, UploadError, UploadTooLarge
from exchange.services import datasets as svc
from exchange.services.ids import new_id
from exchange.services.raw import raw_context, table_name
from exchange.settings import Settings

router = APIRouter(prefix="/v1/datasets", tags=["datasets"])
MULTIPART_OVERHEAD = 64 * 1024
_DEFAULTS = {name: f.default for name, f in Settings.model_fields.items()}
UPLOAD_DESCRIPTION = f"""
**Who:** providers. The file is encrypted as it streams in, profiled (column kinds, a
suggested policy; DP estimates drawn from the provider's allowance) and logged; no
policy is set yet, and nothing is offered until an offer is published.

Upload a CSV or Parquet file as multipart field `file`. Registration reads it once, in
bounded memory, and refuses it as soon as it passes a limit (set by the operator through
the environment; defaults in brackets):

- `DATALEASE_MAX_UPLOAD_BYTES` ({_DEFAULTS["max_upload_bytes"]}): bytes sent; more is a 413.
- `DATALEASE_MAX_DECODED_BYTES` ({_DEFAULTS["max_decoded_bytes"]}): the table decoded in
  memory (text plus offsets), so that a small, highly compressed Parquet file cannot expand
  without bound; more is a 413, from the Parquet footer and dictionaries before decoding.
- `DATALEASE_MAX_ROWS` ({_DEFAULTS["max_rows"]}): more is a 413.
- `DATALEASE_MAX_COLUMNS` ({_DEFAULTS["max_columns"]}): more is a 422.
- `DATALEASE_MAX_CELL_BYTES` ({_DEFAULTS["max_cell_bytes"]}): the longest value; more is a 422.

CSV text is decoded as UTF-8 when valid, else in the most plausible of
{", ".join(ENCODINGS_TRIED[1:])} (charset-normalizer); text that decodes in none is a 422
naming the encodings tried. The delimiter (comma, semicolon, tab or pipe) is detected
from the first lines. The response's `encoding` and `delimiter` say what was used; the
form fields `encoding` and `delimiter` set them instead.
"""
# The body is parsed by hand (streamed into encryption), so describe it for OpenAPI here.
UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file", "name"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "CSV (UTF-8, GBK/GB18030, Big5, Shift-JIS, ...) "
                            "or Parquet",
                        },
                        "name": {"type": "string", "minLength": 1, "maxLength": 200},
                        "grade": {"type": "string", "enum": ["core", "important", "general"]},
                        "domain": {"type": "string", "maxLength": 60},
                        "description": {"type": "string", "maxLength": 2000},
                        "encoding": {
                            "type": "string",
                            "maxLength": 40,
                            "description": "CSV text encoding (e.g. gb18030, big5, shift_jis); "
                            "detected when absent",
                        },
                        "delimiter": {
                            "type": "string",
                            "enum": [*DELIMITERS, *DELIMITERS.values()],
                            "description": "CSV delimiter, the character or its name; "
                            "detected when absent",
                        },
                    },
                },
                "example": {
                    "file": "citizens.csv",
                    "name": "citizens",
                    "grade": "general",
                    "domain": "population",
                    "description": "registered residents of one district",
                },
            }
        },
    }
}


@router.post(
    "",
    status_code=201,
    response_model=DatasetPublic,
    summary="Upload a CSV or Parquet file as multipart field 'file', within the upload limits",
    description=UPLOAD_DESCRIPTION,
    openapi_extra=UPLOAD_BODY,
    responses=role_errors(
        400,
        (413, "larger than an upload limit (bytes, decoded bytes or rows)"),
        (422, "unreadable file, a bad form field, too many columns or too long a value"),
    ),
)
async def upload_dataset(
    request: Request, account: ProviderAccount, exchange: ExchangeDep
) -> DatasetPublic:
    limit = exchange.settings.max_upload_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + MULTIPART_OVERHEAD:
        raise PayloadTooLarge(f"the upload is larger than the limit of {limit} bytes")
    dataset_id = new_id("ds")
    storage_name = f"raw-{dataset_id}"
    data_key = exchange.store.new_data_key()
    writers: list[Any] = []

    def open_sink(_filename: str) -> Any:
        writers.append(
            exchange.store.writer(storage_name, data_key, context=raw_context(dataset_id))
        )
        return writers[-1]

    try:
        parsed = await parse_upload(
            request.headers.get("content-type", ""), request.stream(), open_sink, limit
        )
        meta = svc.UploadMeta.from_fields(parsed.fields)
        sniffed = svc.sniff(
            parsed.filename or "upload",
            parsed.head,
            complete=parsed.file_bytes <= len(parsed.head),
            encoding=meta.encoding,
            delimiter=meta.delimiter,
        )
        writer = writers[0]
        await run_in_threadpool(writer.close)
    except BaseException:
        for w in writers:
            w.abort()
        raise
    wrapped = exchange.master.wrap(data_key, context=raw_context(dataset_id))
    try:
        dataset = await run_in_threadpool(
            _register,
            exchange,
            account,
            dataset_id,
            meta,
            parsed.filename or "upload",
            sniffed,
            storage_name,
            wrapped,
            writer.plaintext_sha256,
            writer.plaintext_size,
        )
    except BaseException:
        exchange.store.delete(storage_name)  # nothing half-written stays behind
        exchange.store.delete(table_name(dataset_id))
        raise
    return DatasetPublic.of(dataset)


def _register(
    exchange: Exchange,
    account: Account,
    dataset_id: str,
    meta: svc.UploadMeta,
    filename: str,
    sniffed: svc.Sniffed,
    storage_name: str,
    wrapped: bytes,
    sha256: str,
    size: int,
) -> Any:
    with exchange.sessions() as session:
        try:
            dataset = svc.register(
                session,
                exchange,
                dataset_id=dataset_id,
                provider=account,
                meta=meta,
                filename=filename,
                fmt=sniffed.fmt,
                encoding=sniffed.encoding,
                delimiter=sniffed.delimiter,
                storage_name=storage_name,
                wrapped_key=wrapped,
                raw_sha256=sha256,
                raw_size=size,
            )
        except UploadTooLarge as exc:
            raise PayloadTooLarge(f"the upload is too large: {exc}", code="upload_limit") from None
        except UploadError as exc:
            raise Invalid(f"the file could not be read: {exc}", code="bad_upload") from None
        session.commit()
        return dataset


@router.get(
    "",
    response_model=list[DatasetPublic],
    summary="Datasets: a provider's own; all for auditors and operators",
    responses=account_errors((403, "buyers browse the catalog instead")),
)
def list_datasets(session: ReadSessionDep, account: CurrentAccount) -> list[DatasetPublic]:
    """**Who:** a provider sees its own datasets; auditors and operators see all; buyers
    are refused (they browse `/v1/catalog`). Oldest first."""
    return [DatasetPublic.of(d) for d in svc.list_for(session, account)]


@router.get(
    "/{dataset_id}",
    response_model=DatasetPublic,
    summary="One dataset: schema, profile with a suggested policy, policy and budget",
    responses=account_errors((403, "a buyer, or another provider's dataset"), 404),
)
def get_dataset(dataset_id: str, session: ReadSessionDep, account: CurrentAccount) -> DatasetPublic:
    """**Who:** the dataset's provider, auditors and operators. The profile's
    `suggested_policy` is a starting point for `PUT .../policy`."""
    return DatasetPublic.of(svc.get_owned(session, dataset_id, account))


@router.put(
    "/{dataset_id}/policy",
    response_model=DatasetPublic,
    summary="Set the desensitization policy (see the profile's suggested_policy)",
    responses=role_errors(
        (403, "not the dataset's provider"),
        404,
        (409, "an active offer promises a larger k than the new policy's"),
        (422, "the policy is invalid, names an unknown column or does not fit its values"),
    ),
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["columns"],
                        "properties": {
                            "k": {"type": "integer", "minimum": 1},
                            "l_diversity": {
                                "type": "object",
                                "description": "{column: sensitive column, l: integer >= 1}",
                            },
                            "max_suppression": {
                                "type": "number",
                                "minimum": 0,
                                "exclusiveMaximum": 1,
                            },
                            "privacy_unit": {
                                "type": "object",
                                "description": "{column: the person's id column, "
                                "max_rows: rows one person may have}; default: one row",
                            },
                            "columns": {
                                "type": "object",
                                "additionalProperties": {"type": "object"},
                                "description": "column -> {class, rule, rule parameters}",
                            },
                        },
                    },
                    "example": POLICY,
                }
            }
        }
    },
)
def put_policy(
    dataset_id: str,
    session: SessionDep,
    account: ProviderAccount,
    exchange: ExchangeDep,
    policy: dict[str, Any] = Body(...),
) -> DatasetPublic:
    """**Who:** the dataset's provider. Each column gets a class (identifier,
    quasi_identifier, sensitive, attribute, drop) and a rule (token, mask, fake, generalize,
    noise, keep, ...); `k`, `l_diversity` and `max_suppression` bound the release. The policy is
    checked against the data before it is kept, and its hash is logged."""
    dataset = svc.get_owned(session, dataset_id, account)
    svc.set_policy(session, exchange, dataset, account, policy)
    session.commit()
    return DatasetPublic.of(dataset)


@router.get(
    "/{dataset_id}/preview",
    response_model=PreviewPublic,
    summary="Desensitized real rows, for the dataset's own provider only; each view is logged",
    responses=role_errors(
        (403, "not the dataset's provider"),
        404,
        (409, "the dataset has no policy yet"),
        (422, "fewer rows than k, or rows out of range"),
    ),
)
def get_preview(
    dataset_id: str,
    session: SessionDep,
    account: ProviderAccount,
    exchange: ExchangeDep,
    rows: int = Query(20, ge=1, le=200),
) -> dict[str, Any]:
    """**Who:** the dataset's provider only (not auditors or operators: these are real
    rows). Up to `rows` rows desensitized under the current policy with a preview-only
    key, the risk before and after, utility, and each noisy column's error."""
    dataset = svc.get_owned(session, dataset_id, account)
    out = svc.preview(session, exchange, dataset, account, rows=rows)
    session.commit()
    return out
