"""Stand-in for jsonschema in the browser (see pyapp/browser/nio_shims/README.md).

matrix-nio checks what it parses against its schemas with jsonschema; in the page those checks
run as compiled code (pyapp.client.nio_validation, pyapp.client.nio_validators: every schema
of nio.schemas.Schemas), so jsonschema's interpreter is never called there. These are the names
nio imports and what its nio.schemas module body does with them (extend Draft4Validator, make a
FormatChecker and register two format checks); the exceptions are real. Validating through the
stand-in raises RuntimeError. Under CPython the real jsonschema is used.
"""

from .exceptions import SchemaError, ValidationError
from .validators import Draft4Validator, FormatChecker

__all__ = ["Draft4Validator", "FormatChecker", "SchemaError", "ValidationError"]
