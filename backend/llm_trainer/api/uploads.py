"""Receive a multipart file upload straight onto disk, counting bytes so an oversized one stops early.

Starlette's own form parser spools files to the system temp dir and only knows their size at the end; here the
file part is written chunk by chunk to a temp file under the data dir and the limit is enforced while it arrives.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from python_multipart.multipart import MultipartParseError, MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from llm_trainer.core.errors import InvalidInput, PayloadTooLarge

MAX_FIELD_BYTES = 64 * 1024
# A part file older than this is the remains of a server that died mid-upload (no upload takes a day).
STALE_PART_S = 24 * 3600
# Multipart framing (boundaries, part headers, the small text fields) on top of the file itself.
FRAMING_ALLOWANCE = 256 * 1024

UPLOAD_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "name": {"type": "string"},
                        "description": {"type": "string"},
                        "text_column": {"type": "string"},
                        "label_column": {"type": "string"},
                        "task": {"type": "string", "default": "classification"},
                        "text_b_column": {"type": "string", "description": "Sentence pairs: the second text."},
                    },
                }
            }
        },
    }
}


@dataclass
class ReceivedUpload:
    """A file saved under `path` (the caller owns it from now on) plus the form's text fields."""

    path: Path
    filename: str
    size: int
    fields: dict[str, str] = field(default_factory=dict)

    def text(self, name: str) -> str | None:
        """A form field's trimmed value; None when absent or blank."""
        value = self.fields.get(name, "").strip()
        return value or None


def too_large(max_bytes: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"The upload is larger than the limit of {max_bytes // (1024 * 1024)} MB. Split the file, or raise the limit "
        "with LLM_TRAINER_MAX_UPLOAD_MB.",
        details={"max_mb": max_bytes // (1024 * 1024)},
    )


async def receive_upload(
    request: Request, incoming_dir: Path, max_bytes: int, file_field: str = "file"
) -> ReceivedUpload:
    """Stream the request's `file_field` into a new file in `incoming_dir`; nothing is left behind on error."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes + FRAMING_ALLOWANCE:
        raise too_large(max_bytes)
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    if content_type != b"multipart/form-data" or b"boundary" not in params:
        raise InvalidInput(
            f"Send the file as multipart/form-data in a field named '{file_field}'.",
            code="invalid_upload",
        )
    incoming_dir.mkdir(parents=True, exist_ok=True)
    sweep_stale_parts(incoming_dir)
    settings = request.app.state.settings
    receiver = _PartReceiver(
        incoming_dir / f"{uuid.uuid4().hex}.part",
        file_field,
        max_bytes,
        max_parts=settings.max_form_fields,
        max_header_bytes=settings.max_part_header_bytes,
    )
    parser = MultipartParser(params[b"boundary"], receiver.callbacks())
    try:
        async for chunk in request.stream():
            parser.write(chunk)
            if receiver.total_file_bytes > max_bytes:
                raise too_large(max_bytes)
        parser.finalize()
    except MultipartParseError as exc:
        receiver.discard()
        raise InvalidInput(f"The upload is not valid multipart data: {exc}.", code="invalid_upload") from exc
    except (Exception, ClientDisconnect):
        receiver.discard()
        raise
    finally:
        receiver.close()
    if receiver.filename is None:
        receiver.discard()
        raise InvalidInput(f"No file in the upload: send it in the form field '{file_field}'.", code="missing_file")
    return ReceivedUpload(receiver.path, receiver.filename, receiver.file_bytes, receiver.fields)


def sweep_stale_parts(incoming_dir: Path, max_age_s: float = STALE_PART_S) -> None:
    """Delete files left in `incoming_dir` by uploads that never finished (server killed mid-upload)."""
    cutoff = time.time() - max_age_s
    for path in incoming_dir.glob("*.part"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
        except FileNotFoundError:  # another request finished with it meanwhile
            pass


class _PartReceiver:
    """python-multipart callbacks: the file part goes to disk, other parts are small text fields."""

    def __init__(self, path: Path, file_field: str, max_bytes: int, *, max_parts: int, max_header_bytes: int):
        self.max_parts = max_parts
        self.max_header_bytes = max_header_bytes
        self.parts = 0
        self._header_bytes = 0
        self.path = path
        self.file_field = file_field
        self.max_bytes = max_bytes
        self.fields: dict[str, str] = {}
        self.filename: str | None = None
        self.file_bytes = 0
        self.total_file_bytes = 0  # every file part, so extra files cannot dodge the limit
        self._fh: IO[bytes] | None = None
        self._header_name = b""
        self._header_value = b""
        self._headers: dict[bytes, bytes] = {}
        self._name: str | None = None
        self._is_target_file = False
        self._is_file = False
        self._buffer = bytearray()

    def callbacks(self) -> dict[str, Any]:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value_cb,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
        }

    def _part_begin(self) -> None:
        self.parts += 1
        self._header_bytes = 0
        if self.parts > self.max_parts:
            raise InvalidInput(
                f"The upload has more than {self.max_parts} form fields (LLM_TRAINER_MAX_FORM_FIELDS).",
                code="too_many_fields",
            )
        self._headers, self._buffer = {}, bytearray()
        self._name, self._is_file, self._is_target_file = None, False, False

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._count_header(end - start)
        self._header_name += data[start:end]

    def _header_value_cb(self, data: bytes, start: int, end: int) -> None:
        self._count_header(end - start)
        self._header_value += data[start:end]

    def _count_header(self, size: int) -> None:
        self._header_bytes += size
        if self._header_bytes > self.max_header_bytes:
            raise InvalidInput(
                f"A part of the upload has headers over {self.max_header_bytes} bytes "
                "(LLM_TRAINER_MAX_PART_HEADER_BYTES).",
                code="invalid_upload",
            )

    def _header_end(self) -> None:
        self._headers[self._header_name.lower()] = self._header_value
        self._header_name, self._header_value = b"", b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._name = options.get(b"name", b"").decode("utf-8", "replace")
        self._is_file = b"filename" in options
        if self._is_file and self._name == self.file_field and self.filename is None:
            self.filename = Path(options[b"filename"].decode("utf-8", "replace").replace("\\", "/")).name or "upload"
            self._is_target_file = True
            self._fh = open(self.path, "wb")  # noqa: SIM115 - closed in _part_end / close()

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._is_file:
            self.total_file_bytes += end - start
            if self._is_target_file and self._fh is not None and self.total_file_bytes <= self.max_bytes:
                self._fh.write(data[start:end])
                self.file_bytes += end - start
            return
        if len(self._buffer) + end - start > MAX_FIELD_BYTES:
            raise InvalidInput(f"Form field '{self._name}' is too long.", code="invalid_upload")
        self._buffer += data[start:end]

    def _part_end(self) -> None:
        if self._is_target_file:
            self.close()
        elif not self._is_file and self._name:
            self.fields[self._name] = self._buffer.decode("utf-8", "replace")

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def discard(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)
