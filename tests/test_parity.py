"""Parity statistics between two backends' greedy outputs."""

from __future__ import annotations

import pytest

from evalharness.parity import first_divergence, parity


def test_first_divergence():
    assert first_divergence([1, 2, 3], [1, 2, 3]) is None
    assert first_divergence([1, 2, 3], [1, 9, 3]) == 1
    assert first_divergence([1, 2], [1, 2, 3]) == 2
    assert first_divergence([], []) is None


def test_parity_counts_identical_outputs_and_earliest_divergence():
    a = [{"where": f"t:{i}", "raw": raw} for i, raw in enumerate(["abc", "abd", "xyz", ""])]
    b = [{"where": f"t:{i}", "raw": raw} for i, raw in enumerate(["abc", "abc", "xyw", ""])]
    result = parity(a, b, encode=lambda text: [ord(c) for c in text])
    assert result["identical_count"] == 2 and result["identical"] == 0.5
    assert result["first_divergence_min"] == 2 and len(result["diverging_examples"]) == 2


def test_parity_refuses_different_examples():
    with pytest.raises(ValueError, match="same examples"):
        parity([{"where": "a", "raw": ""}], [{"where": "b", "raw": ""}], encode=list)
