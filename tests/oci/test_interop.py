"""enclave against independent parts: Debian's docker-registry and skopeo."""
import hashlib
import json
import os
import subprocess

from conftest import sha256

SKOPEO = ["skopeo", "--insecure-policy"]


def skopeo(*args):
    p = subprocess.run(SKOPEO + list(args), capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    return p.stdout


def test_push_is_read_by_skopeo(registry, enclave, local_image, repo, tmp_path):
    folder, files = local_image
    ref = "%s/%s:v1" % (registry.host, repo)
    out = enclave.run("push", "--from", folder, ref).stdout
    index_digest = [l.split()[1] for l in out.splitlines() if l.startswith("digest:")][0]

    raw = skopeo("inspect", "--raw", "--tls-verify=false", "docker://" + ref)
    assert sha256(raw.encode()) == index_digest
    index = json.loads(raw)
    assert index["mediaType"] == "application/vnd.oci.image.index.v1+json"
    assert index["artifactType"] == "application/vnd.enclave.guest.v1"
    (entry,) = index["manifests"]
    assert entry["platform"] == {"architecture": "amd64", "os": "linux"}

    # skopeo copies it out (checking every digest itself) into an OCI layout
    layout = str(tmp_path / "layout")
    skopeo("copy", "--all", "--preserve-digests", "--src-tls-verify=false",
           "docker://" + ref, "oci:" + layout + ":v1")
    manifest = json.load(open(os.path.join(layout, "blobs", "sha256", entry["digest"][7:])))
    assert manifest["artifactType"] == "application/vnd.enclave.guest.v1"
    assert manifest["config"]["mediaType"] == "application/vnd.enclave.guest.config.v1+json"
    by_title = {l["annotations"]["org.opencontainers.image.title"]: l for l in manifest["layers"]}
    assert set(by_title) == {"vmlinuz", "initramfs.cpio"}
    assert by_title["vmlinuz"]["mediaType"] == "application/vnd.enclave.kernel"
    assert by_title["vmlinuz"]["annotations"]["org.enclave.role"] == "kernel"
    for name, layer in by_title.items():
        data = open(os.path.join(layout, "blobs", "sha256", layer["digest"][7:]), "rb").read()
        assert data == files[name]
    config = json.load(open(os.path.join(layout, "blobs", "sha256", manifest["config"]["digest"][7:])))
    assert config["guest_protocol"] == 1
    assert config["kernel_cmdline"].startswith("console=ttyS0")


def test_chunked_push_is_read_by_skopeo(registry, enclave, local_image, repo, tmp_path):
    folder, files = local_image
    ref = "%s/%s:chunked" % (registry.host, repo)
    enclave.run("push", "--chunk-size", "65536", "--from", folder, ref)
    layout = str(tmp_path / "layout")
    skopeo("copy", "--all", "--src-tls-verify=false", "docker://" + ref, "oci:" + layout + ":x")
    stored = set(os.listdir(os.path.join(layout, "blobs", "sha256")))
    for data in files.values():
        assert hashlib.sha256(data).hexdigest() in stored
    # a second push finds every blob already there and still succeeds
    out = enclave.run("push", "--chunk-size", "65536", "--from", folder, ref).stderr
    assert "already in the registry" in out


def make_oci_layout(root, kernel, initramfs, layer_media_type="application/vnd.enclave.kernel"):
    os.makedirs(os.path.join(root, "blobs", "sha256"), exist_ok=True)

    def put(b):
        d = hashlib.sha256(b).hexdigest()
        with open(os.path.join(root, "blobs", "sha256", d), "wb") as f:
            f.write(b)
        return {"digest": "sha256:" + d, "size": len(b)}

    cfg = json.dumps({"kernel_cmdline": "console=ttyS0 quiet", "guest_protocol": 1,
                      "architecture": "amd64"}).encode()
    manifest = {
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "application/vnd.enclave.guest.v1",
        "config": dict(mediaType="application/vnd.enclave.guest.config.v1+json", **put(cfg)),
        "layers": [
            dict(mediaType=layer_media_type, annotations={
                "org.opencontainers.image.title": "vmlinuz", "org.enclave.role": "kernel"}, **put(kernel)),
            dict(mediaType="application/vnd.enclave.initramfs", annotations={
                "org.opencontainers.image.title": "initramfs.cpio"}, **put(initramfs)),
        ]}
    m = put(json.dumps(manifest).encode())
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
             "manifests": [dict(mediaType="application/vnd.oci.image.manifest.v1+json",
                                platform={"architecture": "amd64", "os": "linux"}, **m)]}
    i = put(json.dumps(index).encode())
    with open(os.path.join(root, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [dict(
            mediaType="application/vnd.oci.image.index.v1+json",
            annotations={"org.opencontainers.image.ref.name": "v1"}, **i)]}, f)
    with open(os.path.join(root, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')
    return i["digest"], m["digest"]


def test_skopeo_copy_in_then_enclave_pulls_and_installs(registry, enclave, repo, tmp_path):
    kernel, initramfs = os.urandom(200000), os.urandom(300000)
    index_digest, manifest_digest = make_oci_layout(str(tmp_path / "layout"), kernel, initramfs)
    ref = "%s/%s:v1" % (registry.host, repo)
    skopeo("copy", "--all", "--preserve-digests", "--dest-tls-verify=false",
           "oci:%s:v1" % (tmp_path / "layout"), "docker://" + ref)

    out = enclave.run("pull", ref).stdout
    assert index_digest in out and manifest_digest in out
    blobs = enclave.blobs()
    assert hashlib.sha256(kernel).hexdigest() in blobs
    assert hashlib.sha256(initramfs).hexdigest() in blobs
    assert enclave.current() is None  # pull installs nothing

    p = enclave.run("install", "--insecure-skip-verify", ref)
    assert "WITHOUT checking its signature" in p.stderr
    current = os.path.join(enclave.home, "cache", "current")
    assert enclave.current().startswith("images/oci-")
    assert open(os.path.join(current, "vmlinuz"), "rb").read() == kernel
    assert open(os.path.join(current, "initramfs.cpio"), "rb").read() == initramfs
    m = json.load(open(os.path.join(current, "manifest.json")))
    assert m["schema"] == 1 and m["arch"] == "amd64" and m["guest_protocol"] == 1
    assert m["source"] == "oci:%s@%s" % (ref, index_digest)
    assert m["kernel_cmdline"] == "console=ttyS0 quiet"
    roles = {a["role"]: a for a in m["artifacts"]}
    assert roles["kernel"]["path"] == "vmlinuz"
    assert roles["kernel"]["sha256"] == hashlib.sha256(kernel).hexdigest()
    assert roles["kernel"]["size"] == len(kernel)
    assert roles["initramfs"]["media_type"] == "application/vnd.enclave.initramfs"
    (rec,) = [r for r in enclave.audit_records() if r["kind"] == "IMAGE:UNVERIFIED_INSTALL"]
    assert rec["details"]["digest"] == index_digest and rec["details"]["reference"] == ref


def test_pull_by_digest(registry, enclave, local_image, repo):
    folder, _ = local_image
    ref = "%s/%s:v1" % (registry.host, repo)
    out = enclave.run("push", "--from", folder, ref).stdout
    digest = [l.split()[1] for l in out.splitlines() if l.startswith("digest:")][0]
    enclave.run("pull", "%s/%s@%s" % (registry.host, repo, digest))
    # a digest the registry does not have
    bad = "sha256:" + "0" * 64
    p = enclave.run("pull", "%s/%s@%s" % (registry.host, repo, bad), check=False)
    assert p.returncode == 1 and "404" in p.stderr


def test_sign_verify_install_roundtrip(registry, enclave, local_image, repo):
    folder, files = local_image
    ref = "%s/%s:v1" % (registry.host, repo)
    enclave.run("keygen", password="pw1")
    enclave.run("push", "--from", folder, ref)
    enclave.run("sign", "--key", "cosign.key", ref, password="pw1")
    # wrong password: no signature written, clear error
    p = enclave.run("sign", "--key", "cosign.key", ref, password="nope", check=False)
    assert p.returncode == 1 and "wrong password" in p.stderr

    p = enclave.run("verify", "--key", "cosign.pub", ref)
    assert "verified with cosign.pub" in p.stdout
    # trusted through $ENCLAVE_HOME/trust as well
    os.makedirs(os.path.join(enclave.home, "trust"))
    os.rename(os.path.join(enclave.cwd, "cosign.pub"), os.path.join(enclave.home, "trust", "me.pub"))
    p = enclave.run("install", ref)
    assert "trust/me.pub" in p.stdout
    current = os.path.join(enclave.home, "cache", "current")
    assert open(os.path.join(current, "vmlinuz"), "rb").read() == files["vmlinuz"]
    m = json.load(open(os.path.join(current, "manifest.json")))
    assert m["packages"] == [{"name": "python3", "version": "3.11.2-1"}]
    first = enclave.current()
    verified = [r for r in enclave.audit_records() if r["kind"] == "IMAGE:VERIFIED"]
    assert len(verified) == 1 and verified[0]["details"]["signer"].endswith("trust/me.pub")

    # a second image replaces `current`; the first stays on disk
    folder2 = folder + "-2"
    from conftest import make_local_image
    make_local_image(folder2, seed=b"second")
    ref2 = "%s/%s:v2" % (registry.host, repo)
    enclave.run("push", "--from", folder2, ref2)
    enclave.run("sign", "--key", "cosign.key", ref2, password="pw1")
    enclave.run("install", ref2)
    assert enclave.current() != first
    assert os.path.isdir(os.path.join(enclave.home, "cache", first))
    # installing the first again reuses its folder
    enclave.run("install", ref)
    assert enclave.current() == first


def test_keygen_refuses_overwrite(enclave):
    enclave.run("keygen", password="x")
    p = enclave.run("keygen", password="x", check=False)
    assert p.returncode == 1 and "refusing to overwrite" in p.stderr
    assert oct(os.stat(os.path.join(enclave.cwd, "cosign.key")).st_mode & 0o777) == "0o600"
    enclave.run("keygen", "--force", password="y")


def test_help_is_truthful():
    from conftest import ENCLAVE
    for verb in ("pull", "verify", "install", "push", "sign", "keygen"):
        p = subprocess.run([ENCLAVE, "image", verb, "--help"], capture_output=True, text=True)
        assert p.returncode == 0 and p.stdout.startswith("usage: enclave image " + verb)
    p = subprocess.run([ENCLAVE, "image", "pull"], capture_output=True, text=True)
    assert p.returncode == 2
