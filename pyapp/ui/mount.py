"""Placeholder until the UI lands: the loader's entry points, proving the boot path works.

mount_all() enumerates the <om-chat> elements synchronously when called (the loader mounts
elements connected afterwards one by one with mount()).
"""


def mount_all() -> None:
    import js

    for element in js.document.querySelectorAll("om-chat"):
        mount(element)


def mount(element) -> None:
    element.textContent = "chat ready"
