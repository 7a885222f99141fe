"""Random bytes from the OS source; in Pyodide that is crypto.getRandomValues."""

import os


class _UrandomRNG:
    def read(self, n: int) -> bytes:
        return os.urandom(n)

    def flush(self) -> None:
        pass

    def reinit(self) -> None:
        pass

    def close(self) -> None:
        pass


def new(*args, **kwargs) -> _UrandomRNG:
    return _UrandomRNG()


def get_random_bytes(n: int) -> bytes:
    return os.urandom(n)


atfork = lambda: None  # noqa: E731  (pycryptodome API; nothing to reseed)
