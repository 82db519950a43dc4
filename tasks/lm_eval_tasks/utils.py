"""lm-eval's entry points for the visanom task configs (YAML ``!function utils.<name>``).

lm-eval loads this file by its path, so it must stand alone: every function imports
visanom's bridge (:mod:`tasks.lm_eval_tasks.bridge`) when called, and says clearly what to
install when visanom is not importable in the Python that runs ``lm_eval``.
"""

from __future__ import annotations

from typing import Any

MISSING = (
    "the visanom lm-eval tasks need the visanom package importable in the Python that runs lm_eval "
    "(`pip install -e '/path/to/visanom[lm-eval]'` into the same environment; "
    "`visanom lm-eval-path` prints the --include_path to use)"
)


def _bridge() -> Any:
    try:
        from tasks.lm_eval_tasks import bridge
    except ImportError as exc:
        raise ImportError(f"{MISSING}: {exc}") from exc
    return bridge


def load_docs(**metadata: Any) -> Any:
    """``custom_dataset``: the samples of the task named by ``visanom_task`` in the metadata."""
    return _bridge().load_docs(**metadata)


def doc_to_text(doc: dict) -> str:
    """The task's prompt (from its jinja2 template) after lm-eval's image placeholder."""
    return _bridge().doc_to_text(doc)


def doc_to_image(doc: dict) -> list:
    """The plot drawn by visanom's renderer."""
    return _bridge().doc_to_image(doc)


def process_results(doc: dict, results: list) -> dict:
    """Parse and score one answer with the task's own parser and metrics."""
    return _bridge().process_results(doc, results)


def _agg(name: str):
    def agg(items: list) -> float:
        return _bridge().aggregate_metric(name, items)

    agg.__name__ = "agg_" + name.replace("-", "_").lower()
    agg.__doc__ = f"The task's own run-level {name} over the scored docs."
    return agg


agg_f1 = _agg("F1")
agg_p = _agg("P")
agg_r = _agg("R")
agg_overlap = _agg("Overlap")
agg_point_f1 = _agg("Point-F1")
agg_point_p = _agg("Point-P")
agg_point_r = _agg("Point-R")
agg_affiliation_f1 = _agg("Affiliation-F1")
agg_interval_f1 = _agg("Interval-F1")
agg_interval_overlap = _agg("Interval-Overlap")
agg_n_parse_failed = _agg("n_parse_failed")
agg_n_failed = _agg("n_failed")
