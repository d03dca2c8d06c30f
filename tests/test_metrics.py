"""The one scorer: every comparison rule, at and just past its tolerance edges."""

from evalharness.metrics import (arguments_match, calls_match, latency_stats, ring_match, score_row, summarize,
                                 values_match)


def pt(lon, lat):
    return {"longitude": lon, "latitude": lat}


def test_coordinates_within_a_hundredth_of_a_degree():
    assert values_match(2.35, 2.3599, "longitude")
    assert values_match(48.85, 48.86, "latitude")  # exactly 0.01 apart
    assert not values_match(48.85, 48.8611, "latitude")
    assert not values_match(-73.6, 73.6, "longitude")


def test_other_numbers_within_one_percent_relative():
    assert values_match(10000, 10100, "height")  # exactly 1 %
    assert not values_match(10000, 10102, "height")
    assert values_match(0, 0, "amount") and not values_match(0, 0.001, "amount")
    assert values_match(-2.0, -2.01, "amount") and not values_match(2, -2, "amount")
    assert not values_match(True, 1, "amount")  # a boolean is not a number


def test_strings_case_and_space_insensitive_and_date_times_as_instants():
    assert values_match(" Red", "red", "color")
    assert not values_match("red", "green", "color")
    assert values_match("2024-06-01T12:00:00Z", "2024-06-01T12:00:00+00:00", "time")
    assert values_match("2024-06-01T14:00:00+02:00", "2024-06-01T12:00:00Z", "time")
    assert not values_match("2024-06-01T12:00:01Z", "2024-06-01T12:00:00Z", "time")


def test_argument_keys_must_agree():
    assert arguments_match("flyTo", {"longitude": 1, "latitude": 2}, {"latitude": 2, "longitude": 1})
    assert not arguments_match("flyTo", {"longitude": 1, "latitude": 2}, {"longitude": 1, "latitude": 2, "height": 5})
    assert not arguments_match("flyTo", {"longitude": 1, "latitude": 2, "height": 5}, {"longitude": 1, "latitude": 2})


def test_polyline_positions_keep_their_order():
    a, b, c = pt(0, 0), pt(10, 0), pt(10, 10)
    assert arguments_match("addPolyline", {"positions": [a, b, c]}, {"positions": [a, b, c]})
    assert not arguments_match("addPolyline", {"positions": [c, b, a]}, {"positions": [a, b, c]})
    assert not arguments_match("addPolyline", {"positions": [a, b]}, {"positions": [a, b, c]})


def test_polygon_equal_up_to_rotation_and_direction():
    a, b, c, d = pt(0, 0), pt(10, 0), pt(10, 10), pt(0, 10)
    ref = {"positions": [a, b, c, d]}
    assert arguments_match("addPolygon", {"positions": [c, d, a, b]}, ref)  # rotated
    assert arguments_match("addPolygon", {"positions": [d, c, b, a]}, ref)  # reversed
    assert arguments_match("addPolygon", {"positions": [b, a, d, c]}, ref)  # reversed and rotated
    assert arguments_match("addPolygon", {"positions": [a, b, c, d, a]}, ref)  # closing vertex repeated
    assert not arguments_match("addPolygon", {"positions": [a, c, b, d]}, ref)  # another shape
    assert not arguments_match("addPolygon", {"positions": [a, b, c]}, ref)
    assert ring_match([pt(0, 0.005)], [pt(0, 0)])  # vertices compared with the coordinate tolerance


def test_calls_match_needs_the_same_tool():
    assert calls_match({"tool": "zoom", "arguments": {"amount": 2}}, {"tool": "zoom", "arguments": {"amount": 2}})
    assert not calls_match({"tool": "flyTo", "arguments": {"amount": 2}}, {"tool": "zoom", "arguments": {"amount": 2}})
    assert not calls_match(None, {"tool": "zoom", "arguments": {}})


def _row(parsed, call, reference, reference_output=None, seconds=0.5, **extra):
    return {"parsed": parsed, "valid_json": parsed is not None, "call": call, "reference": reference,
            "reference_output": reference_output or reference, "seconds": seconds, **extra}


def test_score_row_and_summary():
    ref_out = {"tool": "flyTo", "arguments": {"place": "Paris"}}
    ref = {"tool": "flyTo", "arguments": pt(2.3488, 48.85341)}
    good = _row(ref_out, ref, ref, ref_out, output_tokens=10)
    # written as numbers close to Paris: right arguments, not an exact match of the emission
    near = _row({"tool": "flyTo", "arguments": pt(2.35, 48.85)}, {"tool": "flyTo", "arguments": pt(2.35, 48.85)},
                ref, ref_out, output_tokens=10)
    wrong_tool = _row({"tool": "zoom", "arguments": {"amount": 1}}, {"tool": "zoom", "arguments": {"amount": 1}},
                      ref, ref_out)
    garbage = _row(None, None, ref, ref_out, stage="json")
    zoom_ref = {"tool": "zoom", "arguments": {"amount": 2}}
    invalid = _row({"tool": "zoom"}, None, zoom_ref, stage="schema")
    assert score_row(good) == dict(valid_json=True, schema_valid=True, right_tool=True, right_args=True,
                                   exact_match=True)
    assert score_row(near)["right_args"] and not score_row(near)["exact_match"]
    assert score_row(garbage) == dict.fromkeys(score_row(good), False)
    assert score_row(invalid)["right_tool"] and not score_row(invalid)["schema_valid"]
    m = summarize([good, near, wrong_tool, garbage, invalid])
    assert m["n"] == 5 and m["valid_json"] == 0.8 and m["schema_valid"] == 0.6 and m["right_args"] == 0.4
    assert m["per_tool"]["flyTo"]["n"] == 4 and m["per_tool"]["zoom"]["right_tool"] == 1.0
    assert m["failures"] == {"json": 1, "schema": 1}
    assert m["latency"]["n"] == 5 and m["latency"]["p50_s"] == 0.5
    assert m["output_tokens_per_s"] == 20 / 2.5


def test_latency_percentiles():
    stats = latency_stats([float(i) for i in range(1, 101)])
    assert stats["p50_s"] == 50 and stats["p90_s"] == 90 and stats["max_s"] == 100 and stats["mean_s"] == 50.5
    assert latency_stats([]) == {"n": 0}


def test_a_gazetteer_gap_can_have_the_right_tool_but_never_the_right_arguments():
    """A hand-written reference naming a real place the gazetteer lacks has no executed call: the tool can be
    right, the arguments cannot, and acting anyway is counted."""
    reference_output = {"tool": "flyTo", "arguments": {"place": "Denver International Airport"}}
    refused = {"parsed": reference_output, "call": None, "reference_output": reference_output, "reference": None,
               "gazetteer_gap": ["'Denver International Airport'"], "valid_json": True}
    acted = {**refused, "parsed": {"tool": "flyTo", "arguments": {"place": "Denver"}},
             "call": {"tool": "flyTo", "arguments": {"longitude": -104.98, "latitude": 39.74}}}
    assert score_row(refused) == {"valid_json": True, "schema_valid": False, "right_tool": True, "right_args": False,
                                  "exact_match": False}
    assert score_row(acted)["right_tool"] and not score_row(acted)["right_args"]
    summary = summarize([refused, acted])
    assert summary["gazetteer_gaps"] == 2 and summary["executed_on_gazetteer_gap"] == 1
    assert summary["per_tool"]["flyTo"]["n"] == 2


def test_unknown_places_reads_only_a_refusal_for_unknown_places():
    from evalharness.predict import unknown_places

    prefix = "unknown place: I don't know where "
    assert unknown_places({"stage": "grounding", "problems": [{"message": prefix + "'Xanadu' is"}]}) == ["'Xanadu'"]
    assert unknown_places({"stage": "grounding", "problems": [{"message": prefix + "'X' is"},
                                                               {"message": "unknown unit 'zorks'"}]}) == []
    assert unknown_places({"stage": "contract", "problems": [{"message": prefix + "'X' is"}]}) == []
