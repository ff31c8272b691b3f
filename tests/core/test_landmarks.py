import pytest

from apn_core.landmarks import DEFAULT_LANDMARKS, LandmarkSet


def test_default_set_order_and_flip():
    assert DEFAULT_LANDMARKS.names[:2] == ("femur_right", "femur_left")
    perm = DEFAULT_LANDMARKS.flip_permutation()
    assert perm == [1, 0, 3, 2, 5, 4]
    assert sorted(perm) == list(range(6))


def test_custom_set_round_trips_and_rejects_bad_input():
    s = LandmarkSet(("a", "b", "c"), (("a", "c"),), name="toy")
    assert LandmarkSet.from_dict(s.to_dict()) == s
    assert s.flip_permutation() == [2, 1, 0]
    with pytest.raises(ValueError, match="duplicate"):
        LandmarkSet(("a", "a"))
    with pytest.raises(ValueError, match="unknown"):
        LandmarkSet(("a",), (("a", "z"),))
    with pytest.raises(KeyError, match="known: a, b, c"):
        s.index("zz")
