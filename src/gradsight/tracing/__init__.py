"""gs.trace: a training step recorded once as NumPy code, then replayed (see docs/trace.md).

recorder.py: traced arrays and the list of NumPy calls made on them;
codegen.py: that list as straight-line NumPy source; guards.py: the state a
step touches and the assumptions a replay checks; traced.py: gs.trace itself.
"""

from __future__ import annotations

from .recorder import TraceError
from .traced import MAX_TRACES, Traced, trace, training_step

__all__ = ["MAX_TRACES", "TraceError", "Traced", "trace", "training_step"]
