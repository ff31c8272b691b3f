"""File names in the text apn writes: any name the file system holds, never an encoding error.

POSIX file names are bytes. Python gives a name that is not valid UTF-8 to the program
with each undecodable byte as a lone surrogate (``b"leg\\xff.dcm"`` → ``"leg\\udcff.dcm"``,
PEP 383), and ``open``/``os`` functions turn it back into the same bytes — so files with
such names are read and written like any other. Text is another matter: the surrogate
cannot be encoded as UTF-8, and writing it raised ``UnicodeEncodeError`` after the work
was done. How such a name appears, everywhere apn writes text:

- **CSV tables, text files and the terminal** (UTF-8): each undecodable byte is written
  as the four characters ``\\xNN`` (``leg\\xff.dcm``) — the tables stay valid UTF-8 and the
  name stays recognisable; the handler is :data:`ESCAPE_BYTES`.
- **JSON** (records, reports, ``.mrk.json``): written with ``ensure_ascii`` (the default),
  so the name is kept exactly, as the JSON escape ``\\udcff``; ``json.loads`` gives back
  the same string and ``os.fsencode`` the same bytes (a re-run finds its records).

Every other character, any script included, is written as itself.
"""

from __future__ import annotations

import codecs
import os

ESCAPE_BYTES = "apn-escape-bytes"
_LOW, _HIGH = 0xDC80, 0xDCFF  # surrogateescape's range: bytes 0x80-0xFF


def _escape(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    out = []
    for ch in exc.object[exc.start : exc.end]:
        code = ord(ch)
        out.append(f"\\x{code - 0xDC00:02x}" if _LOW <= code <= _HIGH else f"\\u{code:04x}")
    return "".join(out), exc.end


codecs.register_error(ESCAPE_BYTES, _escape)


def encode_text(text: str) -> bytes:
    """``text`` as UTF-8, undecodable file-name bytes written as ``\\xNN``."""
    return text.encode("utf-8", ESCAPE_BYTES)


def shown_name(text: str) -> str:
    """``text`` with undecodable file-name bytes as ``\\xNN`` (for CSV cells, messages)."""
    return encode_text(text).decode("utf-8")


def bounded_name(stem: str, suffix: str, max_bytes: int) -> str:
    """``stem`` cut (between characters) so that ``stem + suffix`` takes at most
    ``max_bytes`` bytes on disk; ``suffix`` is kept whole when it fits."""
    budget = max_bytes - len(os.fsencode(suffix))
    if budget < 0:
        return bounded_name(stem, "", max_bytes)
    encoded = os.fsencode(stem)
    if len(encoded) <= budget:
        return stem + suffix
    size, cut = 0, 0
    for ch in stem:
        n = len(os.fsencode(ch))
        if size + n > budget:
            break
        size, cut = size + n, cut + 1
    return stem[:cut] + suffix
