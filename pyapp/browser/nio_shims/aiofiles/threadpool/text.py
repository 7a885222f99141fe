class AsyncTextIOWrapper:
    """Named by nio's type checks; no instance exists in the browser."""
