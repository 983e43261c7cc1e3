"""A typed Python client of the datalease API (httpx, synchronous).

    from exchange.client import Client

    with Client("http://127.0.0.1:8000", api_key) as client:
        dataset = client.upload_dataset("citizens.csv", name="citizens")
        client.set_policy(dataset.id, dataset.suggested_policy)

Every operation of the API is one method returning a typed result (``exchange.client.models``);
an error answer is raised as an :class:`ApiError` carrying its status, code and message.
"""

from exchange.client import models
from exchange.client.client import Client
from exchange.client.errors import (
    ApiError,
    Busy,
    ClientError,
    Conflict,
    DownloadMismatch,
    Forbidden,
    Gone,
    Invalid,
    JobFailed,
    JobTimeout,
    NotFound,
    PayloadTooLarge,
    ServerError,
    Unauthorized,
)
from exchange.client.transport import RetryPolicy

__all__ = [
    "ApiError",
    "Busy",
    "Client",
    "ClientError",
    "Conflict",
    "DownloadMismatch",
    "Forbidden",
    "Gone",
    "Invalid",
    "JobFailed",
    "JobTimeout",
    "NotFound",
    "PayloadTooLarge",
    "RetryPolicy",
    "ServerError",
    "Unauthorized",
    "models",
]
