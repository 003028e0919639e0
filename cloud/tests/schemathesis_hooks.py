"""Schemathesis hooks for fuzzing dashledger-cloud (run by cloud/tests/schemathesis.rs).

Operator routes get the admin bearer token; signed routes get a marker in the
`x-dashledger-signature` header (the security scheme's header) and, just before sending, a real
signature over the exact request (chain id, method, path and query as sent, keccak256 of the
body bytes, a fresh nonce, an expiry) by an approved device key: the signed routes are fuzzed
past authentication, not only refused. Probes that remove or replace the credentials (the
`ignored_auth` check) remove the marker, so those requests go out unsigned and must be refused.

Environment: DASHLEDGER_FUZZ_ADMIN_TOKEN, DASHLEDGER_FUZZ_DEVICE_KEY (hex), DASHLEDGER_FUZZ_CHAIN_ID.
"""

import os
import secrets
import time

import requests
import schemathesis
from hypothesis import strategies as st
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import keccak

# C2PA sidecars (`PUT /v1/uploads/{id}/c2pa`, `application/c2pa`): bytes shaped like a JUMBF
# manifest store (a `jumb` superbox whose description box names `c2pa`, then anything), and
# arbitrary bytes, which the cloud refuses with 422 `not_c2pa`.
_JUMBF_HEAD = b"\x00\x00\x00\x40jumb\x00\x00\x00\x38jumdc2pa\x00\x11\x00\x10\x80\x00\x00\xaa\x00\x38\x9b\x71\x03c2pa\x00"
schemathesis.openapi.media_type(
    "application/c2pa",
    st.one_of(
        st.binary(min_size=0, max_size=256).map(lambda tail: _JUMBF_HEAD + tail),
        st.binary(max_size=64),
    ),
)

MARKER = "sign-me"
ADMIN = os.environ["DASHLEDGER_FUZZ_ADMIN_TOKEN"]
DEVICE = Account.from_key(bytes.fromhex(os.environ["DASHLEDGER_FUZZ_DEVICE_KEY"].removeprefix("0x")))
CHAIN_ID = int(os.environ.get("DASHLEDGER_FUZZ_CHAIN_ID", "31337"))


def _security(case):
    names = set()
    for req in case.operation.definition.raw.get("security", []) or []:
        names.update(req.keys())
    return names


@schemathesis.auth()
class Credentials:
    """The admin token for operator routes; the signing marker for signed routes."""

    def get(self, case, ctx):
        return ADMIN

    def set(self, case, data, ctx):
        sec = _security(case)
        case.headers = case.headers or {}
        if "admin" in sec:
            case.headers["Authorization"] = f"Bearer {data}"
        if "signedRequest" in sec:
            case.headers["x-dashledger-signature"] = MARKER


class SignRequest(requests.auth.AuthBase):
    """Signs the prepared request (protocol `auth`, docs/formats.md "Signed API requests")."""

    def __call__(self, r):
        body = r.body or b""
        if isinstance(body, str):
            body = body.encode()
        nonce = secrets.token_hex(16)
        expires = int(time.time()) + 120
        text = "\n".join(
            [
                "dashledger API request v1",
                f"chain-id: {CHAIN_ID}",
                f"method: {r.method.upper()}",
                f"path: {r.path_url}",
                f"body-keccak256: 0x{keccak(body).hex()}",
                f"nonce: {nonce}",
                f"expires: {expires}",
            ]
        )
        sig = Account.sign_message(encode_defunct(text=text), DEVICE.key).signature
        r.headers["x-dashledger-address"] = DEVICE.address
        r.headers["x-dashledger-nonce"] = nonce
        r.headers["x-dashledger-expires"] = str(expires)
        r.headers["x-dashledger-signature"] = "0x" + bytes(sig).hex()
        return r


@schemathesis.hook
def before_call(ctx, case, kwargs):
    # The case itself is left as generated (schemathesis re-validates a case a hook edits); the
    # signature replaces the marker on the prepared request.
    if (case.headers or {}).get("x-dashledger-signature") == MARKER:
        kwargs["auth"] = SignRequest()
