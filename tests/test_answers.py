"""Answer formats: one declaration of each protocol (instructions, readers, writer), chosen by the task."""

from __future__ import annotations

import pytest

from harness.answers.formats import (
    DEFAULT_ANSWER_FORMAT,
    JSON,
    PAPER_TAGS,
    STEP_LABELS,
    AnswerFormat,
    answer_format,
    register_answer_format,
)
from harness.answers.parse import parse_answer
from harness.answers.tags import ANOMALY_TAG, INDEX_TAG
from harness.core.errors import UsageError
from tasks.visanombench.prompts import PROMPTS_DIR, load_prompt

TAGGED = "<anomaly>True</anomaly>\n<index>(10, 20)</index>\nStep 1: the x-axis runs from 0 to 99."
JSONED = 'Step 1: the x-axis runs from 0 to 99.\n{"anomaly": true, "intervals": [[40, 45]]}'


@pytest.mark.parametrize("fmt", [PAPER_TAGS, JSON])
def test_what_a_format_writes_it_reads_back(fmt: AnswerFormat) -> None:
    text = fmt.write([(30, 40), (10, 12), (11, 15)], "Step 1: the axes [0, 99] and <index>(1, 2)</index> quoted.")
    parsed = fmt.read(text, (0, 99))
    assert parsed.intervals == ((10, 15), (30, 40)) and parsed.anomaly is True and not parsed.failed
    assert parsed.format == ("tags" if fmt is PAPER_TAGS else "json")
    assert parsed.rationale.startswith("Step 1: the axes") and "<index>" not in parsed.rationale
    normal = fmt.read(fmt.write([], "Step 1: nothing."), (0, 99))
    assert normal.intervals == () and normal.anomaly is False and not normal.failed


def test_readers_decide_which_shape_is_the_answer() -> None:
    both = TAGGED + "\n" + '{"anomaly": true, "intervals": [[40, 45]]}'
    assert PAPER_TAGS.read(both, (0, 99)).intervals == ((10, 20),)
    assert JSON.read(both, (0, 99)).intervals == ((40, 45),)  # tags are not a shape this format reads
    assert parse_answer(JSONED, (0, 99), readers=("tags",)).failed
    assert parse_answer(JSONED, (0, 99)) == PAPER_TAGS.read(JSONED, (0, 99))  # the default is the paper's order
    with pytest.raises(ValueError, match="unknown answer reader"):
        parse_answer(TAGGED, readers=("xml",))


def test_the_prompt_asks_for_what_the_parser_reads() -> None:
    for fmt in (PAPER_TAGS, JSON):
        assert all(f"{label}: " in fmt.instructions for label in STEP_LABELS)
    assert f"<{ANOMALY_TAG}>True</{ANOMALY_TAG}>" in PAPER_TAGS.instructions
    assert f"<{INDEX_TAG}>(start, end)</{INDEX_TAG}>" in PAPER_TAGS.answer_only
    assert "{{ answer_instructions }}" in (PROMPTS_DIR / "_format.j2").read_text()  # no copy of the protocol
    paper = load_prompt("paper").render(**PAPER_TAGS.prompt_variables())
    assert paper.endswith(PAPER_TAGS.instructions)
    only = load_prompt("interval-only").render(**JSON.prompt_variables())
    assert only.endswith(JSON.answer_only) and "Step 1" not in only


def test_formats_are_registered_once_and_names_checked() -> None:
    assert answer_format(DEFAULT_ANSWER_FORMAT) is PAPER_TAGS and answer_format(JSON) is JSON
    with pytest.raises(UsageError, match="unknown answer format 'yaml'"):
        answer_format("yaml")
    with pytest.raises(UsageError, match="'json' is registered twice"):
        register_answer_format(AnswerFormat("json", "2", "x", "y", ("json",), JSON.writer))
    with pytest.raises(UsageError, match="unknown answer reader"):
        register_answer_format(AnswerFormat("test-bad", "1", "x", "y", ("xml",), JSON.writer))
    assert PAPER_TAGS.fingerprint() != JSON.fingerprint()


def test_the_template_reasoner_answers_in_the_format_asked() -> None:
    import numpy as np
    import toy  # noqa: F401  (registers toy-deviation)

    from baselines.template_reasoner import TemplateReasoner
    from harness.core.types import Sample

    x = np.sin(np.arange(300) / 7.0)
    x[200:205] += 6.0
    sample = Sample(id="s", series=x, index_offset=1000)
    tags = TemplateReasoner(detector="toy-deviation")
    json_model = TemplateReasoner(detector="toy-deviation", answer="json")
    (a,), (b,) = tags.predict([sample]), json_model.predict([sample])
    assert PAPER_TAGS.read(a.text, (1000, 1299)).format == "tags"
    parsed = JSON.read(b.text, (1000, 1299))
    assert parsed.format == "json" and parsed.intervals == PAPER_TAGS.read(a.text, (1000, 1299)).intervals
    assert json_model.fingerprint() != tags.fingerprint()
