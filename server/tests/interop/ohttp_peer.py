"""An Oblivious HTTP (RFC 9458) peer written apart from both of Tipline's implementations.

The gateway in tipline-server uses the `ohttp` crate; the phone's client in tipline-core has its
own encapsulation on the project's own HPKE. This file is a third implementation, from the RFC
text, on an independent HPKE (pyhpke, in Python) and Python's own HKDF and the `cryptography`
package's AEADs, with binary HTTP (RFC 9292) written here too. The Rust test
`server/tests/api/gateway_interop.rs` drives it, one command per run; every value on the command
line and on stdout is hex or JSON:

    vectors                                  RFC 9458 appendix A, both sides; prints "ok"
    client-encapsulate KEYLIST REQUEST_JSON  prints {"request": hex, "state": {...}}
    client-open STATE_JSON RESPONSE          prints the response as JSON
    gateway-config IKM KEY_ID AEADS          prints the application/ohttp-keys list
    gateway-answer IKM KEY_ID AEADS REQUEST  prints the encapsulated answer, an echo of the request

A refusal exits 2 with "refused: <why>" on stderr.
"""

import hashlib
import hmac
import json
import os
import sys

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from pyhpke import AEADId, CipherSuite, KDFId, KEMId, KEMKeyPair

KEM_X25519 = 0x0020
KDF_SHA256 = 0x0001
# aead_id: (Nk, Nn, AEAD class)
AEADS = {0x0001: (16, 12, AESGCM), 0x0003: (32, 12, ChaCha20Poly1305)}
NENC = 32
REQUEST_LABEL = b"message/bhttp request"
RESPONSE_LABEL = b"message/bhttp response"


class Refused(Exception):
    pass


def suite(aead_id):
    return CipherSuite.new(KEMId.DHKEM_X25519_HKDF_SHA256, KDFId.HKDF_SHA256, AEADId(aead_id))


# --- Binary HTTP (RFC 9292), known-length messages -------------------------------------------


def put_varint(out, n):
    # RFC 9000, section 16
    if n < 1 << 6:
        out += bytes([n])
    elif n < 1 << 14:
        out += (n | 0x4000).to_bytes(2, "big")
    elif n < 1 << 30:
        out += (n | 0x80000000).to_bytes(4, "big")
    else:
        out += (n | 0xC000000000000000).to_bytes(8, "big")


def put_bytes(out, b):
    put_varint(out, len(b))
    out += b


class Reader:
    def __init__(self, data):
        self.data, self.at = data, 0

    def done(self):
        return self.at >= len(self.data)

    def take(self, n):
        if self.at + n > len(self.data):
            raise Refused("truncated binary HTTP")
        out = self.data[self.at : self.at + n]
        self.at += n
        return out

    def varint(self):
        first = self.take(1)[0]
        length = 1 << (first >> 6)
        value = first & 0x3F
        for b in self.take(length - 1):
            value = (value << 8) | b
        return value

    def bytes(self):
        return self.take(self.varint())

    def fields(self):
        # Section 3.8: a message may end before any part; what is missing is empty.
        if self.done():
            return []
        section = Reader(self.bytes())
        out = []
        while not section.done():
            out.append([section.bytes().decode(), section.bytes().decode()])
        return out

    def content(self):
        return b"" if self.done() else self.bytes()


def encode_fields(out, fields):
    section = bytearray()
    for name, value in fields:
        put_bytes(section, name.lower().encode())
        put_bytes(section, value.encode())
    put_bytes(out, bytes(section))


def encode_request(method, scheme, authority, path, fields, content):
    out = bytearray()
    put_varint(out, 0)
    for part in (method, scheme, authority, path):
        put_bytes(out, part.encode())
    encode_fields(out, fields)
    put_bytes(out, content)
    put_varint(out, 0)
    return bytes(out)


def decode_request(data):
    r = Reader(data)
    if r.varint() != 0:
        raise Refused("not a known-length request")
    method, scheme, authority, path = (r.bytes().decode() for _ in range(4))
    return {
        "method": method,
        "scheme": scheme,
        "authority": authority,
        "path": path,
        "fields": r.fields(),
        "content": r.content().hex(),
    }


def encode_response(status, fields, content):
    out = bytearray()
    put_varint(out, 1)
    put_varint(out, status)
    encode_fields(out, fields)
    put_bytes(out, content)
    put_varint(out, 0)
    return bytes(out)


def decode_response(data):
    r = Reader(data)
    if r.varint() != 1:
        raise Refused("not a known-length response")
    while True:
        status = r.varint()
        fields = r.fields()
        if status >= 200:
            break
    return {"status": status, "fields": fields, "content": r.content().hex()}


# --- Key configurations (RFC 9458, section 3) ------------------------------------------------


def key_config(key_id, public_key, aeads):
    out = bytes([key_id]) + KEM_X25519.to_bytes(2, "big") + public_key
    out += (4 * len(aeads)).to_bytes(2, "big")
    for aead in aeads:
        out += KDF_SHA256.to_bytes(2, "big") + aead.to_bytes(2, "big")
    return out


def read_key_configs(data):
    """Section 3.2: the usable configurations of a list, in order: (key_id, pk, [aead])."""
    r, out = Reader(data), []
    while not r.done():
        config = Reader(r.take(int.from_bytes(r.take(2), "big")))
        key_id, kem = config.take(1)[0], int.from_bytes(config.take(2), "big")
        if kem != KEM_X25519:
            continue
        pk = config.take(32)
        suites = Reader(config.take(int.from_bytes(config.take(2), "big")))
        aeads = []
        while not suites.done():
            kdf, aead = int.from_bytes(suites.take(2), "big"), int.from_bytes(suites.take(2), "big")
            if kdf == KDF_SHA256 and aead in AEADS:
                aeads.append(aead)
        if not config.done():
            raise Refused("trailing bytes in a key configuration")
        if aeads:
            out.append((key_id, pk, aeads))
    return out


def gateway_keys(ikm, key_id, aeads):
    pair = suite(aeads[0]).kem.derive_key_pair(ikm)
    return pair, key_config(key_id, pair.public_key.to_public_bytes(), aeads)


# --- Encapsulation (RFC 9458, section 4) -----------------------------------------------------


def hkdf_extract(salt, ikm):
    return hmac.new(salt, ikm, hashlib.sha256).digest()


def hkdf_expand(prk, info, length):
    out, block, i = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([i]), hashlib.sha256).digest()
        out += block
        i += 1
    return out[:length]


def header(key_id, aead):
    return bytes([key_id]) + KEM_X25519.to_bytes(2, "big") + KDF_SHA256.to_bytes(2, "big") + aead.to_bytes(2, "big")


def client_encapsulate(key_id, pk, aead, request, eks=None):
    """Section 4.3; returns the encapsulated request and what opens the answer."""
    hdr = header(key_id, aead)
    s = suite(aead)
    enc, ctx = s.create_sender_context(
        s.kem.deserialize_public_key(pk), REQUEST_LABEL + b"\x00" + hdr, eks=eks
    )
    ct = ctx.seal(request, b"")
    nk, nn, _ = AEADS[aead]
    secret = ctx.export(RESPONSE_LABEL, max(nk, nn))
    return hdr + enc + ct, {"aead": aead, "enc": enc.hex(), "secret": secret.hex()}


def response_key(aead, enc, secret, response_nonce):
    nk, nn, cls = AEADS[aead]
    prk = hkdf_extract(enc + response_nonce, secret)
    return cls(hkdf_expand(prk, b"key", nk)), hkdf_expand(prk, b"nonce", nn)


def client_open(state, enc_response):
    """Section 4.4, the client's side."""
    aead, enc, secret = state["aead"], bytes.fromhex(state["enc"]), bytes.fromhex(state["secret"])
    nk, nn, _ = AEADS[aead]
    nonce_len = max(nk, nn)
    if len(enc_response) < nonce_len + 16:
        raise Refused("short response")
    key, nonce = response_key(aead, enc, secret, enc_response[:nonce_len])
    try:
        return key.decrypt(nonce, enc_response[nonce_len:], b"")
    except Exception as e:
        raise Refused("response does not open") from e


def gateway_open(pair, key_id, aeads, enc_request):
    """Section 4.3, the gateway's side: the request and the context that seals the answer."""
    if len(enc_request) < 7 + NENC:
        raise Refused("short request")
    hdr, enc, ct = enc_request[:7], enc_request[7 : 7 + NENC], enc_request[7 + NENC :]
    aead = int.from_bytes(hdr[5:7], "big")
    if hdr[0] != key_id:
        raise Refused("unknown key id")
    if hdr[1:5] != header(key_id, aead)[1:5] or aead not in aeads:
        raise Refused("unsupported algorithms")
    s = suite(aead)
    try:
        ctx = s.create_recipient_context(enc, pair.private_key, REQUEST_LABEL + b"\x00" + hdr)
        request = ctx.open(ct, b"")
    except Exception as e:
        raise Refused("request does not open") from e
    return request, (aead, enc, ctx)


def gateway_seal(opened, response, response_nonce=None):
    """Section 4.4, the gateway's side."""
    aead, enc, ctx = opened
    nk, nn, _ = AEADS[aead]
    response_nonce = response_nonce or os.urandom(max(nk, nn))
    secret = ctx.export(RESPONSE_LABEL, max(nk, nn))
    key, nonce = response_key(aead, enc, secret, response_nonce)
    return response_nonce + key.encrypt(nonce, response, b"")


# --- RFC 9458, appendix A --------------------------------------------------------------------

A_SKR = "3c168975674b2fa8e465970b79c8dcf09f1c741626480bd4c6162fc5b6a98e1a"
A_CONFIG = "01002031e1f05a740102115220e9af918f738674aec95f54db6e04eb705aae8e79815500080001000100010003"
A_SKE = "bc51d5e930bda26589890ac7032f70ad12e4ecb37abb1b65b1256c9c48999c73"
A_REQUEST = "00034745540568747470730b6578616d706c652e636f6d012f"
A_ENC_REQUEST = (
    "010020000100014b28f881333e7c164ffc499ad9796f877f4e1051ee6d31bad19dec96c208b472"
    "6374e469135906992e1268c594d2a10c695d858c40a026e7965e7d86b83dd440b2c0185204b4d63525"
)
A_RESPONSE = "0140c8"
A_RESPONSE_NONCE = "c789e7151fcba46158ca84b04464910d"
A_ENC_RESPONSE = "c789e7151fcba46158ca84b04464910d86f9013e404feea014e7be4a441f234f857fbd"


def keypair_from_private(sk_hex, aead):
    sk = bytes.fromhex(sk_hex)
    pk = X25519PrivateKey.from_private_bytes(sk).public_key().public_bytes_raw()
    kem = suite(aead).kem
    return KEMKeyPair(kem.deserialize_private_key(sk), kem.deserialize_public_key(pk))


def vectors():
    checks = []
    (key_id, pk, aeads), = read_key_configs(len(bytes.fromhex(A_CONFIG)).to_bytes(2, "big") + bytes.fromhex(A_CONFIG))
    aead = aeads[0]
    gateway = keypair_from_private(A_SKR, aead)
    checks.append(("gateway public key", gateway.public_key.to_public_bytes() == pk))
    # The client's side, with the RFC's ephemeral key
    enc_request, state = client_encapsulate(
        key_id, pk, aead, bytes.fromhex(A_REQUEST), eks=keypair_from_private(A_SKE, aead)
    )
    checks.append(("encapsulated request", enc_request.hex() == A_ENC_REQUEST))
    checks.append(("response opened", client_open(state, bytes.fromhex(A_ENC_RESPONSE)).hex() == A_RESPONSE))
    # The gateway's side, with the RFC's response nonce
    request, opened = gateway_open(gateway, key_id, aeads, bytes.fromhex(A_ENC_REQUEST))
    checks.append(("request opened", request.hex() == A_REQUEST))
    checks.append(("request read", decode_request(request)["path"] == "/"))
    sealed = gateway_seal(opened, bytes.fromhex(A_RESPONSE), bytes.fromhex(A_RESPONSE_NONCE))
    checks.append(("encapsulated response", sealed.hex() == A_ENC_RESPONSE))
    checks.append(("response read", decode_response(bytes.fromhex(A_RESPONSE))["status"] == 200))
    failed = [name for name, ok in checks if not ok]
    if failed:
        raise Refused("appendix A differs: " + ", ".join(failed))
    return "ok"


def main(argv):
    command, args = argv[0], argv[1:]
    if command == "vectors":
        return vectors()
    if command == "client-encapsulate":
        configs = read_key_configs(bytes.fromhex(args[0]))
        if not configs:
            raise Refused("no usable key configuration")
        key_id, pk, aeads = configs[0]
        r = json.loads(args[1])
        request = encode_request(
            r["method"], r["scheme"], r["authority"], r["path"], r["fields"], bytes.fromhex(r["content"])
        )
        enc_request, state = client_encapsulate(key_id, pk, aeads[0], request)
        return json.dumps({"request": enc_request.hex(), "state": state})
    if command == "client-open":
        return json.dumps(decode_response(client_open(json.loads(args[0]), bytes.fromhex(args[1]))))
    aeads = [int(a, 16) for a in args[2].split(",")]
    pair, config = gateway_keys(bytes.fromhex(args[0]), int(args[1]), aeads)
    if command == "gateway-config":
        return (len(config).to_bytes(2, "big") + config).hex()
    if command == "gateway-answer":
        request, opened = gateway_open(pair, int(args[1]), aeads, bytes.fromhex(args[3]))
        echo = json.dumps(decode_request(request)).encode()
        response = encode_response(200, [["content-type", "application/json"]], echo)
        return gateway_seal(opened, response).hex()
    raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    try:
        print(main(sys.argv[1:]))
    except Refused as e:
        print(f"refused: {e}", file=sys.stderr)
        sys.exit(2)
