"""Schemathesis hooks for scripts/fuzz-api: requests to the unit routes (/v1/units/...) are signed
with the unit's key, as a desk signs them (request signing v2, docs/protocol.md section 10.5), so
that the fuzzer reaches the handlers behind the signature check instead of only its refusals.

The unit's key file is the one `tipline-server --dev` wrote (TIPLINE_FUZZ_UNIT_KEY); every
generated `unit_id` in a path is that unit's, so the signature names the unit of the path.
Each call is signed afresh (new timestamp and nonce) over the exact method, path and query, and
body bytes the transport sends.
"""

import base64
import hashlib
import json
import os
import secrets
import time

import requests
import schemathesis
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

CONTEXT = b"tipline request v2"
UNIT_PREFIX = "/v1/units/"
# Arguments of requests.Request among what the transport would send.
REQUEST_ARGS = ("method", "url", "headers", "files", "data", "params", "cookies", "json")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


with open(os.environ["TIPLINE_FUZZ_UNIT_KEY"], encoding="utf-8") as key_file:
    _KEYS = json.load(key_file)
UNIT_ID = _KEYS["unit_id"]
SIGNING_KEY = Ed25519PrivateKey.from_private_bytes(_unb64(_KEYS["signing_seed"]))


def _is_unit_route(case) -> bool:
    return case.operation.path.startswith(UNIT_PREFIX)


@schemathesis.hook
def map_path_parameters(context, path_parameters):
    if path_parameters and "unit_id" in path_parameters:
        path_parameters["unit_id"] = UNIT_ID
    return path_parameters


def signature_headers(method: str, path_and_query: str, body: bytes) -> dict:
    """The five headers of a request signed now with a fresh nonce."""
    timestamp = str(int(time.time()))
    nonce = _b64(secrets.token_bytes(16))
    digest = hashlib.sha256(body).hexdigest()
    signed = b"\n".join(
        [
            CONTEXT + b"\x00" + method.encode(),
            path_and_query.encode(),
            timestamp.encode(),
            nonce.encode(),
            digest.encode(),
        ]
    )
    return {
        "tipline-unit": UNIT_ID,
        "tipline-timestamp": timestamp,
        "tipline-nonce": nonce,
        "tipline-content-sha256": digest,
        "tipline-signature": _b64(SIGNING_KEY.sign(signed)),
    }


@schemathesis.hook
def before_call(context, case, kwargs):
    if not _is_unit_route(case):
        return
    # What the transport will send: prepared the way requests prepares it, for the exact bytes.
    sent = case.as_transport_kwargs()
    prepared = requests.Request(**{k: v for k, v in sent.items() if k in REQUEST_ARGS}).prepare()
    body = prepared.body or b""
    if isinstance(body, str):
        body = body.encode()
    headers = dict(case.headers or {})
    headers.update(signature_headers(prepared.method, prepared.path_url, body))
    case.headers = headers
