"""gs.trace: a training step recorded once as NumPy code, then replayed (see docs/trace.md).

recorder.py: traced arrays and the list of NumPy calls made on them;
codegen.py: that list as straight-line NumPy source; program.py: the module
(traced.source) whose step() the replay runs; guards.py: the state a step touches
and the guards a replay checks, as code; replay.py: the generated guard-run-write-back
function; seams.py: the handler gs.trace installs in the engine's declared
seams (gradsight._core.policy) while a step is traced;
traced.py: gs.trace itself; article.py: the demo's side-by-side view.
"""

from __future__ import annotations

from .recorder import TraceError
from .traced import MAX_TRACES, Traced, trace, training_step

__all__ = ["MAX_TRACES", "TraceError", "Traced", "trace", "training_step"]
