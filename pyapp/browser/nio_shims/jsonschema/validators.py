"""Validator classes nio can name and extend at import, never run."""


class Draft4Validator:
    VALIDATORS: dict = {"properties": None}

    def __init__(self, *args, **kwargs):
        raise RuntimeError(
            "jsonschema is not available in the browser: nio's schemas are checked by compiled "
            "code (pyapp.client.nio_validators); a schema outside nio.schemas.Schemas cannot be")


def extend(validator, validators=(), version=None, type_checker=None, format_checker=None):
    return type(f"Extended{validator.__name__}", (validator,),
                {"VALIDATORS": {**validator.VALIDATORS, **dict(validators)}})


class FormatChecker:
    def __init__(self, formats=None):
        self.checkers: dict = {}

    def checks(self, format, raises=()):
        def register(func):
            self.checkers[format] = (func, raises)
            return func
        return register
