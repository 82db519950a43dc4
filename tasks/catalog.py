"""The built-in tasks, a visanom plugin: names, lazy ``"module:object"`` references, display.

The registry loads this module as a plugin (entry point ``visanom.plugins``, the same route a
third-party package takes); nothing here imports a task until its name is used.
"""

from __future__ import annotations

from typing import Any

Row = tuple[str, dict[str, Any]]

TASKS: dict[str, Row] = {
    "tsb-ad-u": (
        "tasks.tsb_ad_u.task:tsb_ad_u",
        {"description": "TSB-AD-U official evaluation list (350 series); needs the data folder"},
    ),
    "tsb-ad-u-demo": (
        "tasks.tsb_ad_u.task:tsb_ad_u_demo",
        {"description": "Embedded sample set in TSB-AD-U format (GutenTAG, UCR, MITDB, Yahoo)"},
    ),
    "tsb-ad-u-vlm": (
        "tasks.tsb_ad_u.vlm_view:tsb_ad_u_vlm",
        {"description": "TSB-AD-U, VLM view: windows drawn and asked; point/affiliation F1"},
    ),
    "tsb-ad-u-demo-vlm": (
        "tasks.tsb_ad_u.vlm_view:tsb_ad_u_demo_vlm",
        {"description": "Embedded TSB-AD-U-format set, VLM view (windows drawn and asked)"},
    ),
    "visanombench": (
        "tasks.visanombench.task:visanombench",
        {"description": "VisAnomBench (paper's interval P/R/F1/Overlap); data_dir=PATH or hf"},
    ),
    "visanombench-demo": (
        "tasks.visanombench.task:visanombench_demo",
        {"description": "Small VisAnomBench-format benchmark built offline at first use"},
    ),
}
