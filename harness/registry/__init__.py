"""The registry of tasks and models: names -> lazy ``"module:object"`` references (see ``lazy``)."""

from harness.registry.lazy import (
    Entry,
    describe_model,
    load_model_cards,
    load_ref,
    make_model,
    make_task,
    model_entry,
    model_names,
    ref_of,
    register_model,
    register_task,
    task_entry,
    task_names,
)

__all__ = [
    "Entry", "describe_model", "load_model_cards", "load_ref", "make_model", "make_task", "model_entry",
    "model_names", "ref_of", "register_model", "register_task", "task_entry", "task_names",
]
