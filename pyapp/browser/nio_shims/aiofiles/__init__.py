"""Stand-in for aiofiles in the browser (see pyapp/browser/nio_shims/README.md): no threads
to read files with; nio only opens files for uploads from a path and downloads to disk."""


def open(*args, **kwargs):
    raise RuntimeError("aiofiles is not available in the browser: pass bytes, not a file path")
