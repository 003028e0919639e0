// The page's deployment configuration: which chain and contracts, where the cloud is.
// Served beside the page as `config.json` (the cloud writes it from its own configuration).
//
// {
//   "chainId": 31337, "chainName": "anvil (local)", "fromBlock": 0,
//   "contracts": { "evidenceFactory": "0x…", "searchContract": "0x…",
//                  "requestFactory": "0x…", "responseContract": "0x…" },
//   "cloudUrl": ""            // optional; '' = the origin that served the page
// }

import { getAddress } from 'viem';

const CONTRACT_KEYS = ['evidenceFactory', 'searchContract', 'requestFactory', 'responseContract'];

/** Validates a configuration object; throws naming the first bad field. */
export function parseConfig(raw) {
  if (!raw || typeof raw !== 'object') throw new Error('config.json is not a JSON object');
  const chainId = Number(raw.chainId ?? raw.chain_id);
  if (!Number.isSafeInteger(chainId) || chainId <= 0) throw new Error(`config.json: chainId must be a positive integer, got ${JSON.stringify(raw.chainId)}`);
  const src = raw.contracts ?? raw;
  const contracts = {};
  for (const k of CONTRACT_KEYS) {
    const snake = k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    const v = src[k] ?? src[snake] ?? src[k[0].toUpperCase() + k.slice(1)];
    try {
      contracts[k] = getAddress(v);
    } catch {
      throw new Error(`config.json: contracts.${k} must be an address, got ${JSON.stringify(v)}`);
    }
  }
  return {
    chainId,
    chainName: raw.chainName ?? raw.chain_name ?? `chain ${chainId}`,
    fromBlock: Number(raw.fromBlock ?? raw.from_block ?? raw.startBlock ?? raw.start_block ?? 0),
    contracts,
    cloudUrl: raw.cloudUrl ?? raw.cloud_url ?? '',
  };
}

export async function loadConfig(url = './config.json') {
  let resp;
  try {
    resp = await fetch(url, { cache: 'no-store' });
  } catch (e) {
    throw new Error(`could not load ${url}: the server that served this page is not reachable (${e?.message ?? e})`);
  }
  if (!resp.ok) throw new Error(`could not load ${url}: HTTP ${resp.status}`);
  let raw;
  try {
    raw = await resp.json();
  } catch {
    throw new Error(`${url} is not valid JSON`);
  }
  return parseConfig(raw);
}
