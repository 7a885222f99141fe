"""How media messages show in the timeline's view model (pyapp.ui.parts.media)."""

from __future__ import annotations

from pyapp.client.media import media_of
from pyapp.ui.parts.media import media_view


def test_a_picture_gets_its_box_and_authenticated_paths():
    view = media_view(media_of({"msgtype": "m.image", "body": "cat.png", "url": "mxc://s/m",
                                "info": {"w": 1600, "h": 800, "mimetype": "image/png",
                                         "size": 2048}}))
    assert view.picture and (view.width, view.height) == (320, 160)
    assert view.thumbnail.startswith("/_matrix/client/v1/media/thumbnail/s/m?")
    assert view.download == "/_matrix/client/v1/media/download/s/m/cat.png"
    assert (view.label, view.size_text, view.problem) == ("Image", "2.0 KB", None)


def test_a_bad_address_shows_the_problem_and_offers_nothing_to_fetch():
    view = media_view(media_of({"msgtype": "m.image", "body": "x.png",
                                "url": "https://evil.example/x.png"}))
    assert not view.picture and view.thumbnail is None and view.download is None
    assert "not a Matrix media address" in view.problem


def test_files_videos_and_uploads():
    file = media_view(media_of({"msgtype": "m.file", "body": "a/b.pdf", "url": "mxc://s/f"}))
    assert not file.picture and file.name == "b.pdf" and file.label == "File"
    video = media_view(media_of({"msgtype": "m.video", "body": "v.mp4", "url": "mxc://s/v",
                                 "info": {"thumbnail_url": "mxc://s/t"}}))
    assert video.picture and "/thumbnail/s/t?" in video.thumbnail and video.download
    uploading = media_view(media_of({"msgtype": "m.image", "body": "p.png", "om.local": True,
                                     "info": {"mimetype": "image/png"}}), 0.426, "blob:x")
    assert uploading.picture and uploading.local_url == "blob:x"
    assert uploading.progress_percent == 43 and uploading.download is None


def test_the_room_list_says_a_file_was_sent_under_its_safe_name():
    from pyapp.client.rooms import Room
    from pyapp.ui.parts.rooms import preview_text

    room = Room("!r")
    room.members = {"@bob:hs": "Bob"}
    room.timeline.apply_sync({"events": [{
        "type": "m.room.message", "sender": "@bob:hs", "event_id": "$1",
        "origin_server_ts": 1, "content": {"msgtype": "m.image", "url": "mxc://s/m",
                                           "body": "../x/\u202eevil.png\nsecond line"}}]})
    assert preview_text(room, "@me:hs") == "Bob: Image: evil.png second line"
