"""Labelled folders: discovery, merging of annotation sources, validation."""

from apn_core.dataset.folder import (
    OUTPUT_MARKER,
    LabelledFolder,
    LabelledImage,
    check_training_folders,
    find_images,
    is_output_folder,
    load_labelled_folder,
    merged_items,
)

__all__ = [
    "OUTPUT_MARKER",
    "LabelledFolder",
    "LabelledImage",
    "check_training_folders",
    "find_images",
    "is_output_folder",
    "load_labelled_folder",
    "merged_items",
]
