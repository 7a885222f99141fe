from . import ClientConnectionError, ClientError, ContentTypeError  # noqa: F401
