"""VisAnomBench: series from four sources cut into absolute-index segments, split, and verified.

Data side (this package): ``sources`` (loaders), ``segment``, ``split``, ``manifest``
(``load_manifest``, ``read_segment``, ``verify``) and ``build`` (``build_benchmark``,
``ensure_embedded_bench``, the ``bench build`` CLI). See docs/visanombench-data.md.
"""
