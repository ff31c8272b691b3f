"""npe2 writer: a landmarks Points layer → ``landmarks.csv`` rows or a Slicer ``.mrk.json``.

Points data are (row, col) pixels of the image; the spacing is the layer's ``scale`` in
its ``units`` (mm, µm); a layer in pixel units has none. Rules:

- every point needs a ``label`` feature naming its landmark, each landmark at most once;
- ``landmarks.csv``: rows name the image by its path relative to the CSV's folder (the
  image must be inside it), from the layer's metadata — never from the layer's name;
  ``spacing_mm`` is written when the layer has a spacing (1.0 mm/px included). Only that
  image's rows change (:func:`napari_apn._save.save_image`, the plugin's one save path):
  saving into a labelled folder's ``landmarks.csv`` keeps every other image's rows;
- ``.mrk.json`` holds millimetres, so a layer without a spacing is refused.

Landmarks the layer marks absent (``apn_absent`` metadata) are saved absent; landmarks
without a point are not annotated (CSV) or left out (markups).
"""

from __future__ import annotations

from pathlib import Path


def write_points(path: str, data, meta: dict) -> list[str]:
    """Write ``.mrk.json`` (mm, LPS) or, for any other name, a ``landmarks.csv`` table."""
    from apn_core.annotations import checked_image_name, write_markups
    from apn_core.errors import FileProblem
    from apn_core.landmarks import DEFAULT_LANDMARKS
    from napari_apn._layers import ImageRef, labels_of, spacing_mm
    from napari_apn._save import save_image

    out = Path(path)
    layer = meta.get("name", "layer")
    spacing = spacing_mm(meta.get("scale"), meta.get("units"))
    ref = ImageRef.from_metadata(meta.get("metadata"))
    if out.name.lower().endswith(".mrk.json"):
        if spacing is None:
            raise FileProblem(
                out,
                f"layer {layer!r} is in pixel units (no spacing in mm) and a Slicer .mrk.json "
                "holds millimetres; save it as landmarks.csv, or give the layer its spacing "
                "(open the radiograph with napari-apn)",
            )
        labels = labels_of(data, meta.get("features"), meta.get("metadata"), layer)
        labels.image = ref.name or out.name
        write_markups(out, labels, DEFAULT_LANDMARKS, spacing, name=labels.image)
        return [str(out)]
    if out.suffix.lower() != ".csv":
        out = out.with_suffix(".csv")
    labels = labels_of(data, meta.get("features"), meta.get("metadata"), layer)
    labels.image = checked_image_name(ref.name_in(out.parent), out)
    labels.spacing = spacing
    save_image(out, labels)
    return [str(out)]
