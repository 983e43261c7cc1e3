"""Provider endpoints for datasets: upload, read, policy, preview."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Query, Request
from starlette.concurrency import run_in_threadpool

from exchange.api.deps import CurrentAccount, ExchangeDep, ProviderAccount, SessionDep
from exchange.api.multipart_stream import parse_upload
from exchange.api.schemas import DatasetPublic, PreviewPublic
from exchange.context import Exchange
from exchange.db.models import Account
from exchange.errors import Invalid, PayloadTooLarge
from exchange.ingest import UploadError
from exchange.services import datasets as svc
from exchange.services.ids import new_id
from exchange.services.raw import raw_context, table_name

router = APIRouter(prefix="/v1/datasets", tags=["datasets"])
MULTIPART_OVERHEAD = 64 * 1024
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
                            "description": "CSV (UTF-8 or GBK) or Parquet",
                        },
                        "name": {"type": "string", "minLength": 1, "maxLength": 200},
                        "grade": {"type": "string", "enum": ["core", "important", "general"]},
                        "domain": {"type": "string", "maxLength": 60},
                        "description": {"type": "string", "maxLength": 2000},
                    },
                }
            }
        },
    }
}


@router.post(
    "",
    status_code=201,
    response_model=DatasetPublic,
    summary="Upload a CSV (UTF-8 or GBK) or Parquet file as multipart field 'file'",
    openapi_extra=UPLOAD_BODY,
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
        fmt, encoding = svc.sniff(parsed.filename or "upload", parsed.head)
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
            fmt,
            encoding,
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
    fmt: str,
    encoding: str,
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
                fmt=fmt,
                encoding=encoding,
                storage_name=storage_name,
                wrapped_key=wrapped,
                raw_sha256=sha256,
                raw_size=size,
            )
        except UploadError as exc:
            raise Invalid(f"the file could not be read: {exc}", code="bad_upload") from None
        session.commit()
        return dataset


@router.get("", response_model=list[DatasetPublic])
def list_datasets(session: SessionDep, account: CurrentAccount) -> list[DatasetPublic]:
    return [DatasetPublic.of(d) for d in svc.list_for(session, account)]


@router.get("/{dataset_id}", response_model=DatasetPublic)
def get_dataset(dataset_id: str, session: SessionDep, account: CurrentAccount) -> DatasetPublic:
    return DatasetPublic.of(svc.get_owned(session, dataset_id, account))


@router.put(
    "/{dataset_id}/policy",
    response_model=DatasetPublic,
    summary="Set the desensitization policy (see the profile's suggested_policy)",
)
def put_policy(
    dataset_id: str,
    session: SessionDep,
    account: ProviderAccount,
    exchange: ExchangeDep,
    policy: dict[str, Any] = Body(...),
) -> DatasetPublic:
    dataset = svc.get_owned(session, dataset_id, account)
    svc.set_policy(session, exchange, dataset, account, policy)
    session.commit()
    return DatasetPublic.of(dataset)


@router.get(
    "/{dataset_id}/preview",
    response_model=PreviewPublic,
    summary="Desensitized real rows, for the dataset's own provider only; each view is logged",
)
def get_preview(
    dataset_id: str,
    session: SessionDep,
    account: ProviderAccount,
    exchange: ExchangeDep,
    rows: int = Query(20, ge=1, le=200),
) -> dict[str, Any]:
    dataset = svc.get_owned(session, dataset_id, account)
    out = svc.preview(session, exchange, dataset, account, rows=rows)
    session.commit()
    return out
