"""``python -m apn_core`` is the same as the ``apn`` console script."""

from apn_core.cli.main import main

raise SystemExit(main())
