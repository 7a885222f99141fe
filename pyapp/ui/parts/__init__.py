"""The chat component's view models, one per part of the screen.

Each part computes what it shows from plain inputs (a Room, the user id, its own state) and
holds what the user did to it; none touches the browser. pyapp.ui.viewmodel composes the
parts a mode shows (pyapp.ui.modes) into one ViewState and hands that to the view.
"""
