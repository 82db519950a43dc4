"""Prompt templates (jinja2) for the VLM views: the paper's question plus the answer format.

A template is named by its file stem (``paper`` is ``paper.j2`` in this folder) or given as
a path to a ``.j2`` file elsewhere (it may include this folder's templates). Templates
whose names start with ``_`` are parts for ``{% include %}``, not prompts.

Variables a template may use: ``start`` and ``end`` (the shown window, absolute inclusive
indices), ``length`` (points shown). The built-in prompts use none of them, so the model
must read the index range off the plot's x-axis.

The fingerprint of a prompt is the hash of the SOURCE TEXT of the template and of every
template it includes (recursively), so editing any of them changes the task fingerprint.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import jinja2.meta

from harness.core.errors import UsageError

PROMPTS_DIR = Path(__file__).resolve().parent
DEFAULT_PROMPT = "paper"


def prompt_names() -> list[str]:
    """Names of the built-in prompts (template stems without a leading underscore)."""
    return sorted(p.stem for p in PROMPTS_DIR.glob("*.j2") if not p.stem.startswith("_"))


@dataclass(frozen=True)
class PromptTemplate:
    """A loaded prompt: its name, the jinja2 template and the hash of its source text."""

    name: str
    template: jinja2.Template
    source_hash: str

    def render(self, **context: Any) -> str:
        """The prompt text for one window (trailing whitespace removed)."""
        return self.template.render(**context).strip()


def _environment(extra_dir: Path | None) -> jinja2.Environment:
    dirs = [str(extra_dir)] if extra_dir is not None else []
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader([*dirs, str(PROMPTS_DIR)]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        autoescape=False,  # plain-text prompts, never HTML
    )


def _sources_hash(env: jinja2.Environment, root: str) -> str:
    """sha256 over the source bytes of ``root`` and all templates it includes."""
    seen: dict[str, str] = {}
    todo = [root]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        assert env.loader is not None
        source, _, _ = env.loader.get_source(env, name)
        seen[name] = source
        todo.extend(t for t in jinja2.meta.find_referenced_templates(env.parse(source)) if t)
    h = hashlib.sha256()
    for name in sorted(seen):
        h.update(name.encode() + b"\0" + seen[name].encode() + b"\0")
    return h.hexdigest()


def load_prompt(prompt: str = DEFAULT_PROMPT) -> PromptTemplate:
    """Load a built-in prompt by name, or a ``.j2`` file by path; UsageError if unknown."""
    path = Path(prompt).expanduser()
    if prompt.endswith(".j2") and path.is_file():
        env, root, name = _environment(path.resolve().parent), path.name, str(path)
    elif prompt in prompt_names():
        env, root, name = _environment(None), f"{prompt}.j2", prompt
    else:
        raise UsageError(
            f"unknown prompt {prompt!r}: use one of {', '.join(prompt_names())} or a path to a .j2 file"
        )
    try:
        return PromptTemplate(name, env.get_template(root), _sources_hash(env, root))
    except jinja2.TemplateError as exc:
        raise UsageError(f"prompt template {prompt!r} is broken: {exc}") from exc
