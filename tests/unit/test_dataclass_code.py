"""pyapp.browser.dataclass_code: the methods @dataclass compiles, recorded once and handed
back compiled; the same classes either way, and anything not recorded compiled as before."""

from __future__ import annotations

import dataclasses

import pytest

from pyapp.browser import dataclass_code


@pytest.fixture(autouse=True)
def plain_dataclasses():
    yield
    vars(dataclasses).pop("exec", None)


def define(name: str = "Point"):
    return dataclasses.make_dataclass(
        name, [("x", int), ("y", int, dataclasses.field(default=0)),
               ("tags", tuple, dataclasses.field(default_factory=tuple))], frozen=True)


def test_recorded_methods_are_used_and_make_the_same_class():
    data = dataclass_code.record(define)
    assert dataclasses.__dict__.get("exec") is None  # recording leaves dataclasses as it was
    plain = define()
    before = dataclass_code.hits
    assert dataclass_code.install(data) >= 1
    cached = define()
    assert dataclass_code.hits > before
    for cls in (plain, cached):
        p = cls(1)
        assert (p.x, p.y, p.tags, repr(p)) == (1, 0, (), "Point(x=1, y=0, tags=())")
        assert p == cls(1) and hash(p) == hash(cls(1))
        with pytest.raises(dataclasses.FrozenInstanceError):
            p.x = 2
    assert plain.__init__.__annotations__ == cached.__init__.__annotations__


def test_after_uninstall_methods_are_compiled_as_before():
    dataclass_code.install(dataclass_code.record(define))
    dataclass_code.uninstall()
    before = dataclass_code.hits
    assert define()(2).x == 2 and dataclass_code.hits == before
    assert dataclasses.__dict__.get("exec") is None


def test_a_class_that_was_not_recorded_is_compiled_as_before():
    dataclass_code.install(dataclass_code.record(define))
    before = dataclass_code.hits
    Other = dataclasses.make_dataclass("Other", [("a", str), ("b", float, 1.5)])
    assert Other("z").b == 1.5 and dataclass_code.hits == before


def test_a_file_from_another_python_is_not_used():
    assert dataclass_code.install(b"\x00not marshal") == 0
    assert dataclasses.__dict__.get("exec") is None
    assert define()(3).x == 3
