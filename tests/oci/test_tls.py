"""HTTPS: the certificate must chain to a trusted CA and name the host."""
import datetime
import hashlib
import ipaddress
import os
import ssl

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def make_ca_and_cert(tmp, san_ip=None, san_dns=None):
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "enclave test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(days=1))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    names = []
    if san_ip:
        names.append(x509.IPAddress(ipaddress.ip_address(san_ip)))
    if san_dns:
        names.append(x509.DNSName(san_dns))
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "registry")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .sign(ca_key, hashes.SHA256()))
    ca_path, cert_path, key_path = (os.path.join(tmp, n) for n in ("ca.pem", "cert.pem", "key.pem"))
    open(ca_path, "wb").write(ca.public_bytes(serialization.Encoding.PEM))
    open(cert_path, "wb").write(cert.public_bytes(serialization.Encoding.PEM))
    open(key_path, "wb").write(key.private_bytes(serialization.Encoding.PEM,
                                                 serialization.PrivateFormat.PKCS8,
                                                 serialization.NoEncryption()))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert_path, key_path)
    return ca_path, ctx


def pull_over_tls(enclave, ref, ca_path):
    old = dict(os.environ)
    os.environ["ENCLAVE_REGISTRY_SCHEME"] = "https"
    if ca_path:
        os.environ["SSL_CERT_FILE"] = ca_path
    try:
        return enclave.run("pull", "--timeout", "10", ref, check=False)
    finally:
        os.environ.clear()
        os.environ.update(old)


def push(enclave, registry, folder, repo):
    enclave.run("push", "--from", folder, "%s/%s:v1" % (registry.host, repo))


def test_https_with_trusted_ca(registry, enclave, local_image, repo, fake_registry, tmp_path):
    folder, files = local_image
    push(enclave, registry, folder, repo)
    ca, ctx = make_ca_and_cert(str(tmp_path), san_ip="127.0.0.1")
    fake = fake_registry("plain", tls_context=ctx)
    p = pull_over_tls(enclave, "%s/%s:v1" % (fake.host, repo), ca)
    assert p.returncode == 0, p.stderr
    assert hashlib.sha256(files["vmlinuz"]).hexdigest() in enclave.blobs()


def test_https_untrusted_ca_is_refused(registry, enclave, local_image, repo, fake_registry, tmp_path):
    folder, _ = local_image
    push(enclave, registry, folder, repo)
    _, ctx = make_ca_and_cert(str(tmp_path), san_ip="127.0.0.1")
    fake = fake_registry("plain", tls_context=ctx)
    p = pull_over_tls(enclave, "%s/%s:v1" % (fake.host, repo), None)
    assert p.returncode == 1 and "certificate verification failed" in p.stderr, p.stderr
    assert enclave.blobs() == []


def test_https_wrong_name_is_refused(registry, enclave, local_image, repo, fake_registry, tmp_path):
    folder, _ = local_image
    push(enclave, registry, folder, repo)
    ca, ctx = make_ca_and_cert(str(tmp_path), san_dns="registry.example")
    fake = fake_registry("plain", tls_context=ctx)
    p = pull_over_tls(enclave, "%s/%s:v1" % (fake.host, repo), ca)
    assert p.returncode == 1 and "mismatch" in p.stderr, p.stderr
    assert enclave.blobs() == []
