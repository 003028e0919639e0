// Turns wallet, chain, cloud and crypto errors into one clear sentence for the person at the page.

import { BaseError, ContractFunctionRevertedError, decodeErrorResult, formatEther } from 'viem';
import { allErrorsAbi, REQUEST_STATUS, WrongNetworkError } from './chain.js';
import { CloudError } from './cloud.js';
import { SealedError } from './sealed.js';
import { RecoverError } from './umbral.js';
import { fmtTime } from './view.js';

const when = (t) => fmtTime(Number(t));

/** Message for one decoded custom error of our contracts. */
export function revertMessage(name, args = []) {
  const a = args.map((x) => (typeof x === 'bigint' ? x : x));
  switch (name) {
    case 'ResponseDeadlinePassed':
      return `expired: the owner's response deadline passed (${when(a[0])})`;
    case 'ResponseWindowOpen':
      return `too early: the owner may still respond until ${when(a[0])}`;
    case 'ConfirmWindowClosed':
      return `expired: the confirm window closed at ${when(a[0])}`;
    case 'ConfirmWindowOpen':
      return `too early: the requester may confirm or dispute until ${when(a[0])}`;
    case 'ResolveWindowOpen':
      return `too early: the verifier may resolve the dispute until ${when(a[0])}`;
    case 'InvalidStatus':
      return `the request is ${REQUEST_STATUS[Number(a[0])] ?? a[0]}, this needs it to be ${REQUEST_STATUS[Number(a[1])] ?? a[1]}`;
    case 'NotOwner':
      return `only the footage owner ${a[1]} can do this (your account is ${a[0]})`;
    case 'NotRequester':
      return `only the requester ${a[1]} can do this (your account is ${a[0]})`;
    case 'EvidenceNotListed':
      return `evidence ${a[0]} is not listed (not verified by the cloud, or unknown)`;
    case 'ZeroReward':
      return 'the reward must be more than zero';
    case 'RewardTooLarge':
      return 'the reward is too large (at most 2^96-1 wei)';
    case 'DepositTooLow':
      return `the deposit ${formatEther(a[0])} ETH is below the minimum ${formatEther(a[1])} ETH`;
    case 'DepositTooLarge':
      return 'the deposit is too large';
    case 'NothingToWithdraw':
      return 'nothing to withdraw: you are owed nothing on this request (not final yet, or already withdrawn)';
    case 'InvalidUmbralKey':
      return `the Umbral public key is invalid (${a[0]} bytes, prefix ${a[1]}; expected 33 bytes starting 0x02/0x03)`;
    case 'InvalidKfragLength':
      return `the kfrag is ${a[0]} bytes (expected 128..2048)`;
    case 'InvalidDownloadLink':
      return `the download link is ${a[0]} bytes (expected 1..1024)`;
    default:
      return `the contract refused: ${name}(${a.map(String).join(', ')})`;
  }
}

/** One human sentence for any error thrown by the page's actions. */
export function describeError(err) {
  if (!err) return 'unknown error';
  if (err instanceof WrongNetworkError || err instanceof SealedError || err instanceof RecoverError || err instanceof CloudError) {
    return err.message;
  }
  // EIP-1193 user rejection (code 4001), directly or wrapped by viem.
  const codeOf = (e) => e?.code ?? e?.cause?.code;
  if (codeOf(err) === 4001 || err?.name === 'UserRejectedRequestError') return 'You rejected the request in your wallet. Nothing was sent.';
  if (err instanceof BaseError) {
    const rejected = err.walk((e) => e?.code === 4001 || e?.name === 'UserRejectedRequestError');
    if (rejected) return 'You rejected the request in your wallet. Nothing was sent.';
    const revert = err.walk((e) => e instanceof ContractFunctionRevertedError);
    if (revert instanceof ContractFunctionRevertedError) {
      if (revert.data?.errorName) return revertMessage(revert.data.errorName, revert.data.args ?? []);
      if (revert.raw) {
        try {
          const d = decodeErrorResult({ abi: allErrorsAbi, data: revert.raw });
          return revertMessage(d.errorName, d.args ?? []);
        } catch {
          /* fall through */
        }
      }
      if (revert.reason) return `the contract refused: ${revert.reason}`;
    }
    const text = `${err.details ?? ''} ${err.shortMessage ?? ''} ${err.message ?? ''}`.toLowerCase();
    if (text.includes('insufficient funds') || err.walk((e) => e?.name === 'InsufficientFundsError')) {
      return 'Insufficient funds: your account does not have enough ETH for the amount plus gas.';
    }
    if (err.walk((e) => e?.name === 'HttpRequestError' || e?.name === 'TimeoutError')) {
      return 'The Ethereum node is not reachable through your wallet. Check the wallet\'s network connection.';
    }
    return err.shortMessage ?? err.message;
  }
  const text = String(err.message ?? err).toLowerCase();
  if (text.includes('insufficient funds')) return 'Insufficient funds: your account does not have enough ETH for the amount plus gas.';
  return err.message ?? String(err);
}
