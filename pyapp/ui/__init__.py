"""The chat component: view models (pure Python, testable under CPython) and the thin DOM
layer that renders them in the browser (view.py, mount.py; those two import `js`)."""
