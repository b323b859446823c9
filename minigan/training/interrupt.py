"""Ctrl-C that waits for the end of the current training step.

A KeyboardInterrupt can strike anywhere: between the update of two layers, halfway through an
optimizer's state. A checkpoint taken then would hold a network that no step of training ever
produced, and resuming from it could not reproduce an uninterrupted run. So, while training:

* the first Ctrl-C (SIGINT) only sets ``stop.requested``; the loop finishes the step it is in, saves a
  checkpoint at that step boundary and leaves;
* a second Ctrl-C raises KeyboardInterrupt at once (for a step that hangs); nothing is saved then,
  and the last checkpoint on disk stays as it was.

Outside the main thread Python cannot install signal handlers; there the context does nothing and
Ctrl-C behaves as usual.

>>> import os, signal
>>> with StopAtBoundary(message=None) as stop:
...     os.kill(os.getpid(), signal.SIGINT)   # what Ctrl-C sends
...     print("the step goes on; stop requested:", stop.requested)
the step goes on; stop requested: True
"""

import signal
import sys
import threading


class StopAtBoundary:
    """Context manager: the first SIGINT sets ``requested``; the second raises KeyboardInterrupt."""

    def __init__(self, message="\nCtrl-C: finishing this step, then saving a checkpoint (Ctrl-C again to quit now)"):
        self.message = message
        self.requested = False
        self._previous = None

    def _handler(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        if self.message:
            print(self.message, file=sys.stderr, flush=True)

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None
        return False
