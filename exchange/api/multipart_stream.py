"""Stream a multipart upload straight into an encrypted sink.

Starlette's form parser spools files larger than 1 MB to a plaintext temporary
file; raw data must never touch the disk in clear, so uploads are parsed here
chunk by chunk and each file chunk goes directly to the encrypting writer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import BinaryIO

from python_multipart.multipart import MultipartParser, parse_options_header

from exchange.errors import Invalid, PayloadTooLarge

MAX_FIELD_BYTES = 64 * 1024


@dataclass
class ParsedUpload:
    fields: dict[str, str] = field(default_factory=dict)
    filename: str | None = None
    file_bytes: int = 0
    head: bytes = b""  # the first bytes of the file, for format and encoding detection


class _Collector:
    def __init__(self, open_sink: Callable[[str], BinaryIO], limit: int) -> None:
        self.open_sink = open_sink
        self.limit = limit
        self.result = ParsedUpload()
        self.sink: BinaryIO | None = None
        self._header_field = b""
        self._headers: dict[bytes, bytes] = {}
        self._name: str | None = None
        self._part_sink: BinaryIO | None = None  # set while the current part is the file
        self._value = bytearray()
        self._header_value = b""

    def on_part_begin(self) -> None:
        self._headers, self._name, self._part_sink, self._value = {}, None, None, bytearray()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        self._headers[self._header_field.lower()] = self._header_value
        self._header_field, self._header_value = b"", b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._name = options.get(b"name", b"").decode("utf-8", "replace")
        filename = options.get(b"filename")
        if filename is not None and self._name == "file":
            if self.sink is not None:
                raise Invalid("send exactly one file, in the form field 'file'")
            self.result.filename = filename.decode("utf-8", "replace") or "upload"
            self.sink = self._part_sink = self.open_sink(self.result.filename)

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if self._part_sink is not None:
            self.result.file_bytes += len(chunk)
            if self.result.file_bytes > self.limit:
                raise PayloadTooLarge(f"the upload is larger than the limit of {self.limit} bytes")
            if len(self.result.head) < 65_536:
                self.result.head += chunk[: 65_536 - len(self.result.head)]
            self._part_sink.write(chunk)
        else:
            self._value.extend(chunk)
            if len(self._value) > MAX_FIELD_BYTES:
                raise Invalid(f"form field '{self._name}' is longer than {MAX_FIELD_BYTES} bytes")

    def on_part_end(self) -> None:
        if self._part_sink is None and self._name:
            self.result.fields[self._name] = self._value.decode("utf-8", "replace")


async def parse_upload(
    content_type: str, body: AsyncIterator[bytes], open_sink: Callable[[str], BinaryIO], limit: int
) -> ParsedUpload:
    """Parse ``multipart/form-data``; the part named ``file`` is written to ``open_sink(name)``."""
    kind, options = parse_options_header(content_type)
    if kind != b"multipart/form-data" or b"boundary" not in options:
        raise Invalid("upload the dataset as multipart/form-data with the file in field 'file'")
    collector = _Collector(open_sink, limit)
    names = (
        "on_part_begin",
        "on_part_data",
        "on_part_end",
        "on_header_field",
        "on_header_value",
        "on_header_end",
        "on_headers_finished",
    )
    parser = MultipartParser(options[b"boundary"], {n: getattr(collector, n) for n in names})  # type: ignore[arg-type]
    try:
        async for chunk in body:
            parser.write(chunk)
        parser.finalize()
    except (Invalid, PayloadTooLarge):
        raise
    except Exception as exc:
        raise Invalid(f"the multipart body could not be parsed ({type(exc).__name__})") from None
    if collector.sink is None:
        raise Invalid("no file in the upload: send it in the multipart form field 'file'")
    return collector.result
