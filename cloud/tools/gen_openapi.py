#!/usr/bin/env python3
"""Writes docs/api/openapi.json, the OpenAPI 3.1 description of dashledger-cloud's HTTP API.
Hand-maintained next to the handlers in cloud/src/api; run after changing a route:
    python3 cloud/tools/gen_openapi.py
"""
import json, pathlib

ERR = {"$ref": "#/components/schemas/Error"}
def err(desc): return {"description": desc, "content": {"application/json": {"schema": ERR}}}
def ok(desc, schema=None, ctype="application/json"):
    r = {"description": desc}
    if schema is not None: r["content"] = {ctype: {"schema": schema}}
    return r
def jbody(schema): return {"required": True, "content": {"application/json": {"schema": schema}}}
OBJ = {"type": "object"}
ADMIN = [{"admin": []}]
SIGNED = [{"signedRequest": []}]
def p(name, where="path", schema=None, desc="", required=True):
    return {"name": name, "in": where, "required": required, "description": desc, "schema": schema or {"type": "string"}}
ID = p("id", desc="upload id (32 lowercase hex digits); a capability: keep it secret")
ADDR = p("address", desc="device address, 0x + 40 hex")
EC = p("ec", desc="Evidence Contract address")
C4 = {"400": err("malformed request"), "401": err("missing/bad credentials"), "403": err("not allowed"), "404": err("not found")}

paths = {
  "/healthz": {"get": {"summary": "Liveness", "responses": {"200": ok("alive", OBJ)}}},
  "/readyz": {"get": {"summary": "Readiness: database reachable with current schema, blob store writable",
                      "responses": {"200": ok("ready", OBJ), "503": ok("not ready; `problems` lists why", OBJ)}}},
  "/metrics": {"get": {"summary": "Prometheus metrics (text format 0.0.4)", "responses": {"200": ok("metrics", {"type": "string"}, "text/plain")}}},
  "/openapi.json": {"get": {"summary": "This document", "responses": {"200": ok("OpenAPI 3.1", OBJ)}}},
  "/config.json": {"get": {"summary": "The web page's deployment configuration, built from the deployment file (chain.deployment_file)",
            "responses": {"200": ok("configuration", {"type": "object", "required": ["chainId", "chainName", "fromBlock", "contracts", "cloudUrl"], "properties": {
                "chainId": {"type": "integer"}, "chainName": {"type": "string"}, "fromBlock": {"type": "integer", "description": "the deployment's startBlock"},
                "contracts": {"type": "object", "properties": {k: {"type": "string"} for k in ["evidenceFactory", "searchContract", "requestFactory", "responseContract"]}},
                "cloudUrl": {"type": "string", "description": "API base URL; empty = the page's origin"}}}),
                          "503": err("no usable deployment file")}}},
  "/": {"get": {"summary": "The requester's web page (files of web.dir, i.e. the built web/dist; any other GET path not under /v1/ is a file of it)",
            "responses": {"200": ok("index.html", {"type": "string"}, "text/html"), "400": err("path refused (traversal)"),
                          "404": err("no such file, or no web.dir configured (error no_web_page)")}}},
  "/v1/admin/devices": {
    "post": {"summary": "Register a device key (idempotent); optionally approve it at once", "security": ADMIN,
             "requestBody": jbody({"type": "object", "required": ["address"], "properties": {
                 "address": {"type": "string"}, "label": {"type": "string", "maxLength": 200}, "approve": {"type": "boolean", "default": False}}}),
             "responses": {"201": ok("registered", {"$ref": "#/components/schemas/Device"}), "200": ok("already registered", {"$ref": "#/components/schemas/Device"}), **C4}},
    "get": {"summary": "List devices", "security": ADMIN, "parameters": [p("status", "query", {"enum": ["pending", "approved", "revoked"]}, required=False)],
            "responses": {"200": ok("devices", {"type": "array", "items": {"$ref": "#/components/schemas/Device"}}), **C4}}},
  "/v1/admin/devices/{address}": {"get": {"summary": "One device", "security": ADMIN, "parameters": [ADDR],
            "responses": {"200": ok("device", {"$ref": "#/components/schemas/Device"}), **C4}}},
  "/v1/admin/devices/{address}/approve": {"post": {"summary": "Approve a device (its records are then accepted)", "security": ADMIN, "parameters": [ADDR],
            "responses": {"200": ok("device", {"$ref": "#/components/schemas/Device"}), **C4}}},
  "/v1/admin/devices/{address}/revoke": {"post": {"summary": "Revoke a device (its records and uploads are refused)", "security": ADMIN, "parameters": [ADDR],
            "responses": {"200": ok("device", {"$ref": "#/components/schemas/Device"}), **C4}}},
  "/v1/admin/alarms": {"get": {"summary": "Chain alarms (gap, fork, break, reordered), oldest first", "security": ADMIN,
            "parameters": [p("device", "query", required=False), p("kind", "query", {"enum": ["gap", "fork", "break", "reordered"]}, required=False),
                           p("after", "query", {"type": "integer"}, "only ids greater than this", False), p("limit", "query", {"type": "integer", "minimum": 1, "maximum": 1000}, required=False),
                           p("all", "query", {"type": "boolean"}, "include acknowledged alarms", False)],
            "responses": {"200": ok("alarms", {"type": "object", "properties": {"alarms": {"type": "array", "items": {"$ref": "#/components/schemas/Alarm"}}, "next_after": {"type": ["integer", "null"]}}}), **C4}}},
  "/v1/admin/alarms/{id}/ack": {"post": {"summary": "Acknowledge an alarm", "security": ADMIN, "parameters": [p("id", schema={"type": "integer"})],
            "responses": {"200": ok("acknowledged", OBJ), **C4}}},
  "/v1/evidence": {"post": {"summary": "Ingest a batch of signed evidence records (all-or-nothing, idempotent)",
            "description": "Each record is the protocol's 161-byte signed evidence record. The batch is refused whole if any record is malformed, badly signed, or from an unknown, pending or revoked device. Chain findings are returned and stored as alarms.",
            "requestBody": {"required": True, "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary", "description": "concatenated 161-byte signed records"}},
                "application/json": {"schema": {"type": "object", "required": ["records"], "properties": {"records": {"type": "array", "items": {"type": "string", "description": "0x + 322 hex"}}}}}}},
            "responses": {"200": ok("stored", {"$ref": "#/components/schemas/IngestResult"}), "413": err("too many records"), "415": err("wrong content type"), **C4}}},
  "/v1/uploads": {"post": {"summary": "Open (or resume) the upload of a sealed clip for an EC", "security": SIGNED,
            "requestBody": jbody({"type": "object", "required": ["ec_address", "size", "leaves", "frames_root"], "properties": {
                "ec_address": {"type": "string"}, "size": {"type": "integer", "description": "sealed clip bytes"},
                "leaves": {"type": "string", "description": "0x + hex of the concatenated 32-byte per-second leaves"},
                "frames_root": {"type": "string", "description": "must equal the protocol frames root of leaves"}}}),
            "responses": {"201": ok("opened", {"$ref": "#/components/schemas/Upload"}), "200": ok("an open upload for this EC by this device: resume it", {"$ref": "#/components/schemas/Upload"}),
                          "409": err("already uploaded / taken"), "413": err("clip too large"), "422": err("frames_root does not match the leaves"), **C4}}},
  "/v1/uploads/{id}": {
    "get": {"summary": "Upload status (resume at `received`)", "parameters": [ID], "responses": {"200": ok("status", {"$ref": "#/components/schemas/Upload"}), **C4}},
    "delete": {"summary": "Abort an open upload (spooled bytes are deleted)", "parameters": [ID], "responses": {"200": ok("aborted", OBJ), "409": err("not open"), **C4}}},
  "/v1/uploads/{id}/chunks/{offset}": {"put": {"summary": "Append bytes at exactly the acknowledged offset",
            "description": "Streamed to the spool and hashed while streaming; durable (fsync) before the answer. Body at most upload.max_chunk_bytes; a failed chunk leaves nothing.",
            "parameters": [ID, p("offset", schema={"type": "integer"})],
            "requestBody": {"required": True, "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
            "responses": {"200": ok("acknowledged", {"$ref": "#/components/schemas/Upload"}), "409": err("offset mismatch (message says where to resume), upload not open, or another chunk in progress"),
                          "413": err("chunk too large or beyond the declared size"), "415": err("not application/octet-stream"), **C4}}},
  "/v1/uploads/{id}/thumbnails/{which}": {"put": {"summary": "Upload the first or last thumbnail (JPEG); keccak256(first) is the EC's frameHash",
            "parameters": [ID, p("which", schema={"enum": ["first", "last"]})],
            "requestBody": {"required": True, "content": {"image/jpeg": {"schema": {"type": "string", "format": "binary"}}}},
            "responses": {"200": ok("stored", {"$ref": "#/components/schemas/Upload"}), "413": err("too large"), "415": err("not image/jpeg"), "422": err("not a JPEG"), **C4}}},
  "/v1/uploads/{id}/complete": {"post": {"summary": "Finish: the clip moves atomically into blob storage; the verifier takes it from here (idempotent)",
            "parameters": [ID], "responses": {"200": ok("stored", {"type": "object", "properties": {"ec_address": {"type": "string"}, "size": {"type": "integer"}, "cipher_hash": {"type": "string"}, "frame_hash": {"type": "string"}, "status": {"type": "string"}}}),
                                               "409": err("incomplete (message says where to resume) or the first thumbnail is missing"), **C4}}},
  "/v1/clips": {"get": {"summary": "Search listed (verified) clips by time and place, paginated",
            "parameters": [p("from", "query", {"type": "integer"}, "unix seconds, inclusive"), p("to", "query", {"type": "integer"}, "unix seconds, inclusive"),
                           p("lat", "query", {"type": "number"}, required=False), p("lon", "query", {"type": "number"}, required=False), p("radius_m", "query", {"type": "number"}, "metres, at most 200 km", False),
                           p("min_lat", "query", {"type": "number"}, required=False), p("max_lat", "query", {"type": "number"}, required=False),
                           p("min_lon", "query", {"type": "number"}, required=False), p("max_lon", "query", {"type": "number"}, required=False),
                           p("limit", "query", {"type": "integer"}, "default 50", False), p("cursor", "query", desc="next_cursor of the previous page", required=False)],
            "responses": {"200": ok("a page", {"type": "object", "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Clip"}}, "next_cursor": {"type": ["string", "null"]}}}), **C4}}},
  "/v1/clips/{ec}": {"get": {"summary": "One listed clip", "parameters": [EC], "responses": {"200": ok("clip", {"$ref": "#/components/schemas/Clip"}), **C4}}},
  "/v1/clips/{ec}/thumbnails/{which}": {"get": {"summary": "Thumbnail of a listed clip", "parameters": [EC, p("which", schema={"enum": ["first", "last"]})],
            "responses": {"200": ok("JPEG", {"type": "string", "format": "binary"}, "image/jpeg"), **C4}}},
  "/v1/owner/requests": {"get": {"summary": "Requests for the signing owner key's ECs (from the indexer)", "security": SIGNED,
            "parameters": [p("state", "query", {"enum": ["Open", "Responded", "Declined", "Cancelled", "Completed", "Disputed", "Claimed", "ResolvedForOwner", "ResolvedForRequester", "DisputeExpired"]}, required=False)],
            "responses": {"200": ok("requests", {"type": "array", "items": {"$ref": "#/components/schemas/Request"}}), **C4}}},
  "/v1/clips/{ec}/download": {"get": {"summary": "Download the sealed clip: signed by the requester of a Completed request contract for this EC (checked on chain)",
            "security": SIGNED, "parameters": [EC, p("reqc", "query", desc="the request contract"), p("Range", "header", desc="optional single range, bytes=a-b", required=False)],
            "responses": {"200": ok("the sealed clip", {"type": "string", "format": "binary"}, "application/octet-stream"), "206": ok("the requested range", {"type": "string", "format": "binary"}, "application/octet-stream"),
                          "416": err("unsatisfiable range"), "503": err("chain features off"), **C4}}},
  "/v1/relay/evidence": {"post": {"summary": "Relay an owner's EIP-712-signed EC creation (the cloud pays gas); rate-limited per device", "security": SIGNED,
            "requestBody": jbody({"type": "object", "required": ["evidence", "owner", "deadline", "signature"], "properties": {
                "evidence": {"type": "object", "description": "IEvidenceFactory.EvidenceParams with camelCase names; hashes and bytes as 0x hex"},
                "owner": {"type": "string"}, "deadline": {"type": "integer"}, "signature": {"type": "string", "description": "65 bytes r||s||v"}}}),
            "responses": {"201": ok("submitted and mined", {"type": "object", "properties": {"ec_address": {"type": "string"}, "tx_hash": {"type": "string"}}}),
                          "422": err("would revert / expired"), "429": err("rate limited"), "503": err("chain features off"), **C4}}},
  "/v1/disputes/{reqc}": {"post": {"summary": "Resolve a Disputed request: checks the kfrag against the capsule owner's key, the EC owner (signer) and the requester's key, then sends resolve(valid)",
            "parameters": [p("reqc", desc="request contract")],
            "responses": {"200": ok("resolved", {"type": "object", "properties": {"reqc": {"type": "string"}, "kfrag_valid": {"type": "boolean"}, "tx_hash": {"type": "string"}}}),
                          "409": err("not Disputed"), "503": err("chain features off"), **C4}}},
}

doc = {
  "openapi": "3.1.0",
  "info": {"title": "dashledger cloud", "version": "0.1.0", "license": {"name": "GPL-3.0-only", "identifier": "GPL-3.0-only"},
           "description": "Device registry, evidence ingest, resumable uploads and search. Every error is a JSON body {error, message}; client mistakes are 4xx. See docs/cloud.md."},
  "paths": paths,
  "components": {
    "securitySchemes": {
      "admin": {"type": "http", "scheme": "bearer", "description": "the operator's admin token"},
      "signedRequest": {"type": "apiKey", "in": "header", "name": "x-dashledger-signature",
                        "description": "protocol signed request: headers x-dashledger-address, -nonce, -expires, -signature (EIP-191 over the canonical text binding chain id, method, path+query, keccak256(body), nonce, expiry). Nonces are single-use."}},
    "schemas": {
      "Error": {"type": "object", "required": ["error", "message"], "properties": {"error": {"type": "string", "description": "stable machine code"}, "message": {"type": "string"}}},
      "Device": {"type": "object", "properties": {"address": {"type": "string"}, "status": {"enum": ["pending", "approved", "revoked"]}, "label": {"type": "string"},
                 "last_seq": {"type": ["integer", "null"]}, "created_at": {"type": "integer"}, "updated_at": {"type": "integer"}}},
      "Alarm": {"type": "object", "properties": {"id": {"type": "integer"}, "device": {"type": "string"}, "kind": {"enum": ["gap", "fork", "break", "reordered"]},
                "seq": {"type": "integer"}, "detail": {"type": "string"}, "created_at": {"type": "integer"}, "acknowledged_at": {"type": ["integer", "null"]}}},
      "IngestResult": {"type": "object", "properties": {"accepted": {"type": "integer"}, "duplicates": {"type": "integer"},
                       "findings": {"type": "array", "items": {"type": "object", "properties": {"device": {"type": "string"}, "kind": {"type": "string"}, "seq": {"type": "integer"}, "detail": {"type": "string"}}}}}},
      "Upload": {"type": "object", "properties": {"upload_id": {"type": "string"}, "ec_address": {"type": "string"}, "size": {"type": "integer"}, "received": {"type": "integer"},
                 "state": {"enum": ["open", "complete", "aborted"]}, "max_chunk_bytes": {"type": "integer"},
                 "thumbnails": {"type": "object", "properties": {"first": {"type": "boolean"}, "last": {"type": "boolean"}}}}},
      "Request": {"type": "object", "properties": {"reqc": {"type": "string"}, "ec_address": {"type": "string"}, "requester": {"type": "string"}, "owner": {"type": "string"},
                  "state": {"type": "string"}, "block_number": {"type": "integer"}}},
      "Clip": {"type": "object", "properties": {"ec_address": {"type": "string"}, "recorded_at": {"type": "integer"}, "lat": {"type": "number"}, "lon": {"type": "number"},
               "status": {"type": "string"}, "thumbnails": {"type": "object", "properties": {"first": {"type": "string"}, "last": {"type": "string"}}}}},
    }},
}
out = pathlib.Path(__file__).resolve().parents[2] / "docs" / "api" / "openapi.json"
out.write_text(json.dumps(doc, indent=1) + "\n")
print(out)
