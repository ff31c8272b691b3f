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


def split_cells(record: str) -> list[str]:
    """The cells of one record (its line end removed first), each exactly as written —
    quotes included; ``",".join(split_cells(r))`` is ``r`` without its line end. Same
    rules as :func:`split_records`: a ``"`` opens a quoted cell only as its first
    character."""
    record = record[: len(record) - len(line_end(record))]
    cells: list[str] = []
    start = 0
    state = _START
    for i, ch in enumerate(record):
        if state == _QUOTED:
            if ch == '"':
                state = _QUOTE_IN_QUOTED
            continue
        if state == _QUOTE_IN_QUOTED:
            if ch == '"':  # a doubled quote: still inside the quoted cell
                state = _QUOTED
                continue
            state = _UNQUOTED
        if ch == ",":
            cells.append(record[start:i])
            start = i + 1
            state = _START
        elif ch == '"' and state == _START:
            state = _QUOTED
        else:
            state = _UNQUOTED
    cells.append(record[start:])
    return cells


def line_end(record: str) -> str:
    """The line end of a record (``\\r\\n``, ``\\n``, ``\\r``), or '' for a last record
    without one."""
    for end in ("\r\n", "\n", "\r"):
        if record.endswith(end):
            return end
    return ""
