"""Jinja2 templates of the harness (the judge prompt)."""
