#!/usr/bin/env python3
"""Regenerates the known-answer vectors that come from Foundry's `cast` (an independent
implementation): keccak.json, records.json, keys.json, keystore-cast.json, release-cast.json.

Run from the repository root: python3 protocol/vectors/gen_cast_vectors.py
The Rust tests (protocol/tests/vectors.rs) check the crate against these files."""
import json, os, subprocess, tempfile, datetime

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CAST = os.path.join(ROOT, "node_modules", ".bin", "cast")
OUT = os.path.dirname(os.path.abspath(__file__))

def cast(*args, stdin=None):
    return subprocess.run([CAST, *args], check=True, capture_output=True, text=True, input=stdin).stdout.strip()

def pattern(n):
    return bytes((i * 31 % 251) for i in range(n))

# --- keccak -------------------------------------------------------------------------------
keccak = []
for n in [0, 1, 3, 135, 136, 137, 1000, 65535, 65536, 65537, 200_000]:
    data = pattern(n)
    keccak.append({"len": n, "pattern": "byte i = (i * 31) % 251", "keccak256": cast("keccak", stdin="0x" + data.hex())})
keccak.append({"utf8": "abc", "keccak256": cast("keccak", "abc")})
json.dump({"source": "cast keccak (Foundry)", "vectors": keccak}, open(os.path.join(OUT, "keccak.json"), "w"), indent=1)

# --- records ------------------------------------------------------------------------------
KEY0 = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
addr = cast("wallet", "address", "--private-key", KEY0)
records = []
for seq, when, prev_s, this_s in [
    (0, "2026-11-23T17:14:00", None, "segment-0"),
    (7, "2026-11-23T17:15:00", "prev", "this"),
    (4294967295, "2000-02-29T23:59:59", "a", "b"),
]:
    t = datetime.datetime.fromisoformat(when)
    prev = bytes(32) if prev_s is None else bytes.fromhex(cast("keccak", prev_s)[2:])
    this = bytes.fromhex(cast("keccak", this_s)[2:])
    rec = (seq.to_bytes(4, "big") + b"\x01" + bytes.fromhex(addr[2:]) +
           t.year.to_bytes(2, "big") + bytes([t.month, t.day, t.hour, t.minute, t.second]) + prev + this)
    assert len(rec) == 96
    msg = b"dashledger:record:v1" + rec
    sig = cast("wallet", "sign", "--private-key", KEY0, "0x" + msg.hex())
    records.append({
        "seq": seq, "start_utc": when + "Z", "device": addr, "prev_hash": "0x" + prev.hex(),
        "segment_hash": "0x" + this.hex(), "record": "0x" + rec.hex(), "signature": sig,
        "signed_record": "0x" + rec.hex() + sig[2:],
    })
json.dump({"source": "layout built in Python, signature by `cast wallet sign` (EIP-191)",
           "private_key": KEY0, "vectors": records}, open(os.path.join(OUT, "records.json"), "w"), indent=1)

# --- BIP-32 owner keys ----------------------------------------------------------------------
M = "test test test test test test test test test test test junk"
keys = []
# The last two: accident owner Umbral keys (their scalar's Ethereum address).
for path in ["m/44'/60'/0'/0/0", "m/44'/60'/7'/0/0", "m/44'/60'/7'/0/1", "m/44'/60'/7'/0/41",
             "m/44'/60'/7'/1'/0'", "m/44'/60'/7'/1'/41'"]:
    keys.append({"path": path, "address": cast("wallet", "address", "--mnemonic", M, "--mnemonic-derivation-path", path)})
json.dump({"source": "cast wallet address --mnemonic ... --mnemonic-derivation-path ...",
           "mnemonic": M, "passphrase": "", "vectors": keys}, open(os.path.join(OUT, "keys.json"), "w"), indent=1)

# --- a standard v3 keystore made by cast ------------------------------------------------------
with tempfile.TemporaryDirectory() as d:
    cast("wallet", "import", "--keystore-dir", d, "--private-key", KEY0, "--unsafe-password", "dashledger", "k")
    ks = json.load(open(os.path.join(d, "k")))
json.dump({"source": "cast wallet import --unsafe-password dashledger", "password": "dashledger",
           "private_key": KEY0, "keystore": ks}, open(os.path.join(OUT, "keystore-cast.json"), "w"), indent=1)
# --- window release: key tree derivation (docs/formats.md, "Window release") ------------------
def release_cast():
    session = bytes(range(32))
    tag, ntag = b"dashledger:key-tree:v1".hex(), b"dashledger:key-node:v1".hex()
    root = cast("keccak", "0x" + tag + (60).to_bytes(4, "big").hex() + session.hex())
    def walk(key, sides):
        for side in sides:
            key = cast("keccak", "0x" + ntag + ("01" if side else "00") + key[2:])
        return key
    # Depth 6 for 60 chunks; node (depth, index) is reached by the bits of index, high first.
    nodes = [(6, 0), (6, 59), (4, 5), (3, 3)]
    out = [{"depth": d, "index": i, "key": walk(root, [(i >> (d - 1 - b)) & 1 for b in range(d)])}
           for d, i in nodes]
    json.dump({"source": "cast keccak over the preimages of docs/formats.md", "session_key": "0x" + session.hex(),
               "chunks": 60, "nodes": out}, open(os.path.join(OUT, "release-cast.json"), "w"), indent=1)
release_cast()
print("ok")
