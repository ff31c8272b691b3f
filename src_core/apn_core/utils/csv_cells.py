"""CSV cells a spreadsheet will not execute (formula injection), written and read back.

Every CSV apn writes (``landmarks.csv``, ``measurements.csv``, ``errors.csv``, napari
Points CSVs, benchmark tables) goes through :func:`neutralise` — by way of
:func:`csv_line` / :func:`csv_text` — and every CSV apn reads restores its cells with
:func:`restore`.

The convention (OWASP, "CSV injection"): a text cell whose first character — after any
single quotes it already starts with — is ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return gets **one more single quote in front**: ``=HYPERLINK("http://x")`` is written
``'=HYPERLINK("http://x")``, which spreadsheets show as text. A plain number (``-3.5``,
``+2``, ``1e-3``) is data, never a formula, and is written as it is. Reading removes
exactly one quote from a cell of that shape, so every value round-trips, file names
included: a file really named ``'=a.png`` is written ``''=a.png`` and read back as
``'=a.png``. A cell another program wrote without the quote (``=a.png``) reads as it is.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_NEEDS_QUOTES = re.compile(r'[,"\r\n]')


def _executable(text: str) -> bool:
    """Whether a spreadsheet would read ``text`` (after its leading quotes) as a formula."""
    body = text.lstrip("'")
    return body[:1] in TRIGGERS and not _NUMBER.fullmatch(body)


def neutralise(value: object) -> str:
    """The cell text of ``value``: ``str(value)``, with a ``'`` in front where a
    spreadsheet would otherwise execute it (see the module docstring)."""
    text = str(value)
    return "'" + text if _executable(text) else text


def restore(cell: str) -> str:
    """The value of a cell :func:`neutralise` wrote (one leading ``'`` removed where it
    added one); any other cell unchanged."""
    return cell[1:] if cell.startswith("'") and _executable(cell) else cell


def quote(value: object) -> str:
    """One neutralised cell as CSV text: in double quotes (inner ones doubled) when it
    holds a comma, a quote or a line break — as :mod:`csv`'s default dialect writes it."""
    text = neutralise(value)
    return '"' + text.replace('"', '""') + '"' if _NEEDS_QUOTES.search(text) else text


def csv_line(cells: Sequence[object], newline: str = "\n") -> str:
    """One CSV record of neutralised cells, ending with ``newline``."""
    return ",".join(quote(c) for c in cells) + newline


def csv_text(rows: Iterable[Sequence[object]], newline: str = "\n") -> str:
    """CSV text of ``rows`` (a header is a row like any other), every cell neutralised."""
    return "".join(csv_line(row, newline) for row in rows)


def read_rows(text: str) -> list[list[str]]:
    """The rows of CSV text with every cell restored (:func:`restore`)."""
    return [[restore(c) for c in row] for row in csv.reader(io.StringIO(text, newline=""))]
