"""pycryptodome-compatible subset for Pyodide (see README.md next to this package)."""

__version__ = "3.23.0+pyapp.compat"
version_info = (3, 23, 0)
