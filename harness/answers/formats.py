"""Answer formats: what a text model is asked to write, and how the answer is read and written.

A task chooses its format by name (task argument ``answer=``; default :data:`DEFAULT_ANSWER_FORMAT`),
so the paper's tag protocol is one format among others, not something the harness assumes:

* ``paper-tags`` (the paper's): ``<anomaly>True|False</anomaly>``, one
  ``<index>(start, end)</index>`` per region, then a three-step rationale; read with the
  tags reader first, then JSON, then prose (:func:`harness.answers.parse.parse_answer`);
* ``json``: a three-step rationale, then one JSON object
  ``{"anomaly": true, "intervals": [[start, end], ...]}``; read as JSON, then prose.

Each format holds the prompt's instructions (the ``answer_instructions`` and ``answer_only``
variables of the prompt templates, e.g. ``tasks/visanombench/prompts/_format.j2``), the
readers, and the writer a baseline uses to answer in it. Other packages may :func:`register_answer_format` more.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from harness.answers.json_reader import format_json_answer
from harness.answers.parse import PARSER_VERSION, ParsedAnswer, check_readers, parse_answer
from harness.answers.tags import ANOMALY_TAG, INDEX_TAG, format_answer, tagged
from harness.core.errors import UnknownNameError, UsageError
from harness.core.hashing import stable_hash

Writer = Callable[[Iterable[tuple[int, int]], str], str]

STEP_LABELS = ("Step 1", "Step 2", "Step 3")
"""How the three rationale steps are labelled, in the prompt and in the template reasoner."""

_STEPS = (
    f"Then explain your reasoning in three steps:\n"
    f"{STEP_LABELS[0]}: state what the axes show: the range of the x-axis (Index) and of the y-axis (Value).\n"
    f"{STEP_LABELS[1]}: describe the usual behaviour of the series and every region that departs from it, "
    f"citing the indices shown on the x-axis.\n"
    f"{STEP_LABELS[2]}: explain why each such region is an anomaly, or why the series is normal."
)

_TAG_LINES = (
    f"{tagged(ANOMALY_TAG, 'True')} if the plot shows at least one anomaly, otherwise "
    f"{tagged(ANOMALY_TAG, 'False')}.\n"
    f"{tagged(INDEX_TAG, '(start, end)')} once for every anomalous region, where start and end are indices "
    f"as labelled on the x-axis; leave this tag out when there is no anomaly."
)
PAPER_INSTRUCTIONS = "Answer in exactly this format:\n" + _TAG_LINES + "\n" + _STEPS
PAPER_ANSWER_ONLY = "Answer in exactly this format and write nothing else:\n" + _TAG_LINES

_JSON_OBJECT = (
    '{"anomaly": true, "intervals": [[start, end]]} with one [start, end] pair for every anomalous region, '
    "where start and end are indices as labelled on the x-axis, or "
    '{"anomaly": false, "intervals": []} when there is no anomaly.'
)
JSON_INSTRUCTIONS = (
    _STEPS.replace("Then explain", "First explain", 1)
    + "\nThen end with one JSON object and nothing after it: " + _JSON_OBJECT
)
JSON_ANSWER_ONLY = "Answer with one JSON object and write nothing else: " + _JSON_OBJECT


@dataclass(frozen=True)
class AnswerFormat:
    """One answer protocol: prompt instructions, readers (in order) and a writer."""

    name: str
    version: str
    instructions: str
    """The prompt's request for this format with the three-step rationale (``answer_instructions``)."""
    answer_only: str
    """The request for the bare answer, no rationale (``answer_only``)."""
    readers: tuple[str, ...]
    writer: Writer

    def read(self, text: str | None, window: tuple[int, int] | None = None, *, merge: bool = False) -> ParsedAnswer:
        """Parse ``text`` in ``window`` with this format's readers (never raises); ``merge``: see
        :func:`harness.answers.parse.parse_answer` (off: every stated interval is counted)."""
        return parse_answer(text, window=window, readers=self.readers, merge=merge)

    def write(self, intervals: Iterable[tuple[int, int]], rationale: str = "") -> str:
        """An answer in this format (what a model following the instructions would write)."""
        return self.writer(intervals, rationale)

    def fingerprint(self) -> str:
        """Hash of name, version, instructions, readers and the parser's rules version (part of a task's fingerprint)."""
        return stable_hash([self.name, self.version, self.instructions, self.answer_only, list(self.readers),
                            PARSER_VERSION])

    def prompt_variables(self) -> dict[str, str]:
        """The variables a prompt template may use to ask for this format."""
        return {"answer_instructions": self.instructions, "answer_only": self.answer_only}

    def describe(self) -> dict[str, Any]:
        """Display metadata: name, version and readers."""
        return {"name": self.name, "version": self.version, "readers": list(self.readers)}


_FORMATS: dict[str, AnswerFormat] = {}


def register_answer_format(fmt: AnswerFormat) -> AnswerFormat:
    """Add a format; its readers must be known, and a name taken by another format is refused."""
    try:
        check_readers(fmt.readers)
    except ValueError as exc:
        raise UsageError(f"answer format {fmt.name!r}: {exc}") from exc
    old = _FORMATS.get(fmt.name)
    if old is not None and old != fmt:
        raise UsageError(f"answer format {fmt.name!r} is registered twice; rename one of them")
    _FORMATS[fmt.name] = fmt
    return fmt


def answer_format(name: str | AnswerFormat) -> AnswerFormat:
    """The registered format called ``name`` (a format is returned as is); unknown: a clear error."""
    if isinstance(name, AnswerFormat):
        return name
    if name not in _FORMATS:
        raise UnknownNameError("answer format", str(name), _FORMATS)
    return _FORMATS[name]


PAPER_TAGS = register_answer_format(
    AnswerFormat("paper-tags", "1", PAPER_INSTRUCTIONS, PAPER_ANSWER_ONLY, ("tags", "json", "prose"), format_answer))
JSON = register_answer_format(
    AnswerFormat("json", "1", JSON_INSTRUCTIONS, JSON_ANSWER_ONLY, ("json", "prose"), format_json_answer))
DEFAULT_ANSWER_FORMAT = PAPER_TAGS.name
