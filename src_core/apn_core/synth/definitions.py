"""What the six landmarks are: the joint centres of the mechanical axis, written down once.

The hip, knee and ankle centres are the points that define the lower limb's mechanical
axis (hip centre → ankle centre) and the hip–knee–ankle angle on a standing AP long-leg
radiograph. We follow the definitions of Paley (Principles of Deformity Correction,
Springer 2002, ch. 1) and of Moreland, Bassett & Hanker (Radiographic analysis of the
axial alignment of the lower extremity, J Bone Joint Surg Am 1987;69:745–749); see also
Paley & Tetsworth (Clin Orthop Relat Res 1992;280:48–64):

femur (femoral head centre)
    the centre of the circle fitted to the outline of the femoral head. With a hip
    replacement or hemiarthroplasty it is the centre of the prosthetic head, which
    replaces the head and carries the joint's centre of rotation.
knee (knee joint centre)
    the midpoint between the tips of the tibial spines (medial and lateral intercondylar
    tubercles), taken at the knee joint line (the middle of the radiographic joint space
    between the femoral condyles and the tibial plateau); the centre of the femoral
    intercondylar notch lies on the same point. With a knee replacement, the same
    anatomical point: the components are centred on it.
ankle (ankle joint centre)
    the midpoint of the tibial plafond — between the distal tibia's lateral border and the
    inner corner of the medial malleolus, where the outline turns down ("tibial
    mid-plafond") — taken at the tibiotalar joint line (the middle of the joint space
    between the plafond and the talar dome, half a joint space below the plafond). The
    talar dome fills the mortise below it, so this is also the middle of the dome to
    within a millimetre or two. This is how the real films' ground truth is derived from
    bone outlines (:func:`apn_core.outlines.derive.plafond`).

How the phantom honours them (:mod:`.bones`, checked by measuring the rendered solids in
``tests/core/test_synth_definitions.py``):

- the femoral head is a sphere centred on the landmark (a prosthetic head is too);
- at the knee, in the frame of the tibial mechanical axis (joint line ⟂ that axis): the
  condyles end half a joint space above the landmark, the plateau starts half a joint
  space below it, the two tibial spines straddle it symmetrically, the notch between the
  condyles is centred on it;
- at the ankle, in the same frame (:mod:`.ankle`): the plafond ends half a joint space
  above the landmark, from the lateral border at ``u = +p`` to the medial malleolus whose
  inner face crosses ``u = −p`` halfway down its drop; the talar dome's top is half a joint
  space below the landmark and the dome fills the mortise (2 mm medial clear space; the
  tibia's anterolateral tubercle overhangs it laterally, so its centre is ~1 mm medial).

Landmarks removed by an amputation do not exist and are written *absent* (annotated,
no position); landmarks outside the field of view are absent too.
"""

from __future__ import annotations

DEFINITIONS = {
    "femur": "centre of the circle fitted to the femoral head outline (prosthetic head centre "
    "after a hip replacement)",
    "knee": "midpoint of the tibial spine tips at the knee joint line (centre of the "
    "intercondylar notch)",
    "ankle": "midpoint of the tibial plafond (lateral border to the medial malleolus's inner "
    "corner) at the tibiotalar joint line",
}
REFERENCES = (
    "Paley D. Principles of Deformity Correction. Springer, 2002, ch. 1.",
    "Moreland JR, Bassett LW, Hanker GJ. Radiographic analysis of the axial alignment of the "
    "lower extremity. J Bone Joint Surg Am. 1987;69(5):745-749.",
    "Paley D, Tetsworth K. Mechanical axis deviation of the lower limbs. Clin Orthop Relat Res. "
    "1992;(280):48-64.",
)
