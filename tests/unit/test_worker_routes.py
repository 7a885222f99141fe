"""Routing between Synapse's main process and its generic workers, and the configuration the
processes share (pure logic: no process started)."""

import pytest
import yaml

from pyapp.server import worker_routes
from pyapp.server.synapse import (Synapse, SynapseOptions, postgres_database_config,
                                  redis_config)

ROOM = "/_matrix/client/v3/rooms/%21abc%3Alocalhost"


@pytest.mark.parametrize("method,path", [
    ("GET", "/_matrix/client/v3/sync"),
    ("GET", "/_matrix/client/r0/sync"),
    ("GET", "/_matrix/client/v3/events"),
    ("GET", "/_matrix/client/versions"),
    ("GET", ROOM + "/messages"),
    ("GET", ROOM + "/state"),
    ("GET", ROOM + "/state/m.room.name/"),
    ("GET", ROOM + "/state/m.room.member/%40bob%3Alocalhost"),
    ("GET", ROOM + "/members"),
    ("GET", ROOM + "/joined_members"),
    ("GET", ROOM + "/context/%24ev"),
    ("GET", ROOM + "/event/%24ev"),
    ("GET", "/_matrix/client/v1/rooms/%21abc%3Alocalhost/relations/%24ev"),
    ("GET", "/_matrix/client/v3/joined_rooms"),
    ("GET", "/_matrix/client/v3/directory/room/%23event-x%3Alocalhost"),
    ("GET", "/_matrix/client/v3/profile/%40bob%3Alocalhost"),
    ("GET", "/_matrix/client/v3/account/whoami"),
    ("GET", "/_matrix/client/v3/pushrules/"),
    ("POST", "/_matrix/client/v3/user/%40bob%3Alocalhost/filter"),
    ("GET", "/_matrix/client/v3/user/%40bob%3Alocalhost/filter/7"),
    ("POST", "/_matrix/client/v3/keys/query"),
    ("POST", "/_matrix/client/v3/search"),
])
def test_sync_and_client_reads_go_to_a_worker(method, path):
    assert worker_routes.for_worker(method, path)
    assert worker_routes.choose(method, path, "Bearer t", workers=1) == 0


@pytest.mark.parametrize("method,path", [
    ("PUT", ROOM + "/send/m.room.message/txn1"),
    ("PUT", ROOM + "/state/m.room.name/"),
    ("POST", ROOM + "/join"),
    ("POST", ROOM + "/invite"),
    ("POST", ROOM + "/leave"),
    ("POST", ROOM + "/receipt/m.read/%24ev"),
    ("PUT", ROOM + "/typing/%40bob%3Alocalhost"),
    ("POST", "/_matrix/client/v3/join/%23event-x%3Alocalhost"),
    ("POST", "/_matrix/client/v3/createRoom"),
    ("POST", "/_matrix/client/v3/login"),
    ("POST", "/_matrix/client/v3/logout"),
    ("POST", "/_matrix/client/v3/refresh"),
    ("POST", "/_matrix/client/v3/keys/upload"),
    ("POST", "/_matrix/client/v3/keys/claim"),
    ("PUT", "/_matrix/client/v3/sendToDevice/m.room.encrypted/txn2"),
    ("PUT", "/_matrix/client/v3/profile/%40bob%3Alocalhost/displayname"),
    ("GET", "/_matrix/client/v3/user/%40bob%3Alocalhost/account_data/m.direct"),
    ("GET", "/_matrix/media/v3/download/localhost/abc"),
    ("GET", "/_matrix/client/v3/syncx"),
    ("GET", "/_matrix/client/v3/sync/extra"),
])
def test_writes_and_everything_else_go_to_the_main_process(method, path):
    assert not worker_routes.for_worker(method, path)
    assert worker_routes.choose(method, path, "Bearer t", workers=3) is None


def test_without_workers_everything_goes_to_the_main_process():
    assert worker_routes.choose("GET", "/_matrix/client/v3/sync", "Bearer t", workers=0) is None


def test_with_several_workers_a_room_and_a_user_stick_to_one_worker():
    tokens = [f"Bearer token{i}" for i in range(40)]
    by_token = {t: worker_routes.choose("GET", "/_matrix/client/v3/sync", t, 3) for t in tokens}
    assert set(by_token.values()) == {0, 1, 2}  # spread
    assert all(worker_routes.choose("GET", "/_matrix/client/v3/sync", t, 3) == w
               for t, w in by_token.items())
    # One room's pagination lands on one worker whoever asks.
    rooms = {worker_routes.choose("GET", ROOM + "/messages", t, 3) for t in tokens}
    assert len(rooms) == 1
    assert worker_routes.choose("GET", ROOM + "/context/%24e", "Bearer x", 3) == rooms.pop()


def test_database_and_redis_urls_become_synapse_sections():
    assert postgres_database_config("postgresql://syn:p%40ss@db.internal:5433/synapse"
                                    "?sslmode=require") == {
        "name": "psycopg2",
        "args": {"dbname": "synapse", "user": "syn", "password": "p@ss",
                 "host": "db.internal", "port": 5433, "sslmode": "require",
                 "cp_min": 1, "cp_max": 10},
    }
    assert redis_config("redis://:secret@127.0.0.1:6380/2") == {
        "enabled": True, "host": "127.0.0.1", "port": 6380, "password": "secret", "dbid": 2}
    with pytest.raises(ValueError, match="PostgreSQL"):
        postgres_database_config("sqlite:///x.db")
    with pytest.raises(ValueError, match="Redis"):
        redis_config("127.0.0.1:6379")


def test_workers_need_postgres_and_redis(tmp_path):
    with pytest.raises(ValueError, match="PostgreSQL database and Redis"):
        Synapse(SynapseOptions(data_dir=tmp_path, workers=1, redis="redis://127.0.0.1:1"))
    with pytest.raises(ValueError, match="PostgreSQL database and Redis"):
        Synapse(SynapseOptions(data_dir=tmp_path, workers=1,
                               database="postgresql://u@127.0.0.1/db"))


def test_worker_layout_configuration(tmp_path):
    hs = Synapse(SynapseOptions(data_dir=tmp_path, port=18008, workers=2,
                                database="postgresql://u@127.0.0.1:5432/synapse",
                                redis="redis://127.0.0.1:6379", replication_port=19093,
                                worker_ports=[18101, 18102]))
    shared = hs.overrides()
    assert shared["database"]["name"] == "psycopg2"
    assert shared["redis"] == {"enabled": True, "host": "127.0.0.1", "port": 6379}
    assert shared["instance_map"] == {"main": {"host": "127.0.0.1", "port": 19093}}
    client, replication = shared["listeners"]
    assert client["port"] == 18008 and client["resources"][0]["names"] == ["client"]
    assert replication["port"] == 19093
    assert replication["resources"][0]["names"] == ["replication", "metrics"]
    assert shared["worker_replication_secret"]
    assert hs.worker_urls == ["http://127.0.0.1:18101", "http://127.0.0.1:18102"]

    second = hs.worker_config(1)
    assert second["worker_app"] == "synapse.app.generic_worker"
    assert second["worker_name"] == "generic_worker2"
    assert second["worker_listeners"][0]["port"] == 18102
    yaml.safe_dump(second)  # written as YAML next to homeserver.yaml


def test_single_process_configuration_is_unchanged(tmp_path):
    shared = Synapse(SynapseOptions(data_dir=tmp_path, port=18008)).overrides()
    assert "database" not in shared and "redis" not in shared and "instance_map" not in shared
    assert [l["port"] for l in shared["listeners"]] == [18008]


def test_serve_starts_the_worker_layout_only_with_postgres_and_redis(capsys):
    import serve

    with pytest.raises(SystemExit):
        serve.parse_args(["--synapse-workers", "1", "--redis", "redis://127.0.0.1:6379"])
    assert "needs --synapse-database" in capsys.readouterr().err
    options = serve.parse_args(["--synapse-workers", "2",
                                "--synapse-database", "postgresql://u@127.0.0.1/synapse",
                                "--redis", "redis://127.0.0.1:6379"])
    assert (options.synapse_workers, options.synapse_database, options.redis_url) == (
        2, "postgresql://u@127.0.0.1/synapse", "redis://127.0.0.1:6379")
