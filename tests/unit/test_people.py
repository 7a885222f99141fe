"""The member panel's pure parts: initials, role badges from power levels, the order."""

from __future__ import annotations

from pyapp.ui.people import initials, member_order, power_level, role_badge

HOST, ORG, MOD, ANN = "@h:hs", "@o:hs", "@m:hs", "@a:hs"
LEVELS = {"users": {HOST: 75, ORG: 50, MOD: "50", "@bot:hs": 90}, "users_default": 0,
          "kick": 50}


def test_initials():
    assert initials("Ada Lovelace") == "AL"
    assert initials("bob") == "B"
    assert initials("@carol_demo:hs") == "CD"
    assert initials("  jean-luc  picard ") == "JP"
    assert initials("") == initials("   ") == initials("!!") == "?"
    assert initials("\u202eevil") == "E"  # a bidi override is not a letter
    assert initials("élodie") == "É"


def test_power_levels_with_the_specs_defaults():
    assert power_level(LEVELS, HOST) == 75 and power_level(LEVELS, MOD) == 50
    assert power_level(LEVELS, ANN) == 0
    assert power_level({}, ANN) == 0 and power_level(None, ANN) == 0
    assert power_level({"users_default": 10}, ANN) == 10
    assert power_level({"users": {ANN: True}}, ANN) == 0  # not a number
    assert power_level({"users": {ANN: "x"}}, ANN) == 0


def test_role_badges_use_the_platforms_words():
    assert [role_badge(LEVELS, u, "event") for u in (HOST, ORG, ANN)] == \
        ["host", "organizer", None]
    assert [role_badge(LEVELS, u, "group") for u in (HOST, ORG, ANN)] == \
        ["organizer", "moderator", None]
    assert role_badge(LEVELS, ORG, None) == "moderator"  # a room made elsewhere
    dm = {"users": {"@a:hs": 100, "@b:hs": 100}, "users_default": 0}
    assert role_badge(dm, "@a:hs", None) is None  # equals in a DM: no badge
    assert role_badge({}, ANN, "event") is None and role_badge("junk", ANN, None) is None


def test_hosts_come_first_then_by_name():
    people = [("zed", None), ("Amy", None), ("Org", "organizer"), ("Hal", "host"),
              ("mod", "moderator")]
    ordered = sorted(people, key=lambda p: member_order(p[1], p[0]))
    assert [p[0] for p in ordered] == ["Hal", "Org", "mod", "Amy", "zed"]
