"""Values from outside gradsight that a tracing call would freeze: random draws and clocks.

A replay runs NumPy calls only, so a number the step draws from ``random``,
NumPy's global generator (``np.random.rand``, ``np.random.shuffle`` ...) or a
generator it reaches (``self.rng.random``), or reads from a clock
(``time.perf_counter()``), would be the tracing call's on every replay. The
tracing call notes each generator's state before the step runs and compares
after (a method of a Cython generator makes no C-call profile event, a state
always changes), and watches the calls the user's code makes to the clocks.
Either is refused, with the generators put back where they were, so running
the step again (eagerly) draws what it would have drawn.
"""

from __future__ import annotations

import os
import random
import sys
import sysconfig
import time
import types

import numpy as np

from .guards import _places
from .recorder import TraceError

_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
# code that is not the user's: gradsight, the standard library and installed packages
# (a library's own timing, such as a test framework's garbage-collection callback that
# runs while the step allocates, is not the step reading the clock)
_NOT_USER_CODE = tuple(
    {_PACKAGE}
    | {
        os.path.join(path, "")
        for key in ("stdlib", "platstdlib", "purelib", "platlib")
        if (path := sysconfig.get_paths().get(key))
    }
)
CLOCKS = {
    time.time: "time.time()",
    time.time_ns: "time.time_ns()",
    time.perf_counter: "time.perf_counter()",
    time.perf_counter_ns: "time.perf_counter_ns()",
    time.monotonic: "time.monotonic()",
    time.monotonic_ns: "time.monotonic_ns()",
    time.process_time: "time.process_time()",
    time.process_time_ns: "time.process_time_ns()",
}


def _generators(places) -> list:
    """(name, generator) for NumPy Generators/RandomStates and random.Random instances
    among the step's places (arguments, closure, globals, self) and one level into
    lists, dicts and plain objects."""
    found = []
    seen = set()

    def visit(name, obj, depth):
        if id(obj) in seen:
            return
        seen.add(id(obj))
        if isinstance(obj, (np.random.Generator, np.random.RandomState, random.Random)):
            found.append((name, obj))
        elif isinstance(obj, (types.FunctionType, types.MethodType)):
            fn = getattr(obj, "__func__", obj)
            if len(seen) < 500 and not fn.__code__.co_filename.startswith(_PACKAGE):
                for sub_name, sub in _places(obj, ()):  # a helper the step calls
                    visit(sub_name, sub, 0)
        elif depth < 1 and isinstance(obj, (list, tuple)):
            for i, v in enumerate(obj):
                visit(f"{name}[{i}]", v, depth + 1)
        elif depth < 1 and isinstance(obj, dict):
            for k, v in list(obj.items()):
                visit(f"{name}[{k!r}]", v, depth + 1)
        elif depth < 1 and type(obj).__dictoffset__ != 0 and not isinstance(obj, type):
            try:
                attrs = list(vars(obj).items())
            except TypeError:
                return
            for k, v in attrs:
                visit(f"{name}.{k}", v, depth + 1)

    for name, obj in places:
        visit(name, obj, 0)
    return found


def _state(gen):
    if isinstance(gen, np.random.Generator):
        return gen.bit_generator.state
    if isinstance(gen, np.random.RandomState):
        return gen.get_state(legacy=False)
    return gen.getstate()


def _set_state(gen, state) -> None:
    if isinstance(gen, np.random.Generator):
        gen.bit_generator.state = state
    elif isinstance(gen, np.random.RandomState):
        gen.set_state(state)
    else:
        gen.setstate(state)


def _same(a, b) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, np.ndarray):
        return np.array_equal(a, b)
    if isinstance(a, tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


class Watch:
    """Around one tracing call: ``with Watch(places):`` then ``check()`` (raises)."""

    def __init__(self, places):
        self.gens = [
            ("random (the module's generator)", random._inst),
            ("np.random (NumPy's global generator)", np.random.mtrand._rand),
            *_generators(places),
        ]
        self.before = [_state(g) for _, g in self.gens]
        self.clocks: list = []
        self.previous = None

    def _profile(self, frame, event, arg):
        if event == "c_call":
            what = CLOCKS.get(arg) if arg.__hash__ is not None else None
            if what is not None and not frame.f_code.co_filename.startswith(_NOT_USER_CODE):
                self.clocks.append(f"{what} at {frame.f_code.co_filename}:{frame.f_lineno}")
        if self.previous is not None:
            self.previous(frame, event, arg)

    def __enter__(self):
        self.previous = sys.getprofile()
        sys.setprofile(self._profile)
        return self

    def __exit__(self, *exc):
        sys.setprofile(self.previous)

    def check(self) -> None:
        drawn = [
            name
            for (name, g), before in zip(self.gens, self.before)
            if not _same(_state(g), before)
        ]
        if drawn:
            self.put_back()
            raise TraceError(
                f"the step draws random numbers from {', '.join(drawn)} while being traced: "
                "a replay would use the tracing call's draws every time. Draw outside the "
                "step and pass the result in (a dropout mask, say: mask = rng.random(shape) "
                "> p; step(x, y, mask))"
            )
        if self.clocks:
            raise TraceError(
                f"the step reads the clock ({', '.join(dict.fromkeys(self.clocks))}) while "
                "being traced: a replay would see the tracing call's time every time. Time "
                "the call from outside the step"
            )

    def put_back(self) -> None:
        for (_, g), before in zip(self.gens, self.before):
            _set_state(g, before)
