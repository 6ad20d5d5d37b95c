"""The input record every reader yields."""

from __future__ import annotations

from tagger.io.record import Record


def test_the_first_problem_is_kept_with_its_line() -> None:
    record = Record(3, tokens=["a"])
    assert record.where == 3 and record.error is None
    record.fail(5, "first")
    record.fail(7, "second")
    assert (record.error, record.where) == ("first", 5)


def test_comments_and_size() -> None:
    record = Record(1, tokens=["ab", "c"], comments=["# sent_id = s-1", "# text = ab c", "# other"])
    assert record.comment("sent_id") == "s-1" and record.comment("text") == "ab c" and record.comment("x") is None
    assert record.size == 5 and Record(1, text="hello").size == 5
