"""Keep nio's response validation, but build each schema's validator once.

nio validates every sync response and event against its JSON schemas (96-98 % of parsing
time) and constructs a fresh validator object for every call: thousands per sync. The
schemas are module constants, so one validator per schema gives the same checks for about
two thirds of the cost (measured in benchmarks/sync_parse.py).
"""

from __future__ import annotations

import nio.events.misc
import nio.responses
import nio.schemas

_validators: dict[int, tuple[dict, object]] = {}


def validate_json(instance, schema) -> None:
    entry = _validators.get(id(schema))
    if entry is None or entry[0] is not schema:
        entry = _validators[id(schema)] = (
            schema, nio.schemas.Validator(schema, format_checker=nio.schemas.Checker))
    entry[1].validate(instance)


def install() -> None:
    # The modules imported the function by name, so each binding is replaced.
    for module in (nio.schemas, nio.responses, nio.events.misc):
        module.validate_json = validate_json
