"""gradsight's benchmark harness: ``python -m benchmarks [--quick]``.

See benchmarks/workloads.py for what is measured, harness.py for how, and
docs/performance.md for the results.
"""
