"""Preprocessing helpers, as in Keras: ``minigan.preprocessing.image`` turns arrays into images and back
(``array_to_img``, ``img_to_array``, ``load_img``, ``save_img``) and writes sample grids (``save_grid``)."""

from . import image

__all__ = ["image"]
