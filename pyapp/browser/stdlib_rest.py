"""The rest of the stdlib, fetched the first time something imports it.

pyapp.build ships in python_stdlib.zip only the modules a chat page imports (a first visit
downloads ~1 MB less); the others are in python_stdlib_rest.zip next to it, named by the
_stdlib_rest_index module the build puts in the first archive. RestFinder, last on
sys.meta_path, answers only for those names: the first such import downloads the archive once
(synchronously: an import cannot wait for a promise), stores it in the in-memory file system and
imports from it with zipimport; every other unknown name stays a plain ModuleNotFoundError
without a download.
"""

from __future__ import annotations

import sys
import zipimport
from collections.abc import Callable

ARCHIVE_PATH = "/lib/python_stdlib_rest.zip"


class RestFinder:
    def __init__(self, names: frozenset[str], load_archive: Callable[[], str]):
        self.names = names
        self._load_archive = load_archive
        self._archive: str | None = None
        self._loading = False

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in self.names or self._loading:
            return None
        if self._archive is None:
            self._loading = True  # an import while downloading must not download again
            try:
                self._archive = self._load_archive()
            finally:
                self._loading = False
        folder = "/".join([self._archive, *fullname.split(".")[:-1]])
        return zipimport.zipimporter(folder).find_spec(fullname)

    def invalidate_caches(self) -> None:
        pass


def _fetch_archive(url: str) -> str:
    """The archive written to ARCHIVE_PATH, by a synchronous XMLHttpRequest (bytes as
    x-user-defined characters: 0x00-0x7F as is, 0x80-0xFF as U+F780-U+F7FF, so the low byte of
    each UTF-16 unit is the byte; the utf_16_le codec is in the core archive)."""
    from js import XMLHttpRequest

    request = XMLHttpRequest.new()
    request.open("GET", url, False)
    request.overrideMimeType("text/plain; charset=x-user-defined")
    request.send(None)
    if request.status != 200:
        raise ImportError(f"the rest of the stdlib could not be loaded from {url}: "
                          f"HTTP {request.status}")
    data = request.responseText.encode("utf-16-le")[::2]
    with open(ARCHIVE_PATH, "wb") as f:
        f.write(data)
    return ARCHIVE_PATH


def install(base_url: str) -> RestFinder | None:
    """Put the finder on sys.meta_path (once); `base_url` is where python_stdlib.zip came from.
    Without an index (a full stdlib) there is nothing to fetch and nothing is installed."""
    for finder in sys.meta_path:
        if isinstance(finder, RestFinder):
            return finder
    try:
        import _stdlib_rest_index as index
    except ImportError:
        return None
    finder = RestFinder(index.NAMES, lambda: _fetch_archive(base_url + index.ARCHIVE))
    sys.meta_path.append(finder)
    return finder
