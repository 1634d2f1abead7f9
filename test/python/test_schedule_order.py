"""The longest-first order of the test run (schedule_order.py, used by conftest.py)."""

from __future__ import annotations

import schedule_order as so


def test_units_longest_first_with_each_groups_tests_in_their_order():
    tests = [("a.py::t1", "a.py::t1"),
             ("g.py::x", "@g"), ("g.py::y", "@g"),
             ("b.py::t2", "b.py::t2"),
             ("c.py::t3", "c.py::t3")]
    durations = {"a.py::t1": 1.0, "g.py::x": 200.0, "g.py::y": 5.0, "b.py::t2": 30.0,
                 "c.py::t3": 30.0}
    # the group (205 s) first, its tests in collection order; the two 30 s tests in
    # collection order (a tie); the 1 s test last
    assert so.order(tests, durations) == [1, 2, 3, 4, 0]


def test_untimed_tests_count_as_the_median_and_groups_weigh_by_size_without_history():
    tests = [("a", "a"), ("new", "new"), ("b", "b"), ("c", "c")]
    assert so.order(tests, {"a": 1.0, "b": 10.0, "c": 4.0}) == [2, 1, 3, 0]  # new = 4 s
    grouped = [("s1", "s1"), ("g1", "@g"), ("g2", "@g"), ("s2", "s2")]
    assert so.order(grouped, {}) == [1, 2, 0, 3]


def test_ids_lose_the_xdist_group_suffix_but_not_a_parameter_with_an_at():
    assert so.base_nodeid("t.py::test_a@grp") == "t.py::test_a"
    assert so.base_nodeid("t.py::test_a[x@y]") == "t.py::test_a[x@y]"
    assert so.base_nodeid("t.py::test_a[x@y]@grp") == "t.py::test_a[x@y]"
    assert so.base_nodeid("t.py::test_a") == "t.py::test_a"


def test_phases_add_up_skipped_tests_are_not_recorded_and_old_records_are_kept():
    measured: dict[str, float] = {}
    skipped: set[str] = set()
    for phase in (0.5, 2.0, 0.25):
        so.add_phase(measured, skipped, "t.py::a@g", phase, False)
    so.add_phase(measured, skipped, "t.py::b", 0.01, True)  # skipped in set-up
    so.add_phase(measured, skipped, "t.py::b", 0.01, False)  # its tear-down
    assert measured == {"t.py::a": 2.75}
    record = so.merged({"t.py::a": 9.0, "t.py::b": 300.0, "bad": "x"}, measured)
    assert record == {"t.py::a": 2.75, "t.py::b": 300.0}
    assert so.merged(None, {}) == {}
