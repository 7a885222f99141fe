"""What today's views read of a room's timeline (the model is pyapp.client.timeline_model).

Until the views show gaps, they see what they saw before the model: the messages after the
latest gap (the part that is contiguous with now), deleted ones as their placeholder, then the
local echoes. Every msgtype is a message: one the view has no special rendering for shows its
`body` (the spec's fallback), images and files included until they get their own.
"""

from __future__ import annotations

from .timeline_model import FAILED, PENDING, SENT, Gap, Message, TimelineModel

__all__ = ["FAILED", "PENDING", "SENT", "Message", "Timeline"]

# Events a room holds before the oldest go (and become a gap to load again): enough for a
# long scroll back, so a new message does not cut off what the user is reading.
HELD_EVENTS = 2000


class Timeline(TimelineModel):
    def __init__(self, limit: int = HELD_EVENTS):
        super().__init__(limit)

    _shown: tuple[int, list[Message], list[Message]] = (-1, [], [])

    def _split(self) -> tuple[list[Message], list[Message]]:
        if self._shown[0] != self.version:
            confirmed: list[Message] = []
            local: list[Message] = []
            for item in self.items():
                if isinstance(item, Gap):
                    confirmed.clear()  # what is above a gap is not contiguous with now
                elif isinstance(item, Message):
                    (confirmed if item.key not in self._local else local).append(item)
            self._shown = (self.version, confirmed, local)
        return self._shown[1], self._shown[2]

    @property
    def confirmed(self) -> list[Message]:
        return self._split()[0]

    @property
    def local(self) -> list[Message]:
        """Local echoes, in send order."""
        return self._split()[1]

    @property
    def messages(self) -> list[Message]:
        confirmed, local = self._split()
        return confirmed + local
