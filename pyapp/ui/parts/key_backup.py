"""What the member sees of the key backup (pyapp.client.key_backup), in words that need no
knowledge of keys: the recovery key shown once when encryption is set up (with a download and
"I have saved it"), the question for it on a new browser (or skip, then what cannot be read
yet and a way back), and a wrong key's error. The service's crypto session holds the state;
this only words it."""

from __future__ import annotations

from dataclasses import dataclass

from pyapp.client import key_backup as kb

SHOW_TITLE = "Save your recovery key"
SHOW_TEXT = ("Your messages in encrypted chats are backed up, locked with this recovery key. "
             "You will need it to read them when you sign in on another browser or device. "
             "It is shown only this once: download it or copy it somewhere safe, like a "
             "password manager.")
ASK_TITLE = "Read your earlier encrypted messages"
ASK_TEXT = ("You signed in on a new browser. To read messages from before, enter the "
            "recovery key you saved when encryption was set up.")
SKIPPED_TEXT = ("Encrypted messages sent before you signed in on this browser can't be read "
                "here until you enter your recovery key. New messages can be read as usual.")
RESTORING_TEXT = "Unlocking your earlier messages…"
CREATING_TEXT = "Making a new backup…"
START_OVER_TITLE = "Start a new backup without the recovery key?"
START_OVER_TEXT = ("Encrypted messages sent before now will stay unreadable on this browser "
                   "and on any browser you sign in to later. New messages will be backed up "
                   "with a new recovery key. If you might still find your recovery key, "
                   "cancel and look for it first.")
# In place of "Waiting for this message's key" for what was sent before this browser signed in.
IN_BACKUP_TEXT = ("Sent before you signed in on this browser: enter your recovery key to "
                  "read it.")
FILE_NAME = "chat-recovery-key.txt"


@dataclass
class KeyBackupView:
    mode: str  # show | ask | restoring | skipped | start_over | creating
    title: str
    text: str
    recovery_key: str | None = None
    file_text: str | None = None  # what "Download" saves
    error: str | None = None
    # Messages sent before this (in ms) that still wait for their key are in the backup.
    locked_before: int | None = None


def key_backup_view(backup, starting_over: bool = False) -> KeyBackupView | None:
    """The panel for a KeyBackup (None: nothing to show); `starting_over`: the member said
    the recovery key is lost and is asked to confirm a new backup."""
    if backup is None:
        return None
    if starting_over and backup.state in (kb.ASK_KEY, kb.SKIPPED):
        return KeyBackupView("start_over", START_OVER_TITLE, START_OVER_TEXT,
                             locked_before=backup.device_created_ms)
    if backup.state == kb.SHOW_KEY and backup.recovery_key:
        return KeyBackupView("show", SHOW_TITLE, SHOW_TEXT, recovery_key=backup.recovery_key,
                             file_text=kb.recovery_key_file(backup.recovery_key, backup.user_id))
    before = backup.device_created_ms
    if backup.state == kb.ASK_KEY:
        return KeyBackupView("ask", ASK_TITLE, ASK_TEXT, error=backup.error,
                             locked_before=before)
    if backup.state == kb.RESTORING:
        return KeyBackupView("restoring", ASK_TITLE, RESTORING_TEXT, locked_before=before)
    if backup.state == kb.CREATING:
        return KeyBackupView("creating", START_OVER_TITLE, CREATING_TEXT, locked_before=before)
    if backup.state == kb.SKIPPED:
        return KeyBackupView("skipped", "", SKIPPED_TEXT, locked_before=before)
    return None


def mark_locked(items: list, view: KeyBackupView | None) -> list:
    """The timeline's items, with what waits for a key that is in the backup said so."""
    from dataclasses import replace

    from pyapp.client.timeline_model import WAITING_FOR_KEY

    from .timeline import MessageView

    if view is None or view.locked_before is None:
        return items
    return [replace(i, body=IN_BACKUP_TEXT) if isinstance(i, MessageView)
            and i.body == WAITING_FOR_KEY and 0 < i.ts < view.locked_before else i
            for i in items]
