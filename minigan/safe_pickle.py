"""The one restricted unpickler of minigan: a pickle may name only the globals we list, and nothing runs.

A pickle is a small program for a stack machine. Two of its opcodes make it dangerous:

    GLOBAL "os system"      push any importable object (``find_class("os", "system")``)
    REDUCE                  pop a callable and an argument tuple, push callable(*args)

so ``pickle.loads(b"cos\\nsystem\\n(S'touch pwned'\\ntR.")`` runs a shell command. The stdlib lets a
subclass of ``pickle.Unpickler`` decide what every GLOBAL resolves to (``find_class``). Ours looks the
pair ``(module, name)`` up in an *allowlist* given by the caller -- a dict from that pair to the object
to use instead -- and refuses everything else *before* anything is imported or called. The objects on
a list are chosen so that each one only builds data (an array, a dict, a list) and cannot reach the file
system, a shell or ``import``.

Two users, each with its own list:

* ``minigan.datasets.files.safe_unpickle`` -- CIFAR-10 batches: NumPy's array-rebuilding functions;
* ``minigan.applications.torchscript`` -- the FID network's weights: tensors, dicts and placeholder
  classes for the network's modules (``lookup`` is extended there for a *pattern* of class names).

>>> import io, pickle
>>> allowed = {("collections", "OrderedDict"): dict}  # any OrderedDict in the file becomes a plain dict
>>> from collections import OrderedDict
>>> blob = pickle.dumps(OrderedDict(a=1), protocol=2)
>>> RestrictedUnpickler(io.BytesIO(blob), "example.pkl", allowed).load()
{'a': 1}
>>> RestrictedUnpickler(io.BytesIO(pickle.dumps(print)), "evil.pkl", allowed).load()  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
minigan.safe_pickle.UnsafePickleError: evil.pkl: refused to load; the pickle asks for the global 'builtins.print', ...
"""

import pickle


class UnsafePickleError(ValueError):
    """A pickle names a global outside the allowlist; it was refused before anything was called."""


class RestrictedUnpickler(pickle.Unpickler):
    """An Unpickler whose GLOBAL opcodes resolve only through ``allowed``; see the module docstring.

    file      a binary file object holding the pickle
    name      how the file is called in error messages (a path, or "weights.pt: archive/data.pkl")
    allowed   dict {(module, name): object}; a GLOBAL "module name" gives that object, never an import
    purpose   completes "which ... never needs" in the refusal message, e.g. "a dataset batch"
    error     the exception class raised on a refusal (a subclass of ``UnsafePickleError``)
    encoding  how Python 2 ``str`` objects are decoded ("bytes" keeps them as bytes, as Keras does)

    Subclasses may extend ``lookup`` (e.g. to allow a pattern of names) and ``allowed_names`` (so that the
    refusal lists it), and may define ``persistent_load`` for files whose data lives outside the pickle.
    """

    def __init__(self, file, name, allowed, *, purpose="this file", error=UnsafePickleError, encoding="ASCII"):
        super().__init__(file, encoding=encoding)
        self.name = name
        self.allowed = allowed
        self.purpose = purpose
        self.error = error

    def lookup(self, module, name):
        """The object that GLOBAL "module name" stands for; ``KeyError`` when it is not allowed."""
        return self.allowed[(module, name)]

    def allowed_names(self):
        """What the refusal message lists as allowed: sorted "module.name" strings."""
        return sorted(f"{module}.{name}" for module, name in self.allowed)

    def find_class(self, module, name):
        # Called by the stdlib for GLOBAL, STACK_GLOBAL and INST alike, so no opcode can bypass it. The
        # default would ``import module`` here -- the very step we must not take for an unknown name.
        try:
            return self.lookup(module, name)
        except KeyError:
            raise self.error(
                f"{self.name}: refused to load; the pickle asks for the global '{module}.{name}', which "
                f"{self.purpose} never needs (it could run arbitrary code). Only these are allowed: "
                f"{', '.join(self.allowed_names())}"
            ) from None
