// Independent check of seal.json with Node's OpenSSL-backed AES-256-GCM (what WebCrypto does):
// node protocol/vectors/check_seal_node.mjs
import { readFileSync } from "node:fs";
import { createDecipheriv, createHash } from "node:crypto";
const v = JSON.parse(readFileSync(new URL("./seal.json", import.meta.url)));
const hex = (s) => Buffer.from(s.replace(/^0x/, ""), "hex");
const key = hex(v.key);
let n = 0;
for (const c of v.cases) {
  const header = hex(c.header);
  if (!header.subarray(0, 6).equals(Buffer.from("DLSEAL"))) throw new Error("magic");
  const out = [];
  for (const ch of c.chunks) {
    const ct = hex(ch.ciphertext_and_tag);
    const d = createDecipheriv("aes-256-gcm", key, hex(ch.iv));
    d.setAAD(header);
    d.setAuthTag(ct.subarray(ct.length - 16));
    out.push(d.update(ct.subarray(0, ct.length - 16)), d.final());
    n++;
  }
  if (!Buffer.concat(out).equals(hex(c.plaintext))) throw new Error("plaintext mismatch");
  const sealed = Buffer.concat([header, ...c.chunks.map((ch) => hex(ch.ciphertext_and_tag))]);
  if (!sealed.equals(hex(c.sealed))) throw new Error("layout mismatch");
}
console.log(`seal.json: ${v.cases.length} cases, ${n} chunks opened by node:crypto`);
