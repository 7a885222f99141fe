"""Pure decisions: role -> power level, the power-levels event to write, the membership actions
to take and the createRoom request. No I/O here, so every rule is unit-testable."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from pyapp.identity import ROOM_METADATA_TYPE, room_alias_localpart, room_metadata

BANNED = "banned"
EVENT_ROLES = ("creator", "organizer", "attendee", BANNED)
GROUP_ROLES = ("owner", "admin", "member", BANNED)
ROLES = {"event": EVENT_ROLES, "group": GROUP_ROLES}
DEFAULT_ROLE = {"event": "attendee", "group": "member"}
CREATOR_ROLE = {"event": "creator", "group": "owner"}

# Room versions in which creators have unbounded power and must not appear in
# m.room.power_levels users (MSC4289); Synapse rejects a power-levels event that lists them.
CREATOR_POWER_VERSIONS = frozenset({"12", "org.matrix.hydra.11"})


@dataclass(frozen=True)
class PowerPolicy:
    """Configurable role -> level mapping (the seed's defaults)."""

    levels: dict[str, int] = field(default_factory=lambda: {
        "event.creator": 75, "event.organizer": 50, "event.attendee": 0,
        "group.owner": 75, "group.admin": 50, "group.member": 0,
    })
    bot: int = 90
    platform_admin: int = 100
    # Levels needed for room actions: members cannot kick. Inviting takes the bot's level, so
    # the platform (attending, joining) stays the only way into a room; organizers included.
    moderation: int = 50
    locked_state: int = 100

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "PowerPolicy":
        base = cls()
        levels = dict(base.levels)
        levels.update({k: int(v) for k, v in d.get("levels", {}).items()})
        return cls(levels=levels, bot=int(d.get("bot", base.bot)),
                   platform_admin=int(d.get("platform_admin", base.platform_admin)))

    def level(self, kind: str, role: str, is_platform_admin: bool = False) -> int | None:
        """The power level for a role; None for a banned member."""
        if role not in ROLES.get(kind, ()):
            raise ValueError(f"invalid {kind} role {role!r}; use one of {', '.join(ROLES[kind])}")
        if role == BANNED:
            return None
        lvl = self.levels[f"{kind}.{role}"]
        return max(lvl, self.platform_admin) if is_platform_admin else lvl


@dataclass(frozen=True)
class Member:
    """A platform membership as the orchestrator needs it."""

    user_id: str
    role: str
    is_platform_admin: bool = False
    matrix_ready: bool = True


@dataclass(frozen=True)
class RoomState:
    """What the room holds now, distilled from its state events."""

    room_version: str
    creators: frozenset[str]
    power_levels: dict[str, Any]
    memberships: dict[str, tuple[str, str]]  # user_id -> (membership, sender)
    metadata: dict[str, Any] | None
    encryption: dict[str, Any] | None = None  # m.room.encryption content, if the room has it

    @classmethod
    def from_events(cls, events: Iterable[dict]) -> "RoomState":
        version, creators, pl, members, meta, encryption = "1", set(), {}, {}, None, None
        for e in events:
            t, sk, content = e.get("type"), e.get("state_key"), e.get("content") or {}
            if t == "m.room.create":
                version = str(content.get("room_version", "1"))
                creators = {e.get("sender")} | set(content.get("additional_creators") or [])
            elif t == "m.room.power_levels":
                pl = content
            elif t == "m.room.member":
                members[sk] = (content.get("membership"), e.get("sender"))
            elif t == ROOM_METADATA_TYPE and sk == "":
                meta = content
            elif t == "m.room.encryption" and sk == "":
                encryption = content
        return cls(version, frozenset(creators), pl, members, meta, encryption)

    @property
    def creators_unbounded(self) -> bool:
        return self.room_version in CREATOR_POWER_VERSIONS


def desired_levels(kind: str, members: Iterable[Member], policy: PowerPolicy) -> dict[str, int]:
    """Explicit levels for members above the default; banned users get none."""
    out = {}
    for m in members:
        lvl = policy.level(kind, m.role, m.is_platform_admin)
        if lvl is not None and lvl != 0:
            out[m.user_id] = lvl
    return out


def plan_power_levels(state: RoomState, desired: dict[str, int], bot: str, policy: PowerPolicy,
                      scope: set[str] | None = None) -> dict[str, Any] | None:
    """The new m.room.power_levels content, or None if nothing changes.

    ``scope``: users whose entries this change manages (None: every user, a full reconcile).
    Entries of other users are kept, so a per-user change never clobbers someone else's level
    even if the platform's view of them is stale.
    """
    current = state.power_levels or {}
    users = dict(current.get("users") or {})
    managed = set(users) | set(desired) if scope is None else scope
    for uid in managed:
        if uid == bot or uid in state.creators:
            continue
        if uid in desired:
            users[uid] = desired[uid]
        else:
            users.pop(uid, None)
    if state.creators_unbounded:
        for c in state.creators:
            users.pop(c, None)
    elif bot not in state.creators or users.get(bot, 0) < policy.bot:
        # The bot never demotes itself: a lower level could not be raised back.
        users[bot] = max(users.get(bot, 0), policy.bot)
    if users == (current.get("users") or {}):
        return None
    return {**current, "users": users}


@dataclass(frozen=True)
class Action:
    kind: str  # invite | kick | ban | unban
    user_id: str


def plan_memberships(state: RoomState, members: dict[str, Member], scope: Iterable[str],
                     bot: str, full: bool = False) -> tuple[list[Action], list[str]]:
    """Membership actions for the users in ``scope`` and the users left waiting for an account.

    In a full reconcile a member who left the room themselves is not pulled back in: leaving a
    chat is their choice while they still attend. A per-user change (they just attended) does
    re-invite them.
    """
    actions, waiting = [], []
    for uid in sorted(set(scope)):
        if uid == bot:
            continue
        current, sender = state.memberships.get(uid, (None, None))
        m = members.get(uid)
        if m is None:
            if current in ("invite", "join"):
                actions.append(Action("kick", uid))
            elif current == "ban" and sender == bot:
                actions.append(Action("unban", uid))
        elif m.role == BANNED:
            if current != "ban":
                actions.append(Action("ban", uid))
        elif current in ("invite", "join"):
            continue
        elif not m.matrix_ready:
            waiting.append(uid)
        elif current == "ban":
            if sender == bot:
                actions.append(Action("unban", uid))
                actions.append(Action("invite", uid))
        elif current == "leave" and sender == uid and full:
            continue
        else:
            actions.append(Action("invite", uid))
    return actions, waiting


MEGOLM = "m.megolm.v1.aes-sha2"


@dataclass(frozen=True)
class RoomSettings:
    room_version: str = "12"
    history_visibility: str = "invited"


def create_room_body(kind: str, slug: str, tenant: str, name: str, description: str,
                     created_by: str, initial_levels: dict[str, int], policy: PowerPolicy,
                     settings: RoomSettings, encrypted: bool = False) -> dict[str, Any]:
    """`encrypted`: the entity's "encrypted chat" setting; the room is end-to-end encrypted
    from its first event (m.room.encryption in the initial state, megolm)."""
    locked = policy.locked_state
    encryption = [{"type": "m.room.encryption", "state_key": "",
                   "content": {"algorithm": MEGOLM}}] if encrypted else []
    return {
        "preset": "private_chat",
        "visibility": "private",
        "room_version": settings.room_version,
        "room_alias_name": room_alias_localpart(kind, slug, tenant),
        "name": name,
        "topic": description,
        "initial_state": [
            {"type": "m.room.join_rules", "state_key": "", "content": {"join_rule": "invite"}},
            {"type": "m.room.guest_access", "state_key": "",
             "content": {"guest_access": "forbidden"}},
            {"type": "m.room.history_visibility", "state_key": "",
             "content": {"history_visibility": settings.history_visibility}},
            {"type": ROOM_METADATA_TYPE, "state_key": "",
             "content": room_metadata(kind, slug, tenant, created_by)},
            *encryption,
        ],
        "power_level_content_override": {
            "users": dict(initial_levels),
            "users_default": 0, "events_default": 0, "state_default": policy.moderation,
            "invite": policy.bot, "kick": policy.moderation, "ban": policy.moderation,
            "redact": policy.moderation,
            "events": {t: locked for t in (
                "m.room.power_levels", "m.room.join_rules", "m.room.history_visibility",
                "m.room.guest_access", "m.room.canonical_alias", "m.room.encryption",
                "m.room.tombstone", "m.room.server_acl", ROOM_METADATA_TYPE)},
        },
    }


def plan_encryption(state: RoomState, encrypted: bool) -> dict[str, Any] | None:
    """The m.room.encryption content to send when the entity's "encrypted chat" setting is on
    and its room is not encrypted yet (a room made before the setting was turned on); None
    otherwise. Never the other way: the spec has no turning encryption off, so a room that
    has it keeps it whatever the setting says."""
    if not encrypted or state.encryption:
        return None
    return {"algorithm": MEGOLM}


def audit_room(state: RoomState, kind: str, slug: str, tenant: str,
               settings: RoomSettings) -> list[str]:
    """Problems of an existing room's settings and metadata (empty: fine)."""
    problems = []
    if state.metadata is None:
        problems.append("legacy room without metadata: review manually")
    else:
        for k, v in (("entity_type", kind), ("entity_slug", slug), ("tenant_id", tenant)):
            if state.metadata.get(k) != v:
                problems.append(f"metadata {k}={state.metadata.get(k)!r}, expected {v!r}")
    return problems
