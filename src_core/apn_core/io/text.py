"""Strings that come from files, made safe to print.

DICOM tags and TIFF descriptions are written by whoever made the file. ``apn info`` prints
them, so control characters are escaped (a terminal escape sequence cannot recolour or
rewrite the screen, a newline cannot fake an extra output line) and the length is bounded.
"""

from __future__ import annotations

from apn_core.errors import escape_controls

MAX_TEXT = 200  # characters kept of one value read from a file


def safe_text(value: object, limit: int = MAX_TEXT) -> str:
    """``str(value)`` with control characters escaped, cut to ``limit`` characters (``…``)."""
    text = escape_controls(str(value))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def safe_json(value: object, limit: int = MAX_TEXT) -> object:
    """:func:`safe_text` applied to every string inside a JSON-like value (dict, list)."""
    if isinstance(value, str):
        return safe_text(value, limit)
    if isinstance(value, dict):
        return {safe_text(k, limit): safe_json(v, limit) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [safe_json(v, limit) for v in value]
    return value


def brief_error(exc: BaseException, limit: int = 300) -> str:
    """An exception's message on one line, bounded (decoders' messages can span many)."""
    text = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    return safe_text(text or type(exc).__name__, limit)
