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
    video = media_view(media_of({"msgtype": "m.video", "body": "v.avi", "url": "mxc://s/v",
                                 "info": {"thumbnail_url": "mxc://s/t",
                                          "mimetype": "video/x-msvideo"}}))
    assert video.picture and "/thumbnail/s/t?" in video.thumbnail and video.download
    assert video.player is None  # not a type browsers play: its picture, then the download
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


def test_videos_and_audio_browsers_play_get_a_player_fed_by_the_whole_file():
    video = media_view(media_of({"msgtype": "m.video", "body": "v.webm", "url": "mxc://s/v",
                                 "info": {"thumbnail_url": "mxc://s/t", "mimetype": "video/webm",
                                          "w": 640, "h": 360, "size": 5000}}))
    assert (video.player, video.label, video.picture) == ("video", "Video", False)
    assert video.download == "/_matrix/client/v1/media/download/s/v/v.webm"
    assert "/thumbnail/s/t?" in video.poster and (video.width, video.height) == (320, 180)
    audio = media_view(media_of({"msgtype": "m.audio", "body": "a.ogg", "url": "mxc://s/a",
                                 "info": {"mimetype": "audio/ogg"}}))
    assert (audio.player, audio.poster, audio.label) == ("audio", None, "Audio")
    unknown = media_view(media_of({"msgtype": "m.audio", "body": "a", "url": "mxc://s/a"}))
    assert unknown.player == "audio"  # the browser tries; it falls back to the file if not


def test_what_cannot_be_played_inline_is_a_file_to_download():
    def view(**content):
        return media_view(media_of({"msgtype": "m.video", "body": "v.mp4", **content}))
    too_big = view(url="mxc://s/v", info={"mimetype": "video/mp4", "size": 17 * 1024 * 1024})
    assert too_big.player is None and not too_big.picture and too_big.download
    assert view(url="mxc://s/v", info={"mimetype": "video/x-flv"}).player is None
    assert view(url="https://evil.example/v.mp4").player is None
    assert view(url="mxc://s/v", info={"mimetype": "video/mp4"}).player == "video"
    uploading = media_view(media_of({"msgtype": "m.video", "body": "v.mp4", "om.local": True,
                                     "info": {"mimetype": "video/mp4"}}), 0.5)
    assert uploading.player is None and uploading.progress_percent == 50


def test_an_encrypted_picture_is_the_whole_file_decrypted_not_a_server_thumbnail():
    from tests.unit.test_media import ENCRYPTED_FILE

    view = media_view(media_of({"msgtype": "m.image", "body": "cat.png", "file": ENCRYPTED_FILE,
                                "info": {"mimetype": "image/png", "w": 10, "h": 10}}))
    assert view.picture and view.problem is None
    assert view.thumbnail == view.download == "/_matrix/client/v1/media/download/s/m/cat.png"
    assert view.file["key"]["k"] == ENCRYPTED_FILE["key"]["k"] and view.mimetype == "image/png"
