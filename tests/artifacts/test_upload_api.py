"""PUT, HEAD and GET of artifact bytes over HTTP, against both blob backends.

Every rejection asserts its status and that nothing was written: no blob under a final
name, no partial file or incomplete multipart upload, nothing in the blob registry.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from tests.artifacts.conftest import nothing_written
from tests.artifacts.helpers import put_file, raw_request, store_artifact

DATA = os.urandom(200_000)
SHA = hashlib.sha256(DATA).hexdigest()

# (what, the path after /artifacts/ exactly as sent on the wire)
BAD_PATHS = [
    ("dot-dot", "model/../../etc/passwd"),
    ("dot-dot at the start", "../model/x"),
    ("percent-encoded dot-dot", "model/%2e%2e/%2e%2e/etc/passwd"),
    ("double percent-encoded dot-dot", "model/%252e%252e/x"),
    ("percent-encoded slash to an absolute path", "%2fetc/passwd"),
    ("NUL", "model/a%00b"),
    ("newline", "model/a%0ab"),
    ("escape sequence", "model/a%1b%5b31m"),
    ("DEL", "model/a%7f"),
    ("backslash traversal", "model/..%5c..%5cx"),
    ("fullwidth dots", "model/%ef%bc%8e%ef%bc%8e/x"),
    ("one-dot leaders", "model/%e2%80%a4%e2%80%a4/x"),
    ("division slash", "model/a%e2%88%95..%e2%88%95b"),
    ("fullwidth solidus", "model/..%ef%bc%8fx"),
    ("right-to-left override", "model/gpj.%e2%80%aeexe"),
    ("zero-width space", "model/a%e2%80%8bb"),
    ("invalid UTF-8", "model/x%c0%ae"),
    ("drive letter", "C:/model/x"),
    ("empty segment", "model//x"),
    ("dot segment", "model/./x"),
    ("no file part", "model"),
    ("too long", "model/" + "a" * 1100),
]


@pytest.mark.parametrize(("what", "path"), BAD_PATHS, ids=[case[0] for case in BAD_PATHS])
def test_a_bad_path_is_a_400_and_writes_nothing(api, what, path):
    status, _, body = raw_request(
        api.url, "PUT", f"/api/v1/runs/r1/artifacts/{path}", body=DATA, headers={"X-Runwatch-Sha256": SHA}
    )
    assert status == 400, (what, body)
    assert nothing_written(api, SHA) == []
    assert api.store.artifacts.blob_size(SHA) is None


@pytest.mark.parametrize(
    ("what", "header"),
    [("missing", None), ("not hex", "z" * 64), ("uppercase", SHA.upper()), ("short", SHA[:40])],
)
def test_a_missing_or_malformed_digest_is_a_400_and_writes_nothing(api, what, header):
    headers = {} if header is None else {"X-Runwatch-Sha256": header}
    status, _, _ = raw_request(api.url, "PUT", "/api/v1/runs/r1/artifacts/model/a.bin", body=DATA, headers=headers)
    assert status == 400, what
    assert nothing_written(api, SHA) == []


def test_bytes_that_do_not_match_their_digest_are_a_400_and_leave_nothing(api):
    wrong = hashlib.sha256(b"something else").hexdigest()
    status, body = put_file(api.url, "r1", "model/a.bin", DATA, sha256=wrong)
    assert status == 400 and "mismatch" in body["detail"]
    assert nothing_written(api, wrong) == [] and nothing_written(api, SHA) == []
    assert api.store.artifacts.blob_size(wrong) is None


def test_a_declared_size_past_the_limit_is_a_413_before_any_byte_is_read(serve_api):
    api = serve_api(artifact_max_bytes=100_000)
    status, body = put_file(api.url, "r1", "model/a.bin", DATA)
    assert status == 413, body
    assert nothing_written(api, SHA) == []


def test_a_streamed_body_past_the_limit_is_cut_off_with_413_and_leaves_nothing(serve_api):
    api = serve_api(artifact_max_bytes=3 << 20)
    data = os.urandom(10 << 20)
    sha = hashlib.sha256(data).hexdigest()
    pieces = (data[i : i + (1 << 20)] for i in range(0, len(data), 1 << 20))
    try:
        status, _, _ = raw_request(
            api.url,
            "PUT",
            "/api/v1/runs/r1/artifacts/model/big.bin",
            body=pieces,
            headers={"X-Runwatch-Sha256": sha, "Transfer-Encoding": "chunked"},
            chunked=True,
        )
    except (ConnectionError, OSError):
        status = 413  # the server may close before the client has sent everything; the state below is what counts
    assert status == 413
    assert nothing_written(api, sha) == []
    assert api.store.artifacts.blob_size(sha) is None


def test_an_upload_is_refused_before_its_body_without_a_writer_token(serve_api):
    api = serve_api(auth=True)
    _, viewer = api.store.tokens.create("viewer", "v", 0.0)
    status, _, _ = raw_request(
        api.url, "PUT", "/api/v1/runs/r1/artifacts/model/a.bin", body=DATA, headers={"X-Runwatch-Sha256": SHA}
    )
    assert status == 401
    status, _, _ = raw_request(
        api.url,
        "PUT",
        "/api/v1/runs/r1/artifacts/model/a.bin",
        body=DATA,
        headers={"X-Runwatch-Sha256": SHA, "Authorization": f"Bearer {viewer}"},
    )
    assert status == 403
    assert nothing_written(api, SHA) == []


def test_an_upload_is_stored_once_and_head_says_so(api):
    status, _, _ = raw_request(api.url, "HEAD", f"/api/v1/blobs/{SHA}")
    assert status == 404
    status, body = put_file(api.url, "r1", "model/a.bin", DATA)
    assert status == 201 and body == {"path": "model/a.bin", "sha256": SHA, "size": len(DATA), "created": True}
    status, body = put_file(api.url, "r2", "other/b.bin", DATA)
    assert status == 200 and body["created"] is False
    status, headers, _ = raw_request(api.url, "HEAD", f"/api/v1/blobs/{SHA}")
    assert status == 200 and headers["x-runwatch-size"] == str(len(DATA))
    assert b"".join(api.blobs.open(SHA)) == DATA
    assert api.store.artifacts.blob_size(SHA) == len(DATA)
    assert raw_request(api.url, "HEAD", "/api/v1/blobs/../etc")[0] in (400, 404)


def test_an_empty_file_is_a_blob_too(api):
    empty = hashlib.sha256(b"").hexdigest()
    assert put_file(api.url, "r1", "model/empty", b"")[0] == 201
    assert api.blobs.size(empty) == 0


# ------------------------------------------------------------------ downloads

PNG = b"\x89PNG\r\n\x1a\n" + os.urandom(100)
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
HTML = b"<html><script>alert(1)</script></html>"


def test_downloads_honour_ranges_and_serve_only_real_images_inline(api, fake_run):
    run = fake_run("cifar", name="media")
    store_artifact(
        api, run, "media", {"plot.png": PNG, "fake.png": HTML, "x.svg": SVG, "page.html": HTML, "d.bin": DATA}
    )
    base = f"/api/v1/runs/{run.id}/artifacts/media"
    status, headers, body = raw_request(api.url, "GET", f"{base}/plot.png")
    assert status == 200 and body == PNG
    assert headers["content-type"] == "image/png" and headers["content-disposition"].startswith("inline")
    assert headers["x-content-type-options"] == "nosniff"
    for name in ("fake.png", "x.svg", "page.html", "d.bin"):
        status, headers, _ = raw_request(api.url, "GET", f"{base}/{name}")
        assert status == 200
        assert headers["content-type"] == "application/octet-stream", name
        assert headers["content-disposition"].startswith("attachment"), name
    for header, expected in (("bytes=0-9", DATA[:10]), ("bytes=-5", DATA[-5:]), ("bytes=199990-", DATA[199990:])):
        status, headers, body = raw_request(api.url, "GET", f"{base}/d.bin", headers={"Range": header})
        assert status == 206 and body == expected, header
        assert headers["content-range"].endswith(f"/{len(DATA)}")
    status, headers, _ = raw_request(api.url, "GET", f"{base}/d.bin", headers={"Range": f"bytes={len(DATA)}-"})
    assert status == 416 and headers["content-range"] == f"bytes */{len(DATA)}"
    assert raw_request(api.url, "GET", f"{base}/nope")[0] == 404
    assert raw_request(api.url, "GET", base)[0] == 400  # five files: name one
    assert raw_request(api.url, "GET", f"{base}/%2e%2e/x")[0] == 400


def test_a_one_file_artifact_downloads_by_its_name_and_the_listing_shows_it(api, fake_run):
    run = fake_run("cifar", name="one")
    store_artifact(api, run, "weights", {"w.bin": DATA}, aliases=["best"])
    status, _, body = raw_request(api.url, "GET", f"/api/v1/runs/{run.id}/artifacts/weights")
    assert status == 200 and body == DATA
    import httpx

    listing = httpx.get(f"{api.url}/api/v1/runs/{run.id}/artifacts").json()
    [item] = listing["artifacts"]
    assert item["name"] == "weights" and item["version"] == 1 and item["aliases"] == ["best"]
    assert item["sha256"] == SHA and item["size"] == len(DATA)
    assert item["files"] == [{"path": "weights/w.bin", "name": "w.bin", "sha256": SHA, "size": len(DATA)}]
    assert item["producer"]["id"] == run.id and item["consumers"] == []
    manifest = httpx.get(f"{api.url}/api/v1/artifacts/weights/best").json()
    assert manifest["version"] == 1 and manifest["project"] == "cifar"
    assert (
        httpx.get(f"{api.url}/api/v1/artifacts", params={"name": "weights"}).json()["artifacts"][0]["id"] == item["id"]
    )
    assert httpx.get(f"{api.url}/api/v1/artifacts/weights/v9").status_code == 404


def test_the_body_guard_lets_an_artifact_past_the_json_cap_and_stops_it_at_its_own(tmp_path: Path) -> None:
    from collector.api.limits import BodyLimits
    from collector.settings import Settings

    limits = BodyLimits.from_settings(Settings(home=tmp_path, max_body_bytes=1024, artifact_max_bytes=10 << 20))
    assert limits.rule_for("/api/v1/runs/r1/artifacts/model/weights.bin").max_bytes == 10 << 20
    assert limits.rule_for("/api/v1/runs/r1/notes").max_bytes == 1024
