"""Compile matrix-nio's JSON schemas into plain Python: `python -m pyapp.build.schema_codegen`
writes pyapp/client/nio_validators.py, which ships in our wheel.

nio checks every response and event with jsonschema (`Draft4Validator` extended to fill in
defaults). In Pyodide that interpretation is nearly all of the cost of parsing a sync: each
check walks the schema dicts keyword by keyword through several layers of calls. The schemas
are constants, so the walk can be done once, here, into straight-line code that makes the
same decisions: the same keywords in the same order (the first failure stops, as nio's
`validate` raises the first error), the same defaults written into the instance, the same
exceptions from nio's format checks. Only the subset of Draft 4 that nio's schemas use is
supported; anything else stops the generator, so a nio upgrade cannot silently weaken a check
(tests/unit/test_nio_validators.py also fails until the module is regenerated).
"""

from __future__ import annotations

import json
import numbers
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "client" / "nio_validators.py"

_TYPE_CHECKS = {  # Draft 4's types as jsonschema's draft4 type checker defines them
    "object": "isinstance({v}, dict)",
    "array": "isinstance({v}, list)",
    "string": "isinstance({v}, str)",
    "integer": "(isinstance({v}, int) and not isinstance({v}, bool))",
    "number": "(isinstance({v}, _Number) and not isinstance({v}, bool))",
    "boolean": "isinstance({v}, bool)",
    "null": "{v} is None",
}
# The keywords Draft 4 gives a meaning; any other key of a schema is ignored by jsonschema
# (nio's schemas have a few such keys, e.g. "const", which Draft 4 does not know).
_DRAFT4 = {"type", "properties", "required", "items", "enum", "patternProperties", "minimum",
           "not", "pattern", "additionalProperties", "format", "default",
           "$ref", "additionalItems", "allOf", "anyOf", "oneOf", "maximum", "exclusiveMinimum",
           "exclusiveMaximum", "minLength", "maxLength", "minItems", "maxItems", "uniqueItems",
           "multipleOf", "minProperties", "maxProperties", "dependencies", "definitions"}
_SUPPORTED = {"type", "properties", "required", "items", "enum", "patternProperties",
              "minimum", "not", "pattern", "additionalProperties", "format", "default"}


class Unsupported(Exception):
    """A schema uses something this compiler does not translate."""


class _Compiler:
    def __init__(self, formats: dict[str, object]):
        self.formats = formats  # the format names nio's FormatChecker knows
        self.consts: list[str] = []
        self.functions: list[str] = []
        self.names: dict[int, str] = {}
        self.shared: set[int] = set()
        self._keep: list[object] = []
        self.used_formats: set[str] = set()
        self.known: dict[str, str] = {}  # variable -> the type a "type" keyword ensured

    def const(self, expr: str) -> str:
        name = f"_C{len(self.consts)}"
        self.consts.append(f"{name} = {expr}")
        return name

    def count_uses(self, schema, seen: dict[int, int]) -> None:
        if not isinstance(schema, dict):
            return
        seen[id(schema)] = seen.get(id(schema), 0) + 1
        self._keep.append(schema)
        if seen[id(schema)] > 1:
            return
        for sub in _subschemas(schema):
            self.count_uses(sub, seen)

    def function(self, schema: dict) -> str:
        """The name of a function checking `schema` (one per distinct schema object)."""
        name = self.names.get(id(schema))
        if name is None:
            name = self.names[id(schema)] = f"_v{len(self.names)}"
            lines = [f"def {name}(x0):"]
            self.emit(schema, "x0", "", 1, lines)
            lines.append("    return")
            self.functions.append("\n".join(lines))
        return name

    def is_type(self, var: str, name: str) -> str:
        """The test for a type, or True where an earlier "type" keyword already ensured it."""
        known = self.known.get(var)
        if known == name or (name == "number" and known == "integer"):
            return "True"
        return _TYPE_CHECKS[name].format(v=var)

    def emit(self, schema, var: str, path: str, depth: int, out: list[str]) -> None:
        pad = "    " * depth
        self.known.pop(var, None)
        if isinstance(schema, list):
            # A list where a schema belongs (a misplaced "required" in nio's delete_devices):
            # jsonschema fails on it with this AttributeError whenever the key is present.
            out.append(f"{pad}raise AttributeError(\"'list' object has no attribute 'get'\")")
            return
        if not isinstance(schema, dict):
            raise Unsupported(f"schema {schema!r} is not an object")
        if "$ref" in schema:
            raise Unsupported("$ref")
        for key, value in schema.items():
            if key not in _DRAFT4:
                continue
            if key not in _SUPPORTED:
                raise Unsupported(key)
            if key == "type":
                self._type(value, var, path, pad, out)
            elif key == "properties":
                self._properties(value, var, path, depth, out)
            elif key == "required":
                if not isinstance(value, list):
                    raise Unsupported(f"required {value!r}")
                if not value:
                    continue
                cond = " and ".join(f"{k!r} in {var}" for k in value)
                out.append(f"{pad}if {self.is_type(var, 'object')} and not ({cond}):")
                out.append(f"{pad}    _missing({var}, {value!r}, {path!r})")
            elif key == "items":
                self._items(value, var, path, depth, out)
            elif key == "enum":
                self._enum(value, var, path, pad, out)
            elif key == "patternProperties":
                for pattern, sub in value.items():
                    search = self.const(f"_re.compile({pattern!r}).search")
                    k, v = f"k{depth}", f"x{depth}"
                    out.append(f"{pad}if {self.is_type(var, 'object')}:")
                    out.append(f"{pad}    for {k}, {v} in {var}.items():")
                    out.append(f"{pad}        if {search}({k}):")
                    self.emit_sub(sub, v, f"{path}.*", depth + 3, out)
            elif key == "minimum":
                if "exclusiveMinimum" in schema or not isinstance(value, numbers.Number):
                    raise Unsupported("exclusiveMinimum")
                out.append(f"{pad}if {self.is_type(var, 'number')} and {var} < {value!r}:")
                out.append(f"{pad}    _fail({path!r}, 'is less than the minimum of {value!r}')")
            elif key == "not":
                check = self.function(value)
                out.append(f"{pad}if _passes({check}, {var}):")
                out.append(f"{pad}    _fail({path!r}, 'must not match {_short(value)}')")
            elif key == "pattern":
                search = self.const(f"_re.compile({value!r}).search")
                out.append(f"{pad}if {self.is_type(var, 'string')} and not {search}({var}):")
                out.append(f"{pad}    _fail({path!r}, {('does not match ' + repr(value))!r})")
            elif key == "additionalProperties":
                self._additional(schema, value, var, path, depth, out)
            elif key == "format":
                self._format(value, var, path, pad, out)
            # "default" acts through the parent's "properties" (nio's extension)

    def emit_sub(self, schema, var: str, path: str, depth: int, out: list[str]) -> None:
        """A subschema inline, or as a call when several schemas share it."""
        self.known.pop(var, None)
        if id(schema) in self.shared:
            out.append(f"{'    ' * depth}{self.function(schema)}({var})")
            return
        before = len(out)
        self.emit(schema, var, path, depth, out)
        if len(out) == before:
            out.append(f"{'    ' * depth}pass")

    def _type(self, value, var, path, pad, out):
        types = value if isinstance(value, list) else [value]
        if not types or any(t not in _TYPE_CHECKS for t in types):
            raise Unsupported(f"type {value!r}")
        cond = " or ".join(self.is_type(var, t) for t in types)
        out.append(f"{pad}if not ({cond}):")
        out.append(f"{pad}    _fail({path!r}, {('is not of type ' + ', '.join(types))!r})")
        if len(types) == 1:
            self.known[var] = types[0]

    def _properties(self, value, var, path, depth, out):
        pad = "    " * depth
        if not isinstance(value, dict):
            raise Unsupported("properties")
        # nio's Validator sets each default before checking (on any instance, as nio's does)
        for prop, sub in value.items():
            if isinstance(sub, dict) and "default" in sub:
                default = self.const(repr(sub["default"]))
                out.append(f"{pad}{var}.setdefault({prop!r}, {default})")
        if not value:
            return
        out.append(f"{pad}if {self.is_type(var, 'object')}:")
        v = f"x{depth}"
        for prop, sub in value.items():
            out.append(f"{pad}    if {prop!r} in {var}:")
            out.append(f"{pad}        {v} = {var}[{prop!r}]")
            self.emit_sub(sub, v, f"{path}.{prop}", depth + 2, out)

    def _items(self, value, var, path, depth, out):
        pad = "    " * depth
        v = f"x{depth}"
        if isinstance(value, dict):
            out.append(f"{pad}if {self.is_type(var, 'array')}:")
            out.append(f"{pad}    for {v} in {var}:")
            self.emit_sub(value, v, f"{path}[]", depth + 2, out)
        elif isinstance(value, list):  # positional items
            out.append(f"{pad}if {self.is_type(var, 'array')}:")
            for i, sub in enumerate(value):
                out.append(f"{pad}    if len({var}) > {i}:")
                out.append(f"{pad}        {v} = {var}[{i}]")
                self.emit_sub(sub, v, f"{path}[{i}]", depth + 2, out)
        else:
            raise Unsupported("items")

    def _enum(self, value, var, path, pad, out):
        # jsonschema compares with ==, keeping True apart from 1; for string-only enums that
        # is: a string among them.
        if not isinstance(value, list) or not all(isinstance(e, str) for e in value):
            raise Unsupported(f"enum {value!r}")
        allowed = self.const(f"frozenset({value!r})")
        out.append(f"{pad}if not ({self.is_type(var, 'string')} and {var} in {allowed}):")
        out.append(f"{pad}    _fail({path!r}, {('is not one of ' + repr(value))!r})")

    def _additional(self, schema, value, var, path, depth, out):
        pad = "    " * depth
        known = self.const(repr(frozenset(schema.get("properties", {}))))
        patterns = [self.const(f"_re.compile({p!r}).search")
                    for p in schema.get("patternProperties", {})]
        k, v = f"k{depth}", f"x{depth}"
        extra = f"{k} not in {known}" + "".join(f" and not {p}({k})" for p in patterns)
        out.append(f"{pad}if {self.is_type(var, 'object')}:")
        out.append(f"{pad}    for {k}, {v} in {var}.items():")
        out.append(f"{pad}        if {extra}:")
        if value is False:
            out.append(f"{pad}            _fail({path!r}, 'has an unexpected property ' + repr({k}))")
        elif value is True:
            out.append(f"{pad}            pass")
        elif isinstance(value, dict):
            self.emit_sub(value, v, f"{path}.*", depth + 3, out)
        else:
            raise Unsupported("additionalProperties")

    def _format(self, value, var, path, pad, out):
        if value not in self.formats:
            return  # jsonschema ignores formats its checker does not know
        if value not in _FORMAT_CODE:
            raise Unsupported(f"format {value!r}")
        self.used_formats.add(value)
        out.append(f"{pad}if not _format_{value}({var}):")
        out.append(f"{pad}    _fail({path!r}, {('is not a ' + repr(value))!r})")


def _subschemas(schema: dict):
    for key, value in schema.items():
        if key in ("properties", "patternProperties") and isinstance(value, dict):
            yield from value.values()
        elif key in ("items",) and isinstance(value, list):
            yield from value
        elif key in ("items", "not", "additionalProperties") and isinstance(value, dict):
            yield value


def _short(schema) -> str:
    return json.dumps(schema)[:60].replace("'", "")


# nio's format checks (nio.schemas.check_user_id / check_http_url), with their behaviour on
# values that are no strings: the same exception escapes, as it does from nio's checker.
_FORMAT_CODE = {
    "user_id": '''
def _format_user_id(value):
    if not value.startswith("@"):
        return False
    return ":" in value
''',
    "http_url": '''
_HTTP_URL = _re.compile(r"^https?://.+")


def _format_http_url(value):
    return bool(_HTTP_URL.match(value))
''',
}

_HEADER = '''"""matrix-nio's JSON schemas compiled to plain Python. GENERATED by pyapp.build.schema_codegen
from matrix-nio {nio_version}'s nio.schemas.Schemas; do not edit, regenerate with
`python -m pyapp.build.schema_codegen`.

VALIDATORS maps each Schemas attribute to a function that accepts what nio's jsonschema
Validator accepts, fills in the same defaults, and raises Invalid where nio's raises
ValidationError.
"""
# ruff: noqa
# fmt: off

import re as _re
from numbers import Number as _Number

class Invalid(ValueError):
    """The instance does not match the schema (nio would raise ValidationError)."""


def _fail(path, message):
    raise Invalid(f"{{path or 'instance'}} {{message}}")


def _missing(instance, required, path):
    for key in required:
        if key not in instance:
            _fail(path, f"has no required property {{key!r}}")


def _passes(check, instance):
    try:
        check(instance)
    except Invalid:
        return False
    return True
'''


def generate() -> str:
    from importlib.metadata import version

    import nio.schemas

    schemas = {name: value for name, value in vars(nio.schemas.Schemas).items()
               if not name.startswith("_") and isinstance(value, dict)}
    compiler = _Compiler(set(nio.schemas.Checker.checkers))
    seen: dict[int, int] = {}
    for schema in schemas.values():
        compiler.count_uses(schema, seen)
    compiler.shared = {key for key, n in seen.items() if n > 1}
    entry = {name: compiler.function(schema) for name, schema in schemas.items()}
    parts = [_HEADER.format(nio_version=version("matrix-nio"))]
    parts += [_FORMAT_CODE[f] for f in sorted(compiler.used_formats)]
    parts.append("\n".join(compiler.consts) + "\n")
    parts += [f + "\n" for f in compiler.functions]
    parts.append("VALIDATORS = {\n" + "".join(f"    {n!r}: {f},\n" for n, f in entry.items())
                 + "}\n")
    return "\n\n".join(p.strip("\n") + "\n" for p in parts)


def main() -> int:
    source = generate()
    if OUT.exists() and OUT.read_text() == source:
        print(f"{OUT} is up to date")
        return 0
    OUT.write_text(source)
    print(f"wrote {OUT} ({len(source) // 1024} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
