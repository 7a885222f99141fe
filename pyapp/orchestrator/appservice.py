"""The bot's application-service registration and the orchestrator's settings."""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from pyapp.identity import BOT_LOCALPART
from pyapp.server.process import write_private
from pyapp.orchestrator.policy import PowerPolicy, RoomSettings


@dataclass
class OrchestratorConfig:
    homeserver_url: str
    server_name: str
    as_token: str
    bot_localpart: str = BOT_LOCALPART
    admin_token: str | None = None
    policy: PowerPolicy = field(default_factory=PowerPolicy)
    rooms: RoomSettings = field(default_factory=RoomSettings)

    @property
    def bot_user_id(self) -> str:
        return f"@{self.bot_localpart}:{self.server_name}"


def registration(server_name: str, as_token: str | None = None, hs_token: str | None = None,
                 bot_localpart: str = BOT_LOCALPART) -> dict:
    """Registration content. Exclusive only for the bot and for the event/group aliases: users
    register and log in normally, and nobody but the bot can claim a platform room's alias."""
    sn = re.escape(server_name)
    return {
        "id": "openmeet-orchestrator",
        # The bot only sends; Synapse accepts a null URL and then pushes no transactions.
        "url": None,
        "as_token": as_token or secrets.token_urlsafe(32),
        "hs_token": hs_token or secrets.token_urlsafe(32),
        "sender_localpart": bot_localpart,
        "rate_limited": False,
        "namespaces": {
            "users": [{"exclusive": True, "regex": f"@{re.escape(bot_localpart)}:{sn}"}],
            "aliases": [{"exclusive": True, "regex": f"#(event|group)-.*:{sn}"}],
            "rooms": [],
        },
    }


def ensure_registration(path: Path, server_name: str,
                        bot_localpart: str = BOT_LOCALPART) -> dict:
    """Write the registration file once (tokens persist across restarts); return its content."""
    path = Path(path)
    if path.exists():
        reg = yaml.safe_load(path.read_text())
        if reg.get("sender_localpart") == bot_localpart:
            return reg
    reg = registration(server_name, bot_localpart=bot_localpart)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_private(path, yaml.safe_dump(reg, sort_keys=False))  # the tokens are the bot's keys
    return reg


def config_from_registration(reg: dict, homeserver_url: str, server_name: str,
                             policy_file: Path | None = None, **kw) -> OrchestratorConfig:
    policy = PowerPolicy()
    if policy_file:
        policy = PowerPolicy.from_dict(json.loads(Path(policy_file).read_text()))
    return OrchestratorConfig(homeserver_url=homeserver_url, server_name=server_name,
                              as_token=reg["as_token"], bot_localpart=reg["sender_localpart"],
                              policy=policy, **kw)
