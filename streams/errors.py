"""Streams' errors: configuration and files the ingest side cannot use, and dead-letter requests it
cannot answer."""
from __future__ import annotations

from config.errors import M2CError


class StreamsError(M2CError):
    code = "streams_error"


class ImportFileInvalid(StreamsError, ValueError):
    code = "bad_import_file"


class PushTokensInvalid(StreamsError, ValueError):
    """``M2C_PUSH_TOKENS`` holds an entry that is not NAME:SHA256HEX:METERS."""

    code = "bad_push_tokens"


class DlqError(StreamsError):
    """A request the dead-letter topic cannot answer; ``code`` names which."""

    code = "dlq_error"

    def __init__(self, code: str, message: str):
        super().__init__(message, code=code)
