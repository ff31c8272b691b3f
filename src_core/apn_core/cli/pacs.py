"""`apn predict --dicomweb URL --study UID ... --out DIR`: the PACS round trip's options and run.

The images go to ``DIR/retrieved/``, the prediction is ``apn predict DIR/retrieved/...
--sr`` (same outputs, summary and re-run rule), then each SR and presentation state is
stored into its study unless the server already has it. Exit code: the prediction's,
raised to 1 when something could not be retrieved or stored.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from apn_core.cli.common import positive_int
from apn_core.dicomweb.server import PASSWORD_ENV, TOKEN_ENV


def add_options(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group(
        "PACS round trip (DICOMweb)",
        "instead of INPUT files: find images on a DICOMweb server, predict, and store the SR "
        "and presentation state of each back into its study (implies --sr)",
    )
    g.add_argument(
        "--dicomweb", metavar="URL", help="DICOMweb base URL, e.g. https://pacs/dicom-web"
    )
    g.add_argument(
        "--study",
        action="append",
        default=[],
        metavar="UID",
        help="a Study Instance UID (repeatable)",
    )
    g.add_argument("--study-date", metavar="DATE", help="YYYYMMDD or YYYYMMDD-YYYYMMDD")
    g.add_argument("--modality", metavar="MOD", help="e.g. DX or CR (studies and series)")
    g.add_argument(
        "--dicomweb-limit",
        type=positive_int,
        default=1000,
        metavar="N",
        help="at most N images per run (default 1000)",
    )
    g.add_argument("--dicomweb-user", metavar="USER", help="HTTP basic authentication user")
    g.add_argument(
        "--dicomweb-password-env",
        default=PASSWORD_ENV,
        metavar="VAR",
        help=f"environment variable holding the password (default {PASSWORD_ENV})",
    )
    g.add_argument(
        "--dicomweb-token-env",
        default=TOKEN_ENV,
        metavar="VAR",
        help=f"environment variable holding a bearer token (default {TOKEN_ENV}; used when set)",
    )
    g.add_argument("--dicomweb-ca-bundle", type=Path, metavar="FILE", help="CA certificates (PEM)")
    g.add_argument(
        "--no-store", action="store_true", help="retrieve and predict, but store nothing back"
    )


def run(args, predict: Callable[[argparse.Namespace], int]) -> int:
    """The round trip; ``predict`` is ``apn predict``'s own run on local files."""
    from apn_core.dicom_out.files import pr_path, sr_path
    from apn_core.dicomweb.job import RETRIEVED, PacsSummary, retrieve, store
    from apn_core.dicomweb.query import Query, find_instances
    from apn_core.dicomweb.server import Server, connect, redacted
    from apn_core.errors import ApnError
    from apn_core.inference.jobs import collect_inputs
    from apn_core.inference.outputs import prepare_output_folder

    if args.inputs:
        raise ApnError("give INPUT files or --dicomweb URL, not both")
    server = Server(
        args.dicomweb,
        args.dicomweb_user,
        args.dicomweb_password_env,
        args.dicomweb_token_env,
        args.dicomweb_ca_bundle,
    )
    query = Query(tuple(args.study), args.study_date, args.modality, args.dicomweb_limit)
    query.check()
    client = connect(server)
    summary = PacsSummary(redacted(server.url))
    instances, summary.limited = find_instances(client, query)
    summary.found = len(instances)
    out = prepare_output_folder(args.out, "apn predict --dicomweb")
    files = retrieve(client, instances, out / RETRIEVED, summary)
    code = 0
    if files:
        args.inputs, args.sr, args.dicomweb = [str(f) for f in files], True, None
        code = predict(args)
        if not args.no_store:
            images, _ = collect_inputs(files, exclude=out)
            objects = [
                path
                for image in images
                for path in (pr_path(out, image.name), sr_path(out, image.name))
                if path.is_file()
            ]
            store(client, objects, summary)
    for line in summary.lines():
        print(line)
    if not files:
        return 2
    return max(code, 1 if summary.failed else 0)
