"""The two exceptions nio catches, with the `message` it reads."""


class _Error(Exception):
    def __init__(self, message: str = "", **_details):
        super().__init__(message)
        self.message = message


class ValidationError(_Error):
    pass


class SchemaError(_Error):
    pass
