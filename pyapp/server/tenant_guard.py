"""A Synapse module that keeps every client, not only ours, inside its tenant.

Loaded by the homeserver config pyapp.server.synapse writes (``modules:``) with the platform
bot's user id. The decisions live in pyapp.server.tenant_rules; this file only reads the room's
state and turns a refusal into Synapse's answer (403 M_FORBIDDEN with the reason).

Server admins bypass Synapse's spam-checker callbacks (Synapse's own behaviour); so do events
written through the admin API. Federation is off in this deployment; were it on, remote users
would count as belonging to no tenant.
"""

from __future__ import annotations

from typing import Any

from synapse.api.errors import Codes
from synapse.module_api import NOT_SPAM, ModuleApi

from pyapp.identity import ROOM_METADATA_TYPE
from pyapp.server.tenant_rules import RoomFacts, RoomTenant, TenantRules

_ROOM_FACTS = [("m.room.create", ""), (ROOM_METADATA_TYPE, ""), ("m.room.canonical_alias", "")]


class TenantGuard:
    def __init__(self, config: dict[str, Any], api: ModuleApi):
        self.api = api
        self.rules = TenantRules(bot_user_id=config["bot_user_id"], server_name=api.server_name)
        api.register_spam_checker_callbacks(
            user_may_invite=self.user_may_invite,
            user_may_join_room=self.user_may_join_room,
            user_may_create_room=self.user_may_create_room,
            user_may_create_room_alias=self.user_may_create_room_alias,
            user_may_send_state_event=self.user_may_send_state_event,
            user_may_send_3pid_invite=self.user_may_send_3pid_invite,
        )

    @staticmethod
    def parse_config(config: dict[str, Any]) -> dict[str, Any]:
        bot = config.get("bot_user_id")
        if not isinstance(bot, str) or not bot.startswith("@") or ":" not in bot:
            raise ValueError("tenant_guard needs bot_user_id, the platform bot's Matrix id")
        return {"bot_user_id": bot}

    async def _room(self, room_id: str) -> RoomTenant:
        state = await self.api.get_room_state(room_id, _ROOM_FACTS)
        create = state.get(("m.room.create", ""))
        meta = state.get((ROOM_METADATA_TYPE, ""))
        alias = state.get(("m.room.canonical_alias", ""))
        return self.rules.room_tenant(RoomFacts(
            creator=create.sender if create else None,
            metadata=dict(meta.content) if meta else None,
            metadata_sender=meta.sender if meta else None,
            canonical_alias=alias.content.get("alias") if alias else None,
        ))

    @staticmethod
    def _answer(reason: str | None):
        return NOT_SPAM if reason is None else (Codes.FORBIDDEN, {"error": reason})

    async def user_may_invite(self, inviter: str, invitee: str, room_id: str):
        if inviter == self.rules.bot_user_id:  # no state read for the platform's own invites
            return NOT_SPAM
        return self._answer(self.rules.may_invite(inviter, invitee, await self._room(room_id)))

    async def user_may_join_room(self, user_id: str, room_id: str, is_invited: bool):
        return self._answer(self.rules.may_join(user_id, await self._room(room_id)))

    async def user_may_create_room(self, user_id: str, room_config: dict[str, Any]):
        return self._answer(self.rules.may_create_room(user_id, room_config))

    async def user_may_create_room_alias(self, user_id: str, room_alias: Any):
        return self._answer(self.rules.may_create_alias(user_id, room_alias.to_string()))

    async def user_may_send_state_event(self, user_id: str, room_id: str, event_type: str,
                                        state_key: str, content: dict[str, Any]):
        # This callback accepts only a bare code, no reason.
        return NOT_SPAM if self.rules.may_send_state(user_id, event_type) is None \
            else Codes.FORBIDDEN

    async def user_may_send_3pid_invite(self, inviter: str, medium: str, address: str,
                                        room_id: str):
        return self._answer(self.rules.may_invite_by_address(inviter))
