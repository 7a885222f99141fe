"""The tenant boundary as the homeserver enforces it: pure decisions, no Synapse imports.

pyapp.server.tenant_guard feeds these from Synapse's module callbacks; tests drive them directly.

Who belongs where: a platform user ``@{slug}_{tenant}:{server}`` belongs to its tenant; every
other local account (operators, test accounts) belongs to no tenant, which is a group of its own;
the platform's bot belongs everywhere. A room belongs to the platform when the bot created it or
the bot wrote its metadata; such a room's tenant is the one the bot's metadata (or, failing that,
the room's platform alias) names. Any other room belongs to its creator's tenant.

The rules: into a platform room only the bot invites, and only users of the room's tenant join.
Elsewhere people invite and join only within their own tenant. Nobody but the bot writes
platform metadata or creates a room under a platform alias.
A decision is None when allowed, otherwise the reason shown to the refused client.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pyapp.identity import ROOM_METADATA_TYPE, parse_room_alias, parse_user_id


@dataclass(frozen=True)
class RoomFacts:
    """The state of a room the rules look at."""

    creator: str | None = None
    metadata: dict[str, Any] | None = None
    metadata_sender: str | None = None
    canonical_alias: str | None = None


@dataclass(frozen=True)
class RoomTenant:
    platform: bool
    tenant: str | None  # None: no tenant (or, for a platform room, an unreadable one)


@dataclass(frozen=True)
class TenantRules:
    bot_user_id: str
    server_name: str

    def user_tenant(self, user_id: str) -> str | None:
        """The tenant of a local platform user; None for anyone else (remote users included)."""
        parsed = parse_user_id(user_id)
        return parsed[1] if parsed and parsed[2] == self.server_name else None

    def room_tenant(self, facts: RoomFacts) -> RoomTenant:
        bot = self.bot_user_id
        if facts.metadata_sender == bot or facts.creator == bot:
            tenant = None
            if facts.metadata_sender == bot and isinstance(facts.metadata, dict):
                value = facts.metadata.get("tenant_id")
                tenant = value if isinstance(value, str) and value else None
            if tenant is None and facts.canonical_alias:
                alias = parse_room_alias(facts.canonical_alias)
                tenant = alias[2] if alias and alias[3] == self.server_name else None
            return RoomTenant(True, tenant)
        return RoomTenant(False, self.user_tenant(facts.creator) if facts.creator else None)

    def may_invite(self, inviter: str, invitee: str, room: RoomTenant) -> str | None:
        if inviter == self.bot_user_id:
            return None
        if room.platform:
            return "Only the platform invites people into its rooms."
        if not self._same_tenant(inviter, invitee, room):
            return "You can only invite people of your own organisation."
        return None

    def may_join(self, user_id: str, room: RoomTenant) -> str | None:
        if user_id == self.bot_user_id:
            return None
        tenant = self.user_tenant(user_id)
        if room.platform:
            if room.tenant is None or tenant != room.tenant:
                return "This room belongs to another organisation."
            return None
        if tenant != room.tenant:
            return "This room belongs to another organisation."
        return None

    def may_create_room(self, user_id: str, config: dict[str, Any]) -> str | None:
        if user_id == self.bot_user_id:
            return None
        alias_name = config.get("room_alias_name")
        if isinstance(alias_name, str) and self.is_platform_alias(
                f"#{alias_name}:{self.server_name}"):
            return "This address is reserved for the platform's rooms."
        for event in config.get("initial_state") or ():
            if isinstance(event, dict) and event.get("type") == ROOM_METADATA_TYPE:
                return "Only the platform describes its rooms."
        return None

    def may_create_alias(self, user_id: str, alias: str) -> str | None:
        if user_id != self.bot_user_id and self.is_platform_alias(alias):
            return "This address is reserved for the platform's rooms."
        return None

    def may_send_state(self, user_id: str, event_type: str) -> str | None:
        if event_type == ROOM_METADATA_TYPE and user_id != self.bot_user_id:
            return "Only the platform describes its rooms."
        return None

    def may_invite_by_address(self, inviter: str) -> str | None:
        """Invites by e-mail or phone: the invitee's tenant cannot be known, so only the bot."""
        if inviter == self.bot_user_id:
            return None
        return "Invitations by address are not available."

    def is_platform_alias(self, alias: str) -> bool:
        return parse_room_alias(alias) is not None

    def _same_tenant(self, inviter: str, invitee: str, room: RoomTenant) -> bool:
        tenant = self.user_tenant(inviter)
        return self.user_tenant(invitee) == tenant and room.tenant == tenant
