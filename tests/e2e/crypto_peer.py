"""An independent encrypted Matrix client for the end-to-end tests: CPython matrix-nio with its
e2e extra (vodozemac), syncing all the time on its own thread and event loop (Playwright's sync
API owns the test's thread). It shares no code with the browser's crypto."""

from __future__ import annotations

import asyncio
import io
import threading
import time
import urllib.request

from nio import AsyncClient, AsyncClientConfig, MegolmEvent, RoomEncryptedMedia, RoomMessageText


class NioPeer:
    def __init__(self, base_url: str, user: str, password: str, store_dir: str,
                 device_id: str | None = None):
        self.received: list[tuple[str, str, str]] = []  # (room id, sender, body)
        self.undecrypted: list[str] = []  # event ids nio could not decrypt
        self.files: list = []  # RoomEncryptedMedia events received
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="nio-peer",
                                        daemon=True)
        self._thread.start()
        self.client: AsyncClient | None = None
        self._task = None
        self.run(self._start(base_url, user, password, store_dir, device_id))

    def run(self, coro, timeout: float = 60):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def _start(self, base_url, user, password, store_dir, device_id):
        config = AsyncClientConfig(encryption_enabled=True, store_sync_tokens=True)
        # A device id given: a login as that device again (with a fresh store, new keys).
        self.client = AsyncClient(base_url, user, device_id=device_id, store_path=store_dir,
                                  config=config)
        response = await self.client.login(password, device_name="nio-peer")
        assert getattr(response, "access_token", None), response
        self.client.add_event_callback(self._on_text, RoomMessageText)
        self.client.add_event_callback(self._on_undecrypted, MegolmEvent)
        self.client.add_event_callback(self._on_file, RoomEncryptedMedia)
        await self.client.sync(timeout=0, full_state=True)
        if self.client.should_upload_keys:
            await self.client.keys_upload()
        self._task = asyncio.ensure_future(self.client.sync_forever(timeout=1000))

    async def _on_text(self, room, event) -> None:
        self.received.append((room.room_id, event.sender, event.body))

    async def _on_file(self, room, event) -> None:
        self.files.append(event)

    async def _on_undecrypted(self, room, event) -> None:
        self.undecrypted.append(event.event_id)

    @property
    def device_id(self) -> str:
        return self.client.device_id

    def knows_device(self, user_id: str, device_id: str) -> bool:
        async def check():
            return device_id in {d.id for d in self.client.device_store.active_user_devices(
                user_id)}
        return self.run(check())

    def wait_encrypted(self, room_id: str, timeout: float = 30) -> None:
        """nio's sync has seen the room and its m.room.encryption (before that, nio would
        send in the clear or refuse)."""
        async def known():
            room = self.client.rooms.get(room_id)
            return room is not None and room.encrypted
        deadline = time.monotonic() + timeout
        while not self.run(known()):
            if time.monotonic() > deadline:
                raise AssertionError(f"the nio peer never saw {room_id} encrypted")
            time.sleep(0.05)  # polling another thread's state

    def rotate(self, room_id: str) -> None:
        """Start a new Megolm session on the next send. nio shares a session only when it
        makes one: a device that appears later gets no key until the session rotates (a
        limitation of nio 0.26's OlmMachine.should_share_group_session, not of the spec)."""
        async def drop():
            self.client.olm.outbound_group_sessions.pop(room_id, None)
        self.run(drop())

    def send(self, room_id: str, text: str) -> str:
        async def send():
            response = await self.client.room_send(
                room_id, "m.room.message", {"msgtype": "m.text", "body": text},
                ignore_unverified_devices=True)
            assert getattr(response, "event_id", None), response
            return response.event_id
        return self.run(send())

    def send_file(self, room_id: str, data: bytes, name: str, mimetype: str,
                  msgtype: str = "m.image", info: dict | None = None) -> tuple[str, str]:
        """An attachment the way the spec has it in an encrypted room, encrypted by nio's own
        code (nio.crypto.attachments): (event id, mxc of the ciphertext)."""
        from nio.crypto.attachments import encrypt_attachment

        async def send():
            ciphertext, keys = encrypt_attachment(data)
            upload, _ = await self.client.upload(lambda *_: io.BytesIO(ciphertext),
                                                 filesize=len(ciphertext))
            assert getattr(upload, "content_uri", None), upload
            content = {"msgtype": msgtype, "body": name,
                       "info": {"mimetype": mimetype, "size": len(data), **(info or {})},
                       "file": {"url": upload.content_uri, **keys}}
            response = await self.client.room_send(room_id, "m.room.message", content,
                                                   ignore_unverified_devices=True)
            assert getattr(response, "event_id", None), response
            return response.event_id, upload.content_uri
        return self.run(send())

    def wait_for_file(self, name: str, timeout: float = 30) -> bytes:
        """The clear bytes of the encrypted attachment `name` someone sent (downloaded through
        the authenticated media API, decrypted by nio's code and checked against its hash)."""
        from nio.crypto.attachments import decrypt_attachment

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in list(self.files):
                if event.body == name:
                    server, media_id = event.url[len("mxc://"):].split("/", 1)
                    request = urllib.request.Request(
                        f"{self.client.homeserver}/_matrix/client/v1/media/download/"
                        f"{server}/{media_id}",
                        headers={"Authorization": f"Bearer {self.client.access_token}"})
                    with urllib.request.urlopen(request, timeout=30) as answer:
                        ciphertext = answer.read()
                    return decrypt_attachment(ciphertext, event.key["k"],
                                              event.hashes["sha256"], event.iv)
            time.sleep(0.05)  # polling a list another thread fills
        raise AssertionError(f"no encrypted file {name!r} reached the nio peer "
                             f"(undecrypted {self.undecrypted})")

    def join(self, room_id: str) -> None:
        async def join():
            response = await self.client.join(room_id)
            assert getattr(response, "room_id", None) == room_id, response
        self.run(join())

    def wait_for(self, text: str, timeout: float = 30) -> tuple[str, str, str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for item in list(self.received):
                if item[2] == text:
                    return item
            time.sleep(0.05)  # polling a list another thread fills; not a synchronisation sleep
        raise AssertionError(f"{text!r} did not reach the nio peer "
                             f"(got {self.received}, undecrypted {self.undecrypted})")

    def close(self) -> None:
        async def stop():
            if self._task is not None:
                self._task.cancel()
            await self.client.close()
        try:
            self.run(stop(), timeout=15)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(5)
