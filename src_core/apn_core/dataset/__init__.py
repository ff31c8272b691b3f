"""Labelled folders: discovery, merging of annotation sources, validation."""

from apn_core.dataset.folder import LabelledFolder, LabelledImage, find_images, load_labelled_folder

__all__ = ["LabelledFolder", "LabelledImage", "find_images", "load_labelled_folder"]
