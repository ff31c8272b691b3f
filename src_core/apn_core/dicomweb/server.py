"""A DICOMweb connection (dicomweb-client) and how it authenticates.

Secrets never go on the command line (where ``ps`` and shell history show them): a
password or a bearer token is read from an environment variable whose *name* is given
(``APN_DICOMWEB_PASSWORD`` / ``APN_DICOMWEB_TOKEN`` by default). HTTPS certificates are
checked as ``requests`` does, against ``--dicomweb-ca-bundle`` when given. Any other
scheme (OAuth flows, Google Cloud credentials) fits in by building a ``requests.Session``
and passing it to :func:`connect`.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from apn_core.errors import ApnError

PASSWORD_ENV, TOKEN_ENV = "APN_DICOMWEB_PASSWORD", "APN_DICOMWEB_TOKEN"
TIMEOUT_S = 60.0


class PacsError(ApnError):
    """The DICOMweb server cannot be reached, refuses us, or answers nonsense."""


@dataclass(frozen=True)
class Server:
    """Where the server is and how to log in. ``user``: HTTP basic authentication with the
    password from ``$password_env``; otherwise a bearer token from ``$token_env`` when that
    variable is set; otherwise no authentication."""

    url: str
    user: str | None = None
    password_env: str = PASSWORD_ENV
    token_env: str = TOKEN_ENV
    ca_bundle: Path | None = None

    def session(self):
        """A ``requests.Session`` carrying the authentication (see the class docstring)."""
        from dicomweb_client.session_utils import (
            add_certs_to_session,
            create_session,
            create_session_from_user_pass,
        )

        if self.user is not None:
            password = os.environ.get(self.password_env)
            if password is None:
                raise PacsError(
                    f"--dicomweb-user {self.user}: set the password in the environment "
                    f"variable {self.password_env} (it is never taken from the command line)"
                )
            session = create_session_from_user_pass(self.user, password)
        else:
            session = create_session()
            token = os.environ.get(self.token_env)
            if token:
                session.headers["Authorization"] = f"Bearer {token.strip()}"
        if self.ca_bundle is not None:
            if not self.ca_bundle.is_file():
                raise PacsError(f"{self.ca_bundle}: no such CA bundle file")
            session = add_certs_to_session(session, ca_bundle=str(self.ca_bundle))
        return session


def connect(server: Server, session=None):
    """A ``DICOMwebClient`` for ``server`` (``session``: one built by the caller instead)."""
    from apn_core.dicom_out import require

    require("dicomweb_client", "highdicom")
    from dicomweb_client.api import DICOMwebClient

    quiet = logging.getLogger("dicomweb_client")
    if quiet.level == logging.NOTSET:  # its INFO lines name every request
        quiet.setLevel(logging.WARNING)

    if not server.url.startswith(("http://", "https://")):
        raise PacsError(f"{redacted(server.url)}: a DICOMweb URL starts with http:// or https://")
    return DICOMwebClient(
        server.url.rstrip("/"), session=session or server.session(), timeout=TIMEOUT_S
    )


def redacted(url: str) -> str:
    """``url`` without a ``user:password@`` part, for printing."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit(parts._replace(netloc=f"***@{netloc}"))


def describe(exc: Exception) -> str:
    """One line for an HTTP or connection error (never the credentials)."""
    response = getattr(exc, "response", None)
    if response is not None:
        reason = f"HTTP {response.status_code} {response.reason or ''}".strip()
        if response.status_code in (401, 403):
            reason += " (check --dicomweb-user and the password/token environment variable)"
        return reason
    return f"{type(exc).__name__}: {str(exc)[:200]}"
