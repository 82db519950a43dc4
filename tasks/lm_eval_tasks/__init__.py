"""lm-evaluation-harness task configs for visanom's tasks (see ``docs/lm-eval.md``).

``lm_eval --include_path "$(visanom lm-eval-path)" --tasks visanombench-demo ...``; the
folder is :data:`INCLUDE_PATH`.
"""

from pathlib import Path

INCLUDE_PATH = Path(__file__).resolve().parent
