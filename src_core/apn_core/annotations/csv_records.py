"""Splitting CSV text into its raw records, each exactly as written (with its line end).

Python's :mod:`csv` gives the cells but not the text they came from; editing one image's
rows while leaving every other row byte-for-byte unchanged needs the text. The split
follows the csv module's default dialect: ``,`` separates cells, a cell that starts with
``"`` is quoted until a ``"`` not doubled, and a record ends at ``\\r\\n``, ``\\n`` or
``\\r`` outside quotes.
"""

from __future__ import annotations

_START, _UNQUOTED, _QUOTED, _QUOTE_IN_QUOTED = range(4)


def split_records(text: str) -> list[str]:
    """The records of ``text``; ``"".join(split_records(text)) == text`` always holds."""
    records: list[str] = []
    start = i = 0
    state = _START
    n = len(text)
    while i < n:
        ch = text[i]
        if state == _QUOTED:
            if ch == '"':
                state = _QUOTE_IN_QUOTED
            i += 1
            continue
        if state == _QUOTE_IN_QUOTED:
            if ch == '"':  # a doubled quote: still inside the quoted cell
                state = _QUOTED
                i += 1
                continue
            state = _UNQUOTED
        if ch in "\r\n":
            end = i + 2 if text.startswith("\r\n", i) else i + 1
            records.append(text[start:end])
            start = i = end
            state = _START
            continue
        if ch == ",":
            state = _START
        elif ch == '"' and state == _START:
            state = _QUOTED
        else:
            state = _UNQUOTED
        i += 1
    if start < n:
        records.append(text[start:])
    return records
