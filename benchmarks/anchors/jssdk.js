// Comparison page for benchmarks/compare.py: matrix-js-sdk, password login on every load (no
// stored session, no crypto), one room's timeline as text and a composer. The harness decides
// when it is ready (latest message shown, composer enabled) with the same rule for every page.
import { createClient, ClientEvent, RoomEvent } from "matrix-js-sdk";

const params = new URLSearchParams(location.search);
const [hs, user, password, roomId] = ["hs", "user", "password", "room"].map((k) => params.get(k));
const log = document.getElementById("log");
const form = document.getElementById("form");
const composer = document.getElementById("composer");
const state = document.getElementById("state");

function line(event) {
    const content = event.getContent();
    if (event.getType() !== "m.room.message" || typeof content.body !== "string") return null;
    const li = document.createElement("li");
    li.className = "body";
    li.textContent = `${event.getSender()}: ${content.body}`;
    return li;
}

async function start() {
    const login = await createClient({ baseUrl: hs }).loginRequest({
        type: "m.login.password", identifier: { type: "m.id.user", user }, password,
    });
    const client = createClient({
        baseUrl: hs, accessToken: login.access_token, userId: login.user_id, deviceId: login.device_id,
    });
    const prepared = new Promise((resolve) => client.on(ClientEvent.Sync, (s) => s === "PREPARED" && resolve()));
    await client.startClient({ initialSyncLimit: 20, lazyLoadMembers: true });
    await prepared;
    const room = client.getRoom(roomId);
    if (!room) throw new Error(`not in room ${roomId}`);
    for (const event of room.getLiveTimeline().getEvents()) {
        const li = line(event);
        if (li) log.appendChild(li);
    }
    room.on(RoomEvent.Timeline, (event, _room, toStart, _removed, data) => {
        const li = !toStart && data && data.liveEvent ? line(event) : null;
        if (li) log.appendChild(li);
    });
    form.addEventListener("submit", (e) => {
        e.preventDefault();
        if (!composer.value) return;
        client.sendTextMessage(roomId, composer.value).catch((err) => { state.textContent = String(err); });
        composer.value = "";
    });
    composer.disabled = false;
    document.getElementById("send").disabled = false;
    state.textContent = login.user_id;
}

start().catch((err) => { state.textContent = "error: " + err; window.__error = String(err); });
