"""Preprocessing helpers, as in Keras: ``minigan.preprocessing.image`` turns arrays into images and back
(``array_to_img``, ``img_to_array``, ``load_img``, ``save_img``) and writes sample grids (``save_grid``);
``resize_bilinear_legacy`` (``resize.py``) is TensorFlow 1's bilinear resize, the one FID's reference code
used to bring images to 299 x 299."""

from . import image, resize
from .resize import resize_bilinear_legacy

__all__ = ["image", "resize", "resize_bilinear_legacy"]
