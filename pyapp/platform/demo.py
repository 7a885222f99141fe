"""Demo data: two tenants, users with passwords, one event and one group with their rooms."""

from __future__ import annotations

from pyapp.identity import matrix_localpart
from pyapp.platform.service import Platform
from pyapp.platform.store import Store

DEMO_PASSWORD = "demo-password"
DEMO_TENANT, OTHER_TENANT = "demo", "other"
USERS = {DEMO_TENANT: [("alice", "Alice Example", True), ("bob", "Bob Example", False),
                       ("carol", "Carol Example", False)],
         OTHER_TENANT: [("dave", "Dave Elsewhere", False)]}


def is_empty(store: Store) -> bool:
    return store.one("SELECT COUNT(*) AS n FROM tenants")["n"] == 0


def seed_demo(store: Store, password: str = DEMO_PASSWORD) -> Platform:
    """Create the demo platform data; Matrix work is queued in the outbox (the orchestrator
    creates the rooms and invites). Call register_demo_accounts first so invites go out at once.
    """
    p = Platform(store)
    for tenant, users in USERS.items():
        p.create_tenant(tenant, tenant.title())
        for slug, name, admin in users:
            p.create_user(tenant, slug, name, password=password, is_platform_admin=admin)
    p.create_entity(DEMO_TENANT, "event", "python-meetup", "Python Meetup",
                    "alice", "Monthly meetup: Python in the browser")
    p.create_entity(DEMO_TENANT, "group", "pythonistas", "Pythonistas", "alice",
                    "People who like Python")
    for kind, slug in (("event", "python-meetup"), ("group", "pythonistas")):
        p.join(DEMO_TENANT, kind, slug, "bob")
    p.create_entity(OTHER_TENANT, "event", "other-event", "Other tenant's event", "dave")
    return p


def register_demo_accounts(synapse, store: Store, password: str = DEMO_PASSWORD) -> None:
    """Password mode: create every platform user's Matrix account through the homeserver's
    shared-secret registration, then mark it so pending invites are applied."""
    p = Platform(store)
    for row in store.all("SELECT tenant, slug, display_name FROM users"):
        synapse.register_user(matrix_localpart(row["slug"], row["tenant"]), password,
                              displayname=row["display_name"])
        p.matrix_account_ready(row["tenant"], row["slug"])
