"""benchmarks/compare.py's pure parts: the wire-byte count and the section it rewrites."""

from __future__ import annotations



from benchmarks import compare


class FakeResponse:
    def __init__(self, from_service_worker=False):
        self.from_service_worker = from_service_worker


class FakeRequest:
    def __init__(self, url, size, start, end, from_sw=False):
        self.url, self._size, self.timing = url, size, {"startTime": start, "responseEnd": end}
        self._resp = FakeResponse(from_sw)

    def response(self):
        return self._resp

    def sizes(self):
        return {"responseBodySize": self._size}


def test_wire_bytes_split_at_ready_and_by_kind():
    reqs = [
        FakeRequest("http://h/event.html", 1000, 0, 10),
        FakeRequest("http://h/_matrix/client/v3/sync", 500, 5, 50),
        FakeRequest("http://h/font.woff2", 300, 90, 20),          # ends after ready (100)
        FakeRequest("http://h/_matrix/x", 700, 0, 1, from_sw=True),  # counted by the worker
    ]
    at_ready, settled = compare.wire_bytes(reqs, ready_epoch=100)
    assert at_ready == {"static": 1000, "api": 500, "requests": 2}
    assert settled == {"static": 1300, "api": 500, "requests": 3}


def test_append_replaces_only_the_latest_run(tmp_path, monkeypatch):
    doc = tmp_path / "docs" / "benchmarks.md"
    doc.parent.mkdir()
    doc.write_text(f"# B\n\n{compare.SECTION}\n\nold table\n\n## Next\n\nkept\n")
    monkeypatch.setattr(compare, "ROOT", tmp_path)
    compare.append("new table")
    assert doc.read_text() == f"# B\n\n{compare.SECTION}\n\nnew table\n\n## Next\n\nkept\n"


def test_table_has_every_client_and_the_floor():
    cold = {"ready_ms": 500.0, "heap": 2**20, "wasm": 0, "wire_ready": {"static": 2048, "api": 1024,
            "requests": 3}, "wire_settled": {"static": 4096, "api": 1024, "requests": 4}}
    results = {n: {"cold": [cold], "reload": [100.0], "latency": [50.0, 60.0], "echo": [2.0]}
               for n in ("ours", "jssdk")}
    text = compare.table(results, [40.0])
    assert "| ours | 500 (500-500) | 100 (100-100) | 3 (2+1) / 5 | 3 | 1.0 (1.0 + 0.0) |" in text
    assert "1.00x jssdk" in text
    assert "| floor (raw HTTP) |" in text


def test_comparison_pages_build_from_the_pinned_packages(tmp_path):
    compare.build_anchors(tmp_path)
    for f in ("jssdk.html", "jssdk.js", "hydrogen.html", "hydrogen.js", "hydrogen.css", "sw.js"):
        assert (tmp_path / f).stat().st_size > 0, f
