// Everything the page does on-chain, through the wallet's EIP-1193 provider with viem.
// ABIs come from the forge artifacts copied to protocol/abi/ by scripts/gen-abi (imported at
// build time; only the `abi` member ends up in the bundle).

import {
  createPublicClient,
  createWalletClient,
  custom,
  defineChain,
  getAddress,
  parseEventLogs,
  toHex as viemToHex,
  zeroAddress,
} from 'viem';
import { abi as evidenceFactoryAbi } from '../../protocol/abi/EvidenceFactory.json';
import { abi as evidenceContractAbi } from '../../protocol/abi/EvidenceContract.json';
import { abi as searchAbi } from '../../protocol/abi/SearchContract.json';
import { abi as requestFactoryAbi } from '../../protocol/abi/RequestFactory.json';
import { abi as requestContractAbi } from '../../protocol/abi/RequestContract.json';
import { abi as responseAbi } from '../../protocol/abi/ResponseContract.json';

export const abis = {
  evidenceFactory: evidenceFactoryAbi,
  evidenceContract: evidenceContractAbi,
  search: searchAbi,
  requestFactory: requestFactoryAbi,
  requestContract: requestContractAbi,
  response: responseAbi,
};

/** Every error any of our contracts can revert with, for decoding. */
export const allErrorsAbi = Object.values(abis)
  .flat()
  .filter((x) => x.type === 'error')
  .filter((x, i, arr) => arr.findIndex((y) => y.name === x.name) === i);

export const REQUEST_STATUS = [
  'Open',
  'Responded',
  'Declined',
  'Cancelled',
  'Completed',
  'Disputed',
  'Claimed',
  'ResolvedForOwner',
  'ResolvedForRequester',
  'DisputeExpired',
];
export const EVIDENCE_STATUS = ['Pending', 'Verified', 'Rejected'];

/** A wrong or missing wallet network, with what was expected. */
export class WrongNetworkError extends Error {
  constructor(expected, got) {
    super(`your wallet is on chain ${got}; dashledger here runs on chain ${expected}. Switch networks in your wallet.`);
    this.name = 'WrongNetworkError';
    this.expected = expected;
    this.got = got;
  }
}

export class Chain {
  /**
   * @param provider EIP-1193 provider (window.ethereum)
   * @param config the page configuration (see config.js)
   */
  constructor(provider, config) {
    if (!provider) throw new Error('no wallet found: install an Ethereum wallet (EIP-1193, window.ethereum) and reload');
    this.provider = provider;
    this.config = config;
    this.chain = defineChain({
      id: config.chainId,
      name: config.chainName ?? `chain ${config.chainId}`,
      nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
      rpcUrls: { default: { http: config.rpcUrl ? [config.rpcUrl] : [] } },
    });
    const transport = custom(provider);
    this.public = createPublicClient({ chain: this.chain, transport, pollingInterval: 500 });
    this.wallet = createWalletClient({ chain: this.chain, transport });
    this.account = null;
    this.fromBlock = BigInt(config.fromBlock ?? 0);
    this.addr = config.contracts;
  }

  /** Asks the wallet for accounts; returns the selected one (checksummed). */
  async connect() {
    const accounts = await this.provider.request({ method: 'eth_requestAccounts' });
    if (!accounts?.length) throw new Error('the wallet returned no account');
    this.account = getAddress(accounts[0]);
    return this.account;
  }

  async walletChainId() {
    return Number(BigInt(await this.provider.request({ method: 'eth_chainId' })));
  }

  /** Throws WrongNetworkError unless the wallet is on the configured chain. */
  async checkNetwork() {
    const got = await this.walletChainId();
    if (got !== this.config.chainId) throw new WrongNetworkError(this.config.chainId, got);
    return got;
  }

  /** Asks the wallet to switch to the configured chain. */
  async switchNetwork() {
    await this.provider.request({ method: 'wallet_switchEthereumChain', params: [{ chainId: viemToHex(this.config.chainId) }] });
  }

  async balance(address = this.account) {
    return this.public.getBalance({ address });
  }

  // --- evidence -------------------------------------------------------------------------------

  /** All listed ECs from the SearchContract: [{ ec, recordedAt, latitude, longitude }]. */
  async listings() {
    const count = Number(await this.public.readContract({ address: this.addr.searchContract, abi: searchAbi, functionName: 'count' }));
    const out = [];
    const pageSize = 200;
    for (let offset = 0; offset < count; offset += pageSize) {
      const page = await this.public.readContract({
        address: this.addr.searchContract,
        abi: searchAbi,
        functionName: 'page',
        args: [BigInt(offset), BigInt(pageSize)],
      });
      for (const l of page) {
        out.push({ ec: getAddress(l.ec), recordedAt: Number(l.recordedAt), latitude: l.latitude, longitude: l.longitude });
      }
    }
    return out;
  }

  /** The EC's creation parameters (from the factory's EvidenceCreated log) and status. */
  async evidence(ec) {
    const [logs, status] = await Promise.all([
      this.public.getContractEvents({
        address: this.addr.evidenceFactory,
        abi: evidenceFactoryAbi,
        eventName: 'EvidenceCreated',
        args: { ec },
        fromBlock: this.fromBlock,
      }),
      this.public.readContract({ address: ec, abi: evidenceContractAbi, functionName: 'status' }),
    ]);
    if (!logs.length) throw new Error(`no EvidenceCreated event for ${ec}: not an Evidence Contract of this deployment`);
    const { owner, params } = logs[0].args;
    return {
      ec: getAddress(ec),
      owner: getAddress(owner),
      status: EVIDENCE_STATUS[Number(status)] ?? `status ${status}`,
      videoHash: params.videoHash,
      cipherHash: params.cipherHash,
      frameHash: params.frameHash,
      framesRoot: params.framesRoot,
      keyCommitment: params.keyCommitment,
      recordedAt: Number(params.recordedAt),
      latitude: params.latitude,
      longitude: params.longitude,
      capsule: params.capsule,
      wrappedKey: params.wrappedKey,
      ownerUmbralKey: params.ownerUmbralKey,
    };
  }

  // --- requests -------------------------------------------------------------------------------

  /** What every request of this deployment's RequestFactory costs and allows (view.termsRows). */
  async requestTerms() {
    const rf = { address: this.addr.requestFactory, abi: requestFactoryAbi };
    const [minDeposit, disputeBond, responseWindow, confirmWindow, resolveWindow] = await Promise.all([
      this.public.readContract({ ...rf, functionName: 'minDeposit' }),
      this.public.readContract({ ...rf, functionName: 'disputeBond' }),
      this.public.readContract({ ...rf, functionName: 'responseWindow' }),
      this.public.readContract({ ...rf, functionName: 'confirmWindow' }),
      this.public.readContract({ ...rf, functionName: 'resolveWindow' }),
    ]);
    return { minDeposit, disputeBond, responseWindow: Number(responseWindow), confirmWindow: Number(confirmWindow), resolveWindow: Number(resolveWindow) };
  }

  /** Simulates (for a decoded revert reason) then sends; returns the tx hash. */
  async send({ address, abi, functionName, args = [], value }) {
    if (!this.account) throw new Error('connect your wallet first');
    await this.checkNetwork();
    const { request } = await this.public.simulateContract({ account: this.account, address, abi, functionName, args, value });
    return this.wallet.writeContract(request);
  }

  async wait(hash) {
    const receipt = await this.public.waitForTransactionReceipt({ hash, pollingInterval: 300 });
    if (receipt.status !== 'success') throw new Error(`transaction ${hash} reverted on-chain`);
    return receipt;
  }

  /** Opens a REQC; returns { hash, reqc } once mined. `onSent(hash)` is called as soon as it is sent. */
  async createRequest(ec, requesterUmbralKey, reward, onSent) {
    const hash = await this.send({
      address: this.addr.requestFactory,
      abi: requestFactoryAbi,
      functionName: 'createRequest',
      args: [ec, requesterUmbralKey],
      value: reward,
    });
    onSent?.(hash);
    const receipt = await this.wait(hash);
    const opened = parseEventLogs({ abi: responseAbi, logs: receipt.logs, eventName: 'RequestOpened' });
    if (!opened.length) throw new Error(`transaction ${hash} opened no request (no RequestOpened event)`);
    return { hash, reqc: getAddress(opened[0].args.reqc) };
  }

  /** Requests opened by `requester` (RequestOpened events; requester is not indexed). */
  async requestsBy(requester = this.account) {
    const logs = await this.public.getContractEvents({
      address: this.addr.responseContract,
      abi: responseAbi,
      eventName: 'RequestOpened',
      fromBlock: this.fromBlock,
    });
    return logs
      .filter((l) => l.args.requester.toLowerCase() === requester.toLowerCase())
      .map((l) => ({
        reqc: getAddress(l.args.reqc),
        ec: getAddress(l.args.ec),
        owner: getAddress(l.args.owner),
        requesterUmbralKey: l.args.requesterUmbralKey,
        txHash: l.transactionHash,
      }))
      .reverse();
  }

  /** REQCs addressed to `owner`, newest first, from the ResponseContract. */
  async requestsFor(owner = this.account, limit = 100) {
    const rc = { address: this.addr.responseContract, abi: responseAbi };
    // Cursor paging (returns [page, next]); the first page is the newest `limit`.
    const [reqcs] = await this.public.readContract({ ...rc, functionName: 'requestsOf', args: [owner, zeroAddress, BigInt(limit)] });
    const logs = reqcs.length
      ? await this.public.getContractEvents({ ...rc, eventName: 'RequestOpened', args: { owner }, fromBlock: this.fromBlock })
      : [];
    const keyOf = new Map(logs.map((l) => [l.args.reqc.toLowerCase(), l.args.requesterUmbralKey]));
    return reqcs.map((r) => ({ reqc: getAddress(r), requesterUmbralKey: keyOf.get(r.toLowerCase()) }));
  }

  /** REQC info + what the connected account is owed. */
  async requestInfo(reqc) {
    const c = { address: reqc, abi: requestContractAbi };
    const [info, owed] = await Promise.all([
      this.public.readContract({ ...c, functionName: 'info' }),
      this.account ? this.public.readContract({ ...c, functionName: 'owed', args: [this.account] }) : 0n,
    ]);
    return {
      reqc: getAddress(reqc),
      ec: getAddress(info.ec),
      requester: getAddress(info.requester),
      owner: getAddress(info.owner),
      reward: info.reward,
      deposit: info.deposit,
      respondBy: Number(info.respondBy),
      deadline: Number(info.deadline),
      status: REQUEST_STATUS[Number(info.status)] ?? `status ${info.status}`,
      owed,
    };
  }

  /** The owner's response (kfrag, signer key, link), or null before Responded. */
  async response(reqc) {
    const logs = await this.public.getContractEvents({
      address: reqc,
      abi: requestContractAbi,
      eventName: 'RequestResponded',
      fromBlock: this.fromBlock,
    });
    if (!logs.length) return null;
    const a = logs[0].args;
    return { kfrag: a.kfrag, signerKey: a.ownerUmbralKey, downloadLink: a.downloadLink, deposit: a.deposit, confirmBy: Number(a.confirmBy) };
  }

  async now() {
    const block = await this.public.getBlock();
    return Number(block.timestamp);
  }

  /** REQC transitions: confirm, dispute, cancel, decline, claim, withdraw, respond. */
  async reqcCall(reqc, functionName, args = [], value) {
    const hash = await this.send({ address: reqc, abi: requestContractAbi, functionName, args, value });
    await this.wait(hash);
    return hash;
  }
  confirm(reqc) {
    return this.reqcCall(reqc, 'confirm');
  }
  /** Disputes with the bond the deployment fixes (back to the requester unless the kfrag was valid). */
  async dispute(reqc) {
    const bond = await this.public.readContract({ address: reqc, abi: requestContractAbi, functionName: 'disputeBond' });
    return this.reqcCall(reqc, 'dispute', [], bond);
  }
  cancel(reqc) {
    return this.reqcCall(reqc, 'cancel');
  }
  decline(reqc) {
    return this.reqcCall(reqc, 'decline');
  }
  claim(reqc) {
    return this.reqcCall(reqc, 'claim');
  }
  withdraw(reqc, to = this.account) {
    return this.reqcCall(reqc, 'withdraw', [to]);
  }
  respond(reqc, kfrag, signerKey, downloadLink, deposit) {
    return this.reqcCall(reqc, 'respond', [kfrag, signerKey, downloadLink], deposit);
  }

  /** Signs an EIP-191 personal message with the wallet. */
  async signMessage(message) {
    if (!this.account) throw new Error('connect your wallet first');
    return this.wallet.signMessage({ account: this.account, message });
  }
}
