"""Registries that lie, break or refuse: every case must fail cleanly (or
recover) and never leave an unverified byte in the cache."""
import hashlib
import json
import os

from conftest import free_port, sha256


def push(enclave, registry, folder, repo, tag="v1"):
    ref = "%s/%s:%s" % (registry.host, repo, tag)
    out = enclave.run("push", "--from", folder, ref).stdout
    return [l.split()[1] for l in out.splitlines() if l.startswith("digest:")][0]


def nothing_installed(enclave):
    images = os.path.join(enclave.home, "cache", "images")
    return enclave.current() is None and (
        not os.path.isdir(images) or not os.listdir(images))


def test_unsigned_image_is_not_installed(registry, enclave, local_image, repo):
    folder, files = local_image
    push(enclave, registry, folder, repo)
    enclave.run("keygen", password="x")
    ref = "%s/%s:v1" % (registry.host, repo)
    p = enclave.run("install", "--key", "cosign.pub", ref, check=False)
    assert p.returncode == 1 and "is not signed" in p.stderr
    assert nothing_installed(enclave)
    # the signature is checked before any layer is downloaded
    for data in files.values():
        assert hashlib.sha256(data).hexdigest() not in enclave.blobs()
    # and with no trusted key at all, the refusal says how to fix it
    p = enclave.run("install", ref, check=False)
    assert p.returncode == 1 and "no trusted keys" in p.stderr
    assert nothing_installed(enclave)


def test_keys_are_read_before_the_registry_is_asked(registry, enclave, local_image, repo,
                                                   fake_registry):
    """A --key that cannot be read, or no trusted key at all, is refused
    before any request: nothing is downloaded, nothing stored."""
    folder, files = local_image
    push(enclave, registry, folder, repo)
    fake = fake_registry("proxy")
    ref = "%s/%s:v1" % (fake.host, repo)
    for verb in ("verify", "install"):
        p = enclave.run(verb, "--key", "missing.pub", ref, check=False)
        assert p.returncode == 1 and "missing.pub" in p.stderr, p.stderr
        p = enclave.run(verb, ref, check=False)
        assert p.returncode == 1 and "no trusted keys" in p.stderr, p.stderr
    assert fake.requests == []
    assert enclave.blobs() == []
    assert nothing_installed(enclave)


def test_blob_not_matching_digest(registry, enclave, local_image, repo, fake_registry):
    folder, files = local_image
    push(enclave, registry, folder, repo)
    fake = fake_registry("corrupt")
    ref = "%s/%s:v1" % (fake.host, repo)
    p = enclave.run("install", "--insecure-skip-verify", ref, check=False)
    assert p.returncode == 1 and "does not match its digest" in p.stderr
    stored = enclave.blobs()
    for data in files.values():
        assert hashlib.sha256(data).hexdigest() not in stored
    assert enclave.partials() == []  # the bad bytes are deleted, not kept for a resume
    assert nothing_installed(enclave)


def test_truncated_download_resumes_with_range(registry, enclave, local_image, repo, fake_registry):
    folder, files = local_image
    push(enclave, registry, folder, repo)
    fake = fake_registry("cut-once")
    enclave.run("pull", "%s/%s:v1" % (fake.host, repo))
    stored = enclave.blobs()
    for data in files.values():
        assert hashlib.sha256(data).hexdigest() in stored
    ranges = [h.get("Range") for m, path, h in fake.requests if m == "GET" and "/blobs/" in path]
    assert any(r and r.startswith("bytes=") and r != "bytes=0-" for r in ranges), ranges
    assert enclave.partials() == []


def test_truncated_download_that_never_completes(registry, enclave, local_image, repo, fake_registry):
    folder, files = local_image
    push(enclave, registry, folder, repo)
    fake = fake_registry("cut-always")
    p = enclave.run("pull", "%s/%s:v1" % (fake.host, repo), check=False)
    assert p.returncode == 1 and "closed before the response was complete" in p.stderr
    stored = enclave.blobs()
    for data in files.values():
        assert hashlib.sha256(data).hexdigest() not in stored
    assert nothing_installed(enclave)


def test_registry_down(enclave):
    p = enclave.run("pull", "127.0.0.1:%d/x/y:v1" % free_port(), check=False)
    assert p.returncode == 1 and "cannot connect" in p.stderr


def test_registry_answers_500(enclave, fake_registry):
    fake = fake_registry("error500")
    p = enclave.run("pull", "%s/x/y:v1" % fake.host, check=False)
    assert p.returncode == 1 and "HTTP 500" in p.stderr and "boom" in p.stderr


def test_manifest_over_size_limit(enclave, fake_registry):
    for mode in ("big-manifest", "big-manifest-chunked"):
        fake = fake_registry(mode)
        p = enclave.run("pull", "%s/x/y:v1" % fake.host, check=False)
        assert p.returncode == 1, mode
        assert "over the" in p.stderr and "limit" in p.stderr, p.stderr
    assert enclave.blobs() == []


def test_unknown_media_type(registry, enclave, repo):
    kernel = os.urandom(2000)
    kd = registry.put_blob(repo, kernel)
    cfg = json.dumps({"kernel_cmdline": "x", "guest_protocol": 1}).encode()
    cd = registry.put_blob(repo, cfg)
    for media_type, expect in (("application/vnd.enclave.kernel.v2", "does not know"),):
        manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": {"mediaType": "application/vnd.enclave.guest.config.v1+json",
                               "digest": cd, "size": len(cfg)},
                    "layers": [{"mediaType": media_type, "digest": kd, "size": len(kernel)}]}
        registry.put_manifest(repo, "weird", manifest)
        p = enclave.run("pull", "%s/%s:weird" % (registry.host, repo), check=False)
        assert p.returncode == 1 and expect in p.stderr and media_type in p.stderr
    # an ordinary container image is not a guest
    manifest["config"]["mediaType"] = "application/vnd.oci.image.config.v1+json"
    manifest["layers"][0]["mediaType"] = "application/vnd.oci.image.layer.v1.tar+gzip"
    registry.put_manifest(repo, "container", manifest)
    p = enclave.run("pull", "%s/%s:container" % (registry.host, repo), check=False)
    assert p.returncode == 1 and "not an Enclave guest image" in p.stderr
    assert hashlib.sha256(kernel).hexdigest() not in enclave.blobs()


def test_bearer_token_flow(registry, enclave, local_image, repo, fake_registry):
    folder, files = local_image
    push(enclave, registry, folder, repo)
    fake = fake_registry("token")
    enclave.run("pull", "%s/%s:v1" % (fake.host, repo))
    token_requests = [path for m, path, h in fake.requests if path.startswith("/token")]
    assert token_requests and "service=fake-registry" in token_requests[0]
    assert "scope=repository%3A" + repo.replace("/", "%2F") + "%3Apull" in token_requests[0]
    authed = [h.get("Authorization") for m, path, h in fake.requests if "/blobs/" in path]
    assert authed and all(a == "Bearer " + fake.token for a in authed)
    assert hashlib.sha256(files["vmlinuz"]).hexdigest() in enclave.blobs()


def test_cross_host_redirect_drops_credentials(registry, enclave, local_image, repo, fake_registry):
    folder, files = local_image
    push(enclave, registry, folder, repo)
    other = fake_registry("plain")
    fake = fake_registry("token")
    fake.mode = "token"
    # blob GETs that carry the token are sent on to another origin
    orig = fake.handle

    def handle(h, method):
        if method == "GET" and "/blobs/sha256:" in h.path and \
                h.headers.get("Authorization") == "Bearer " + fake.token:
            fake.requests.append((method, h.path, dict(h.headers)))
            return fake.send(h, 307, b"", {"Location": "http://localhost:%d%s" % (other.port, h.path)})
        return orig(h, method)
    fake.handle = handle
    enclave.run("pull", "%s/%s:v1" % (fake.host, repo))
    followed = [h for m, path, h in other.requests if "/blobs/" in path]
    assert followed, "the redirect was not followed"
    assert all("Authorization" not in h for h in followed)
    assert hashlib.sha256(files["initramfs.cpio"]).hexdigest() in enclave.blobs()


def test_redirect_to_plain_http_elsewhere_is_refused(registry, enclave, local_image, repo, fake_registry):
    folder, _ = local_image
    push(enclave, registry, folder, repo)
    fake = fake_registry("redirect-http")
    p = enclave.run("pull", "%s/%s:v1" % (fake.host, repo), check=False)
    assert p.returncode == 1 and "refusing plain http" in p.stderr


def test_hostile_references(enclave):
    for ref in ("", "UPPER/Case:tag:x", "a/b@sha256:123", "a b", "../../etc", "a/b:" + "t" * 200):
        p = enclave.run("pull", ref, check=False)
        assert p.returncode in (1, 2), ref
        # refused by the parser, before any connection is tried
        assert p.returncode == 2 or "reference" in p.stderr or "bad " in p.stderr, (ref, p.stderr)
        assert "connect" not in p.stderr and "resolve" not in p.stderr


def test_unverified_install_that_cannot_be_audited_is_refused(registry, enclave, local_image, repo):
    folder, _ = local_image
    push(enclave, registry, folder, repo)
    # a folder where the audit database should be: the log cannot be opened
    os.makedirs(os.path.join(enclave.home, "audit", "audit.db"))
    p = enclave.run("install", "--insecure-skip-verify", "%s/%s:v1" % (registry.host, repo),
                    check=False)
    assert p.returncode == 1 and "audit" in p.stderr
    assert nothing_installed(enclave)


def test_silent_registry_times_out(enclave, fake_registry):
    fake = fake_registry("hang")
    p = enclave.run("pull", "--timeout", "1", "%s/x/y:v1" % fake.host, check=False, timeout=30)
    assert p.returncode == 1 and "timed out" in p.stderr


def test_failed_install_keeps_the_old_image(registry, enclave, local_image, repo, fake_registry):
    from conftest import make_local_image
    folder, files = local_image
    push(enclave, registry, folder, repo, "good")
    enclave.run("install", "--insecure-skip-verify", "%s/%s:good" % (registry.host, repo))
    before = enclave.current()
    folder2 = folder + "-b"
    make_local_image(folder2, seed=b"other image")
    push(enclave, registry, folder2, repo, "bad")
    fake = fake_registry("corrupt")
    p = enclave.run("install", "--insecure-skip-verify", "%s/%s:bad" % (fake.host, repo),
                    check=False)
    assert p.returncode == 1
    assert enclave.current() == before
    current = os.path.join(enclave.home, "cache", "current")
    assert open(os.path.join(current, "vmlinuz"), "rb").read() == files["vmlinuz"]
    images = os.listdir(os.path.join(enclave.home, "cache", "images"))
    assert images == [before.split("/")[1]]  # no half-built folder left behind


def test_index_without_amd64(registry, enclave, repo):
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
             "manifests": []}
    registry.put_manifest(repo, "empty", index, "application/vnd.oci.image.index.v1+json")
    p = enclave.run("pull", "%s/%s:empty" % (registry.host, repo), check=False)
    assert p.returncode == 1 and "no linux/amd64 manifest" in p.stderr


def test_push_defaults_to_current(registry, enclave, repo):
    from conftest import make_local_image
    images = os.path.join(enclave.home, "cache", "images")
    files = make_local_image(os.path.join(images, "local-1"), seed=b"built here")
    os.symlink("images/local-1", os.path.join(enclave.home, "cache", "current"))
    enclave.run("push", "%s/%s:built" % (registry.host, repo))
    enclave.run("pull", "%s/%s:built" % (registry.host, repo))
    assert hashlib.sha256(files["initramfs.cpio"]).hexdigest() in enclave.blobs()
    # a file that no longer matches manifest.json is not pushed
    with open(os.path.join(images, "local-1", "vmlinuz"), "ab") as f:
        f.write(b"x")
    p = enclave.run("push", "%s/%s:tampered" % (registry.host, repo), check=False)
    assert p.returncode == 1 and "does not match" in p.stderr
