"""The chat component: view models (pure Python, testable under CPython) and the thin DOM
layer that renders them in the browser (view.py, mount.py, and boot.py, the Python half of the
<om-chat> loader web/chat/om-chat.js; those three import `js`)."""
