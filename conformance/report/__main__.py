"""``python -m conformance.report``: see conformance/report/cli.py."""

import sys

from conformance.report.cli import main

sys.exit(main())
