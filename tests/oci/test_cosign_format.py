"""enclave's keys and signatures checked by an independent implementation of
cosign's published format (python3-cryptography + python3-nacl), and keys and
signatures made by that implementation accepted by enclave."""
import base64
import hashlib
import json
import os

import nacl.secret
import nacl.utils
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from conftest import sha256

MANIFEST = "application/vnd.oci.image.manifest.v1+json"
SIMPLESIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
SIG_ANNOTATION = "dev.cosignproject.cosign/signature"


def pem_body(text, label):
    begin, end = "-----BEGIN %s-----" % label, "-----END %s-----" % label
    assert text.startswith(begin), text[:60]
    return base64.b64decode("".join(text[len(begin):text.index(end)].split()))


def decrypt_cosign_key(pem_text, password):
    doc = json.loads(pem_body(pem_text, "ENCRYPTED SIGSTORE PRIVATE KEY"))
    assert doc["kdf"]["name"] == "scrypt"
    assert doc["kdf"]["params"] == {"N": 32768, "r": 8, "p": 1}
    assert doc["cipher"]["name"] == "nacl/secretbox"
    salt = base64.b64decode(doc["kdf"]["salt"])
    nonce = base64.b64decode(doc["cipher"]["nonce"])
    assert len(salt) == 32 and len(nonce) == 24
    key = hashlib.scrypt(password.encode(), salt=salt, n=32768, r=8, p=1, dklen=32,
                         maxmem=64 << 20)
    der = nacl.secret.SecretBox(key).decrypt(base64.b64decode(doc["ciphertext"]), nonce)
    return serialization.load_der_private_key(der, password=None)


def encrypt_cosign_key(private_key, password, label="ENCRYPTED SIGSTORE PRIVATE KEY"):
    der = private_key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    salt, nonce = os.urandom(32), nacl.utils.random(24)
    key = hashlib.scrypt(password.encode(), salt=salt, n=32768, r=8, p=1, dklen=32,
                         maxmem=64 << 20)
    box = nacl.secret.SecretBox(key).encrypt(der, nonce).ciphertext
    doc = {"kdf": {"name": "scrypt", "params": {"N": 32768, "r": 8, "p": 1},
                   "salt": base64.b64encode(salt).decode()},
           "cipher": {"name": "nacl/secretbox", "nonce": base64.b64encode(nonce).decode()},
           "ciphertext": base64.b64encode(box).decode()}
    body = base64.encodebytes(json.dumps(doc, separators=(",", ":")).encode()).decode()
    return "-----BEGIN %s-----\n%s-----END %s-----\n" % (label, body, label)


def public_pem(private_key):
    return private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def payload_for(identity, digest):
    # byte for byte what cosign (Go encoding/json) writes
    return ('{"critical":{"identity":{"docker-reference":"%s"},"image":{"docker-manifest-digest":"%s"},'
            '"type":"cosign container image signature"},"optional":null}' % (identity, digest)).encode()


def push_signature(registry, repo, digest, payload, private_key):
    """Writes a signature manifest the way cosign does, with no enclave code."""
    sig = base64.b64encode(private_key.sign(payload, ec.ECDSA(hashes.SHA256()))).decode()
    pdigest = registry.put_blob(repo, payload)
    config = json.dumps({"architecture": "", "created": "0001-01-01T00:00:00Z",
                         "history": [{"created": "0001-01-01T00:00:00Z"}], "os": "",
                         "rootfs": {"type": "layers", "diff_ids": [pdigest]}, "config": {}}).encode()
    cdigest = registry.put_blob(repo, config)
    manifest = {"schemaVersion": 2, "mediaType": MANIFEST,
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                           "size": len(config), "digest": cdigest},
                "layers": [{"mediaType": SIMPLESIGNING, "size": len(payload), "digest": pdigest,
                            "annotations": {SIG_ANNOTATION: sig}}]}
    registry.put_manifest(repo, "sha256-%s.sig" % digest[7:], manifest)


def push_image(enclave, registry, folder, repo, tag="v1"):
    ref = "%s/%s:%s" % (registry.host, repo, tag)
    out = enclave.run("push", "--from", folder, ref).stdout
    digest = [l.split()[1] for l in out.splitlines() if l.startswith("digest:")][0]
    return ref, digest


def test_enclave_keys_open_with_independent_code(enclave):
    enclave.run("keygen", password="s3cret")
    key_text = open(os.path.join(enclave.cwd, "cosign.key")).read()
    pub_text = open(os.path.join(enclave.cwd, "cosign.pub")).read()
    private_key = decrypt_cosign_key(key_text, "s3cret")
    assert isinstance(private_key, ec.EllipticCurvePrivateKey)
    assert private_key.curve.name == "secp256r1"
    assert public_pem(private_key) == pub_text
    try:
        decrypt_cosign_key(key_text, "wrong")
        raise AssertionError("wrong password opened the key")
    except nacl.exceptions.CryptoError:
        pass


def test_enclave_signature_matches_cosign_format(registry, enclave, local_image, repo):
    folder, _ = local_image
    ref, digest = push_image(enclave, registry, folder, repo)
    enclave.run("keygen", password="pw")
    enclave.run("sign", "--key", "cosign.key", ref, password="pw")
    pub = serialization.load_pem_public_key(open(os.path.join(enclave.cwd, "cosign.pub"), "rb").read())

    status, hdrs, raw = registry.get_manifest(repo, "sha256-%s.sig" % digest[7:])
    assert status == 200
    m = json.loads(raw)
    assert m["schemaVersion"] == 2 and m["mediaType"] == MANIFEST
    assert m["config"]["mediaType"] == "application/vnd.oci.image.config.v1+json"
    (layer,) = m["layers"]
    assert layer["mediaType"] == SIMPLESIGNING
    payload = registry.get_blob(repo, layer["digest"])
    assert sha256(payload) == layer["digest"] and len(payload) == layer["size"]
    assert payload == payload_for("%s/%s" % (registry.host, repo), digest)
    sig = base64.b64decode(layer["annotations"][SIG_ANNOTATION])
    pub.verify(sig, payload, ec.ECDSA(hashes.SHA256()))  # raises if it does not verify
    config = json.loads(registry.get_blob(repo, m["config"]["digest"]))
    assert config["rootfs"]["diff_ids"] == [layer["digest"]]

    # signing again adds a layer, as cosign does, and keeps the first
    enclave.run("sign", "--key", "cosign.key", ref, password="pw")
    _, _, raw = registry.get_manifest(repo, "sha256-%s.sig" % digest[7:])
    assert len(json.loads(raw)["layers"]) == 2


def test_independent_key_and_signature_accepted(registry, enclave, local_image, repo, tmp_path):
    folder, _ = local_image
    ref, digest = push_image(enclave, registry, folder, repo)
    private_key = ec.generate_private_key(ec.SECP256R1())
    pub_path = tmp_path / "theirs.pub"
    pub_path.write_text(public_pem(private_key))

    # a signature made without enclave verifies and installs
    push_signature(registry, repo, digest, payload_for("%s/%s" % (registry.host, repo), digest),
                   private_key)
    enclave.run("verify", "--key", str(pub_path), ref)
    enclave.run("install", "--key", str(pub_path), ref)
    assert enclave.current() is not None

    # a key file written by independent code (both PEM labels cosign uses) signs with enclave
    for label in ("ENCRYPTED SIGSTORE PRIVATE KEY", "ENCRYPTED COSIGN PRIVATE KEY"):
        key_path = tmp_path / ("theirs-%d.key" % len(label))
        key_path.write_text(encrypt_cosign_key(private_key, "their pw", label))
        enclave.run("sign", "--key", str(key_path), ref, password="their pw")
    _, _, raw = registry.get_manifest(repo, "sha256-%s.sig" % digest[7:])
    layers = json.loads(raw)["layers"]
    assert len(layers) == 3
    pub = private_key.public_key()
    for layer in layers:
        payload = registry.get_blob(repo, layer["digest"])
        pub.verify(base64.b64decode(layer["annotations"][SIG_ANNOTATION]), payload,
                   ec.ECDSA(hashes.SHA256()))


def test_signed_by_another_key_is_refused(registry, enclave, local_image, repo, tmp_path):
    folder, _ = local_image
    ref, digest = push_image(enclave, registry, folder, repo)
    trusted = ec.generate_private_key(ec.SECP256R1())
    stranger = ec.generate_private_key(ec.SECP256R1())
    (tmp_path / "trusted.pub").write_text(public_pem(trusted))
    push_signature(registry, repo, digest, payload_for("%s/%s" % (registry.host, repo), digest),
                   stranger)
    p = enclave.run("verify", "--key", str(tmp_path / "trusted.pub"), ref, check=False)
    assert p.returncode == 1 and "not trusted" in p.stderr
    p = enclave.run("install", "--key", str(tmp_path / "trusted.pub"), ref, check=False)
    assert p.returncode == 1
    assert enclave.current() is None
    assert not os.path.isdir(os.path.join(enclave.home, "cache", "images")) or \
        not [d for d in os.listdir(os.path.join(enclave.home, "cache", "images")) if not d.startswith(".")]


def test_valid_signature_for_another_digest_is_refused(registry, enclave, local_image, repo, tmp_path):
    folder, _ = local_image
    ref, digest = push_image(enclave, registry, folder, repo)
    key = ec.generate_private_key(ec.SECP256R1())
    (tmp_path / "k.pub").write_text(public_pem(key))
    other = "sha256:" + "ab" * 32
    # correctly signed by a trusted key, but the payload names another image
    push_signature(registry, repo, digest, payload_for("%s/%s" % (registry.host, repo), other), key)
    p = enclave.run("verify", "--key", str(tmp_path / "k.pub"), ref, check=False)
    assert p.returncode == 1 and "but for " + other in p.stderr
    # a payload of another type is refused too
    bad = payload_for("%s/%s" % (registry.host, repo), digest).replace(
        b"cosign container image signature", b"something else")
    push_signature(registry, repo, digest, bad, key)
    p = enclave.run("verify", "--key", str(tmp_path / "k.pub"), ref, check=False)
    assert p.returncode == 1 and "unknown type" in p.stderr
