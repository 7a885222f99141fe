"""The operations CLI against a real Synapse: missing room ids, legacy rooms, reconcile."""

from __future__ import annotations

import json

import yaml

from pyapp.orchestrator.cli import main
from pyapp.platform.service import Platform
from pyapp.platform.store import Store

from .test_rooms import raw_state, setup_users, uid


def cli(capsys, db, hs, reg_file, *args) -> tuple[int, str, str]:
    rc = main(["--db", str(db), "--registration", str(reg_file), "--homeserver", hs.base_url,
               "--server-name", hs.server_name, "--admin-token", hs.admin_token, *args])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_cli_missing_and_legacy_rooms(tmp_path, capsys, orch_synapse, tenant):
    hs = orch_synapse
    db = tmp_path / "p.db"
    reg_file = tmp_path / "as.yaml"
    reg_file.write_text(yaml.safe_dump(hs.registration))
    store = Store.open(db)
    p = Platform(store)
    setup_users(p, hs, tenant, "alice", "bob")
    p.create_entity(tenant, "event", "good", "Good", "alice")
    p.create_entity(tenant, "event", "gone", "Gone", "alice")
    p.create_entity(tenant, "group", "legacy", "Legacy", "alice")
    p.join(tenant, "group", "legacy", "bob")
    # A room from the old system: no metadata, history we must keep.
    s, legacy = hs.request("POST", "/_matrix/client/v3/createRoom",
                           {"preset": "private_chat", "name": "old chat"},
                           token=hs.registration["as_token"])
    assert s == 200
    legacy_id = legacy["room_id"]
    store.execute("UPDATE entities SET matrix_room_id = ? WHERE slug = 'gone'",
                  ("!doesnotexist:localhost",))
    store.execute("UPDATE entities SET matrix_room_id = ? WHERE slug = 'legacy'", (legacy_id,))
    store.execute("DELETE FROM outbox WHERE entity_slug IN ('gone', 'legacy')")
    rc, out, err = cli(capsys, db, hs, reg_file, "--tenant", tenant, "reconcile", "--slug",
                       "good")
    assert rc == 0, out + err
    good_room = p.entity(tenant, "event", "good")["matrix_room_id"]

    rc, out, err = cli(capsys, db, hs, reg_file, "--tenant", tenant, "--json", "validate")
    rows = {r["slug"]: r["status"] for r in json.loads(out)}
    assert rows == {"good": "valid", "gone": "missing", "legacy": "valid"}
    assert "missing 1" in err

    rc, out, err = cli(capsys, db, hs, reg_file, "--tenant", tenant, "clear-missing")
    assert "would clear" in out and "dry run" in err
    assert p.entity(tenant, "event", "gone")["matrix_room_id"] == "!doesnotexist:localhost"
    rc, out, _ = cli(capsys, db, hs, reg_file, "--tenant", tenant, "clear-missing", "--apply")
    assert "cleared" in out
    assert p.entity(tenant, "event", "gone")["matrix_room_id"] is None

    rc, out, _ = cli(capsys, db, hs, reg_file, "--tenant", tenant, "--json", "audit", "--fix")
    audit = {r["slug"]: r for r in json.loads(out)}
    assert audit["legacy"]["legacy"] is True and "review" in audit["legacy"]["problems"][0]
    assert audit["good"]["problems"] == []
    # The legacy room is flagged, not guessed: no metadata added, nobody invited.
    ls = raw_state(hs, legacy_id)
    assert ("com.openmeet.room.metadata", "") not in ls
    assert ("m.room.member", uid("bob", tenant)) not in ls

    # Reconciling everything gives the cleared event a new room and leaves the others alone.
    rc, out, err = cli(capsys, db, hs, reg_file, "--tenant", tenant, "reconcile")
    assert rc == 1 and "does not match" in out  # the legacy room is refused, not touched
    assert p.entity(tenant, "event", "gone")["matrix_room_id"] not in (None,
                                                                       "!doesnotexist:localhost")
    assert p.entity(tenant, "event", "good")["matrix_room_id"] == good_room

    rc, out, _ = cli(capsys, db, hs, reg_file, "users-without-matrix")
    assert out == ""
    p.create_user(tenant, "newbie")
    rc, out, _ = cli(capsys, db, hs, reg_file, "users-without-matrix")
    assert f"{tenant}\tnewbie" in out

    rc = main(["--db", str(db), "--registration", str(tmp_path / "nope.yaml"), "validate"])
    assert rc == 2 and "registration" in capsys.readouterr().err
    rc = main(["--db", str(db), "--registration", str(reg_file), "--homeserver", hs.base_url,
               "--tenant", tenant, "reconcile", "--kind", "event", "--slug", "no-such"])
    assert rc == 2 and "no event 'no-such'" in capsys.readouterr().err
    store.close()
