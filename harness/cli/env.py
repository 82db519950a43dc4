"""``visanom env [--check] [--json]``: each environment's interpreter, capabilities and runnable models."""

from __future__ import annotations

import json
from typing import Any

from harness.core.errors import UsageError
from harness.environments.config import (
    check_environment,
    current_environment,
    describe_environments,
    load_environments,
)


def add_env_cli(sub: Any) -> None:
    """Add ``visanom env [--check] [--json]`` to the CLI's subparsers."""
    p = sub.add_parser("env", help="list the Python environments and what each can run")
    p.add_argument("--check", action="store_true", help="start each interpreter and verify its imports")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_env)


def cmd_env(args: Any) -> int:
    """``visanom env``: each environment's interpreter, capabilities and runnable models."""
    from harness.registry.lazy import describe_model, model_names

    envs = load_environments()
    rows = describe_environments(envs, model_names())
    failed = 0
    for row in rows:
        if args.check:
            try:
                rep = check_environment(envs[row["name"]])
                row["check"] = {"ok": True, "python": rep.python_version, "numpy": rep.numpy,
                                "modules": rep.modules}
            except UsageError as exc:
                failed += 1
                row["check"] = {"ok": False, "error": str(exc)}
    if args.json:
        print(json.dumps(rows, indent=2))
        return 1 if failed else 0
    current = current_environment(envs)
    print(f"environments ({next(iter(envs.values())).source}):")
    for row in rows:
        mark = "*" if current is not None and current.name == row["name"] else " "
        state = "" if row["exists"] else f"  [missing: run `{row['setup']}`]"
        print(f"{mark} {row['name']:<10} {row['python']}{state}")
        print(f"    provides: {', '.join(row['provides']) or 'core only'}"
              + (f"  ({row['description']})" if row["description"] else ""))
        detectors = [n for n in row["can_run"] if describe_model(n).get("source") == "tsb-ad"]
        others = [n for n in row["can_run"] if n not in detectors]
        runs = ([f"{len(detectors)} tsb-ad detectors"] if detectors else []) + others
        print(f"    can run: {', '.join(runs) or 'nothing registered'}")
        if "check" in row:
            chk = row["check"]
            if chk["ok"]:
                mods = ", ".join(f"{m} {v}" for m, v in chk["modules"].items())
                print(f"    check: ok (python {chk['python']}, numpy {chk['numpy']}; {mods})")
            else:
                print(f"    check: FAILED: {chk['error']}")
    return 1 if failed else 0
