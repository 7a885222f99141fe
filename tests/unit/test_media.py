"""Media content parsing, safe file names, sizes and upload checks (pyapp.client.media)."""

from __future__ import annotations

import pytest

from pyapp.client import media
from pyapp.client.media import FILE, IMAGE, Media


def image(**over):
    content = {"msgtype": "m.image", "body": "cat.png", "url": "mxc://example.org/abc123",
               "info": {"mimetype": "image/png", "size": 2048, "w": 800, "h": 600}}
    content.update(over)
    return content


def test_an_ordinary_image():
    m = media.media_of(image())
    assert m == Media(IMAGE, "cat.png", "mxc://example.org/abc123", "image/png", 2048, 800, 600)
    assert m.inline_image and m.problem is None


@pytest.mark.parametrize("url", ["https://evil.example/cat.png", "mxc://example.org",
                                 "mxc://example.org/a/b", "mxc://exa mple.org/x",
                                 "mxc://example.org/../x", None, 42, "", "MXC://example.org/x"])
def test_an_address_that_is_not_mxc_is_never_used(url):
    m = media.media_of(image(url=url))
    assert m.mxc is None
    assert "not a Matrix media address" in m.problem
    assert media.download_path(url) is None and media.thumbnail_path(url) is None


def test_missing_or_broken_info_leaves_sizes_unknown():
    for info in (None, "big", [], {"w": "800", "h": 600, "size": -3, "mimetype": 7}):
        content = image()
        if info is None:
            del content["info"]
        else:
            content["info"] = info
        m = media.media_of(content)
        assert (m.width, m.height, m.size, m.mimetype) == (None, None, None, None)
        assert m.mxc == "mxc://example.org/abc123" and m.inline_image


@pytest.mark.parametrize("w,h", [(0, 0), (100000, 100000), (800, 0), (True, 5), (-1, 10)])
def test_impossible_dimensions_are_unknown_and_get_the_default_box(w, h):
    m = media.media_of(image(info={"w": w, "h": h}))
    assert (m.width, m.height) == (None, None)
    assert media.display_box(m.width, m.height) == (media.BOX_WIDTH, media.BOX_HEIGHT)


def test_display_box_scales_down_and_keeps_a_sliver_visible():
    assert media.display_box(800, 600) == (320, 240)
    assert media.display_box(100, 50) == (100, 50)
    assert media.display_box(16000, 10) == (320, 20)  # a line, not invisible
    assert media.display_box(10, 16000) == (26, 240)


@pytest.mark.parametrize("name,safe", [
    ("../../etc/passwd", "passwd"),
    ("C:\\Users\\me\\report.pdf", "report.pdf"),
    ("photo\u202egpj.exe", "photogpj.exe"),
    ("in\u2066visible\u2069\u200f.txt", "invisible.txt"),
    ("a\x00b\nc.txt", "ab c.txt"),
    (".bashrc", "bashrc"),
    ("/", "file"),
    ("", "file"),
    (None, "file"),
    ("   spaced    name .png ", "spaced name .png"),
    ("ok name (1).tar.gz", "ok name (1).tar.gz"),
])
def test_safe_filename(name, safe):
    assert media.safe_filename(name) == safe


def test_long_names_keep_their_extension():
    name = media.safe_filename("x" * 500 + ".jpeg")
    assert len(name) <= media.MAX_NAME and name.endswith("….jpeg")


def test_the_shown_name_is_the_safe_one_and_filename_beats_a_caption():
    m = media.media_of(image(body="look at this!", filename="../cat\u202e.png"))
    assert m.name == "cat.png"
    assert media.media_of(image(body="dir/x.png")).name == "x.png"


def test_other_msgtypes_are_not_media_and_other_kinds_are():
    assert media.media_of({"msgtype": "m.text", "body": "hi"}) is None
    assert media.media_of("junk") is None
    for kind in ("m.file", "m.video", "m.audio"):
        m = media.media_of({"msgtype": kind, "body": "x.bin", "url": "mxc://s/m"})
        assert m.kind == kind and not m.inline_image


def test_an_svg_or_unknown_image_type_is_offered_as_a_file():
    assert not media.media_of(image(info={"mimetype": "image/svg+xml"})).inline_image
    assert media.media_of(image(info={"mimetype": "image/webp"})).inline_image


ENCRYPTED_FILE = {"url": "mxc://s/m", "v": "v2", "iv": "+SMvoCcQ6qEAAAAAAAAAAA",
                  "hashes": {"sha256": "Zw7mTF3q227A0sb118mabH7Wow+Pk0hqoXcV6kYFr5Y"},
                  "key": {"kty": "oct", "key_ops": ["decrypt", "encrypt"], "alg": "A256CTR",
                          "k": "Od-752Okg6yNqVp7cUYkPrjvVXoRlGqBbecl0QXPKwM", "ext": True}}


def test_an_encrypted_attachment_is_shown_from_its_file_with_its_key():
    m = media.media_of({"msgtype": "m.image", "body": "x.png", "file": ENCRYPTED_FILE,
                        "info": {"mimetype": "image/png", "thumbnail_url": "mxc://s/t"}})
    assert m.mxc == "mxc://s/m" and m.problem is None and m.thumbnail_mxc is None
    assert m.file == {k: v for k, v in ENCRYPTED_FILE.items() if k != "url"}
    sent = media.with_file({"msgtype": "m.file", "body": "a", "om.local": True}, "mxc://s/m",
                           {k: v for k, v in ENCRYPTED_FILE.items() if k != "url"})
    assert sent == {"msgtype": "m.file", "body": "a", "file": ENCRYPTED_FILE}
    assert not media.needs_upload({**sent, "om.local": True})


@pytest.mark.parametrize("change", [
    {"url": "https://evil.example/x"}, {"v": "v1"}, {"iv": 5}, {"hashes": {}},
    {"key": {**ENCRYPTED_FILE["key"], "alg": "A128CBC"}}, {"key": "k"},
    {"iv": "not base64 !"}])
def test_encrypted_attachments_with_unusable_details_say_so(change):
    m = media.media_of({"msgtype": "m.image", "body": "x.png",
                        "file": {**ENCRYPTED_FILE, **change}})
    assert m.mxc is None and "encryption details are not valid" in m.problem
    assert media.media_of({"msgtype": "m.file", "body": "x", "file": "nope"}).problem


def test_paths_use_authenticated_media_and_escape():
    assert media.download_path("mxc://example.org:8448/abc_-1") == \
        "/_matrix/client/v1/media/download/example.org%3A8448/abc_-1"
    assert media.download_path("mxc://s/m", "a b/c.png") == \
        "/_matrix/client/v1/media/download/s/m/a%20b%2Fc.png"
    assert media.thumbnail_path("mxc://s/m") == \
        "/_matrix/client/v1/media/thumbnail/s/m?width=640&height=480&method=scale"


def test_sizes_for_people():
    assert media.size_text(1) == "1 byte"
    assert media.size_text(1023) == "1023 bytes"
    assert media.size_text(1536) == "1.5 KB"
    assert media.size_text(50 * 1024 * 1024) == "50 MB"
    assert media.size_text(None) == ""


def test_upload_checks():
    assert media.upload_limit({"m.upload.size": 1000}) == 1000
    assert media.upload_limit({}) is None and media.upload_limit("x") is None
    assert media.upload_problem("a.bin", 10, 1000) is None
    assert media.upload_problem("a.bin", 10, None) is None
    assert "empty" in media.upload_problem("a.bin", 0, 1000)
    too_big = media.upload_problem("a.bin", 3 * 1024 * 1024, 2 * 1024 * 1024)
    assert too_big == "“a.bin” is 3.0 MB; this server accepts files up to 2.0 MB."


def test_upload_content_then_url():
    content = media.upload_content("../shots/cat.PNG", "image/png", 10, 800, 600)
    assert content["msgtype"] == IMAGE and content["body"] == "cat.PNG"
    assert content["info"] == {"mimetype": "image/png", "size": 10, "w": 800, "h": 600}
    assert media.needs_upload(content)
    m = media.media_of(content)
    assert m.mxc is None and m.problem is None  # uploading, not broken
    sent = media.with_url(content, "mxc://s/m")
    assert "om.local" not in sent and sent["url"] == "mxc://s/m"
    assert not media.needs_upload(sent)
    assert media.upload_content("notes", None, 5)["msgtype"] == FILE
    assert media.upload_content("clip.mp4", "video/mp4", 5)["msgtype"] == "m.video"
    assert "w" not in media.upload_content("a.png", "image/png", 5, 0, 0)["info"]


def test_avatar_paths_only_for_mxc():
    assert media.avatar_path("mxc://s/a") == \
        "/_matrix/client/v1/media/thumbnail/s/a?width=96&height=96&method=crop"
    for url in ("https://evil.example/a.png", None, 3, "mxc://s"):
        assert media.avatar_path(url) is None


def test_avatars_are_read_from_member_and_room_state():
    from pyapp.client.rooms import RoomList

    rooms = RoomList("@me:hs")
    member = {"type": "m.room.member", "state_key": "@bob:hs", "sender": "@bob:hs",
              "event_id": "$m", "content": {"membership": "join", "displayname": "Bob",
                                            "avatar_url": "mxc://hs/bob"}}
    avatar = {"type": "m.room.avatar", "state_key": "", "sender": "@bob:hs",
              "event_id": "$a", "content": {"url": "mxc://hs/room"}}
    rooms.apply_sync({"rooms": {"join": {"!r:hs": {"state": {"events": [member, avatar]}}}}})
    assert rooms.rooms["!r:hs"].avatar_url == "mxc://hs/room"
    assert rooms.avatar_of("@bob:hs") == "mxc://hs/bob"
    assert rooms.avatar_of("@carol:hs") is None
    changed = dict(member, event_id="$m2", content={"membership": "join", "displayname": "Bob"})
    rooms.apply_sync({"rooms": {"join": {"!r:hs": {"timeline": {"events": [changed]}}}}})
    assert rooms.avatar_of("@bob:hs") is None  # removed: the initials again
