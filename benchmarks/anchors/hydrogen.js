// Comparison page for benchmarks/compare.py: hydrogen-view-sdk as its README embeds it
// (Platform, Client, RoomViewModel), mounting the SDK's RoomView (timeline + composer).
// Password login on every load, no crypto (no olm asset paths). The service worker is given
// because Client.startWithLogin calls platform.updateService, which exists only with one.
import {
    Platform, Client, LoadStatus, createNavigation, createRouter, RoomViewModel, RoomView,
    viewClassForTile, FeatureSet,
} from "hydrogen-view-sdk";
import "hydrogen-view-sdk/theme-element-light.css";

const params = new URLSearchParams(location.search);
const [hs, user, password, roomId] = ["hs", "user", "password", "room"].map((k) => params.get(k));
const app = document.getElementById("app");

async function start() {
    const platform = new Platform({
        container: app, config: {}, options: { development: false },
        assetPaths: { downloadSandbox: "download-sandbox.html", serviceWorker: "sw.js" },
    });
    const navigation = createNavigation();
    platform.setNavigation(navigation);
    await platform.init();
    const urlRouter = createRouter({ navigation, history: platform.history });
    const client = new Client(platform);
    const methods = await client.queryLogin(hs).result;
    client.startWithLogin(methods.password(user, password));
    await client.loadStatus.waitFor((s) =>
        s === LoadStatus.Ready || s === LoadStatus.Error || s === LoadStatus.LoginFailed).promise;
    if (client.loginFailure || client.loadError) throw new Error(String(client.loginFailure || client.loadError));
    const session = client.session;
    const room = session.rooms.get(roomId);
    if (!room) throw new Error(`not in room ${roomId}`);
    const features = await FeatureSet.load(platform.settingsStorage);
    const vm = new RoomViewModel({ room, ownUserId: session.userId, session, platform, urlRouter, navigation, features });
    app.appendChild(new RoomView(vm, viewClassForTile).mount());
    // load() resolves only after its 2 s unread-marker delay; the timeline shows before that.
    vm.load().catch((err) => { window.__error = String(err); });
}

start().catch((err) => { app.textContent = "error: " + err; window.__error = String(err); });
