"""The registry of tasks and models: names -> lazy ``"module:object"`` references (see ``lazy``)."""

from harness.registry.cards import ModelCard, merge_args
from harness.registry.lazy import (
    Entry,
    add_plugins,
    describe_model,
    load_model_cards,
    load_ref,
    make_model,
    make_task,
    model_card,
    model_entry,
    model_names,
    plugin_values,
    ref_of,
    register_model,
    register_task,
    task_entry,
    task_names,
)

__all__ = [
    "Entry", "ModelCard", "add_plugins", "merge_args", "plugin_values", "describe_model", "load_model_cards", "load_ref", "make_model", "make_task", "model_card", "model_entry",
    "model_names", "ref_of", "register_model", "register_task", "task_entry", "task_names",
]
