"""Check that decoded JSON has the shape collect expects, naming the field that does not.

A shape is a small declaration (``Fields({"threads": Maybe(INTEGER)})``); ``check`` walks a
value against it and raises ShapeError with the dotted path of the first field that does not
fit, e.g. ``load_cpu.cpus[0] must be an integer, not a string``. Keys a shape does not name
are allowed: newer runs may add fields.
"""

from __future__ import annotations

from dataclasses import dataclass


class ShapeError(ValueError):
    """A JSON value of the wrong shape; the message names the field."""


@dataclass(frozen=True)
class Scalar:
    types: tuple
    name: str

    def accepts(self, value) -> bool:
        # JSON's true/false are not numbers, whatever Python's bool says.
        if isinstance(value, bool):
            return bool in self.types
        return isinstance(value, self.types)


TEXT = Scalar((str,), "a string")
INTEGER = Scalar((int,), "an integer")
NUMBER = Scalar((int, float), "a number")
BOOLEAN = Scalar((bool,), "true or false")
ANY = Scalar((object,), "anything")


@dataclass(frozen=True)
class Maybe:
    """The shape, or null (a missing key counts as null)."""

    shape: object


@dataclass(frozen=True)
class ListOf:
    item: object


@dataclass(frozen=True)
class MapOf:
    """An object with any keys, each value of one shape (e.g. host name -> metadata)."""

    value: object


@dataclass(frozen=True)
class Fields:
    """An object with these fields (each required unless its shape is Maybe)."""

    fields: dict


def described(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    names = {dict: "an object", list: "a list", str: "a string", int: "an integer"}
    found = names.get(type(value), "a number" if isinstance(value, float) else type(value).__name__)
    if isinstance(value, (str, int, float)):
        shown = repr(value)
        found += f" ({shown[:40]}{'...' if len(shown) > 40 else ''})"
    return found


def expected(shape) -> str:
    if isinstance(shape, Scalar):
        return shape.name
    if isinstance(shape, Maybe):
        return f"{expected(shape.shape)} or null"
    if isinstance(shape, ListOf):
        return "a list"
    return "an object"


def check(value, shape, where: str = ""):
    """``value`` itself if it fits ``shape``; ShapeError naming the field otherwise."""
    if isinstance(shape, Maybe):
        return value if value is None else check(value, shape.shape, where)
    if isinstance(shape, Scalar):
        fits = shape.accepts(value)
    elif isinstance(shape, ListOf):
        fits = isinstance(value, list)
    else:
        fits = isinstance(value, dict)
    if not fits:
        raise ShapeError(f"{where or 'the file'} must be {expected(shape)}, not {described(value)}")
    if isinstance(shape, ListOf):
        for index, item in enumerate(value):
            check(item, shape.item, f"{where}[{index}]")
    elif isinstance(shape, MapOf):
        for key, item in value.items():
            check(item, shape.value, f"{where}.{key}" if where else str(key))
    elif isinstance(shape, Fields):
        for key, inner in shape.fields.items():
            check(value.get(key), inner, f"{where}.{key}" if where else key)
    return value


# How the agent says a step did not happen (wirebench-agent's replies, kept in a run's
# per-host records): a reply's shape is these fields and its own.
AGENT_OUTCOME = {"failed": Maybe(BOOLEAN), "unreachable": Maybe(BOOLEAN), "msg": Maybe(TEXT)}
