"""``python -m harness`` runs the ``visanom`` command."""

import sys

from harness.cli.main import main

sys.exit(main())
