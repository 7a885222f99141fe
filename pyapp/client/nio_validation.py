"""nio's response and event validation, run as compiled code instead of interpreted schemas.

nio validates what it parses against its JSON schemas with jsonschema, which walks each schema
dict on every call: 96-98 % of parsing time, and in Pyodide several times the cost of
everything else. pyapp.client.nio_validators holds the same schemas compiled to plain Python
at build time (pyapp.build.schema_codegen): the same accept/reject decisions and defaults
(tests/unit/test_nio_validators.py runs both over a corpus), a fraction of the time. A schema
that is not among nio's constants still goes through jsonschema, one validator per schema,
under CPython; the browser build ships jsonschema's names only (pyapp/browser/nio_shims: nio
and this package never validate anything else there), so such a schema raises RuntimeError.
"""

from __future__ import annotations

import nio.events.misc
import nio.responses
import nio.schemas
from jsonschema.exceptions import ValidationError

from . import nio_validators

COMPILED = {id(schema): (schema, nio_validators.VALIDATORS[name])
            for name, schema in vars(nio.schemas.Schemas).items()
            if name in nio_validators.VALIDATORS}
_interpreted: dict[int, tuple[dict, object]] = {}
failures = 0  # ValidationErrors raised so far: nio catches them, callers can still tell


def validate_json(instance, schema) -> None:
    """nio.schemas.validate_json: raises jsonschema's ValidationError where nio's would."""
    global failures
    entry = COMPILED.get(id(schema))
    try:
        if entry is not None and entry[0] is schema:
            try:
                entry[1](instance)
            except nio_validators.Invalid as e:
                raise ValidationError(str(e)) from None
            return
        entry = _interpreted.get(id(schema))
        if entry is None or entry[0] is not schema:
            entry = _interpreted[id(schema)] = (
                schema, nio.schemas.Validator(schema, format_checker=nio.schemas.Checker))
        entry[1].validate(instance)
    except ValidationError:
        failures += 1
        raise


def install() -> None:
    # The modules imported the function by name, so each binding is replaced.
    for module in (nio.schemas, nio.responses, nio.events.misc):
        module.validate_json = validate_json
