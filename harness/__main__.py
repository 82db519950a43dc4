"""``python -m harness`` runs the ``visanom`` command."""

import sys

from harness.cli import main

sys.exit(main())
