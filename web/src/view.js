// Pure presentation helpers of the page (no DOM, no chain): the one date format, durations and
// countdowns, the request's step bar, when an action becomes available, the terms shown before
// the wallet prompt, and which results the account has already requested. Unit-tested in Node.

import { formatEther } from 'viem';

const pad = (n) => String(n).padStart(2, '0');

/** The time zone of this browser, e.g. "Europe/Berlin" (or "UTC"). */
export function timeZoneName(timeZone) {
  return timeZone ?? Intl.DateTimeFormat().resolvedOptions().timeZone ?? 'UTC';
}

/** The zone's offset at `unix`, as "UTC+01:00" (or "UTC"). */
export function utcOffset(unix, timeZone) {
  const d = new Date(unix * 1000);
  const parts = new Intl.DateTimeFormat('en-US', { timeZone: timeZoneName(timeZone), timeZoneName: 'longOffset' }).formatToParts(d);
  const z = parts.find((p) => p.type === 'timeZoneName')?.value ?? 'GMT';
  return z === 'GMT' || z === 'GMT+00:00' ? 'UTC' : z.replace('GMT', 'UTC');
}

/**
 * The page's one date-time format: "2026-12-03 14:05:09 UTC+01:00" in the browser's time zone
 * (or `timeZone`), 24-hour, with the offset always shown.
 */
export function fmtTime(unix, timeZone) {
  const d = new Date(unix * 1000);
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-CA', {
      timeZone: timeZoneName(timeZone),
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
    })
      .formatToParts(d)
      .map((p) => [p.type, p.value]),
  );
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}:${parts.second} ${utcOffset(unix, timeZone)}`;
}

/** A duration in words: "2 d 3 h", "4 h 5 min", "5 min 10 s", "42 s". */
export function fmtDuration(secs) {
  const s = Math.max(0, Math.round(secs));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  if (d) return h ? `${d} d ${h} h` : `${d} d`;
  if (h) return m ? `${h} h ${m} min` : `${h} h`;
  if (m) return r ? `${m} min ${r} s` : `${m} min`;
  return `${r} s`;
}

/** "in 5 min 10 s" / "5 min 10 s ago" relative to `now`. */
export function countdown(deadline, now) {
  const left = deadline - now;
  return left >= 0 ? `in ${fmtDuration(left)}` : `${fmtDuration(-left)} ago`;
}

/** "0x12345678…abcdef" (hashes and addresses, the full value in a title and a copy button). */
export const short = (a) => (a ? `${a.slice(0, 8)}…${a.slice(-6)}` : '');

/** The explorer link of a transaction or address, or null when no explorer is configured. */
export function explorerLink(explorerUrl, kind, value) {
  if (!explorerUrl || !value) return null;
  return `${explorerUrl.replace(/\/+$/, '')}/${kind === 'tx' ? 'tx' : 'address'}/${value}`;
}

export const STEPS = ['Requested', 'Owner answered', 'Key recovered and paid', 'Verified'];

/**
 * The step bar of a request: one entry per STEPS label, each 'done', 'current', 'todo' or
 * 'failed', and a sentence for where the request ended when it did not reach the end.
 * `verified`: the clip was opened and checked in this tab.
 */
export function requestSteps(status, { verified = false } = {}) {
  const mk = (states, note = '') => ({ steps: STEPS.map((label, i) => ({ label, state: states[i] })), note });
  switch (status) {
    case 'Open':
      return mk(['done', 'current', 'todo', 'todo']);
    case 'Responded':
      return mk(['done', 'done', 'current', 'todo']);
    case 'Completed':
      return verified ? mk(['done', 'done', 'done', 'done']) : mk(['done', 'done', 'done', 'current']);
    case 'Declined':
      return mk(['done', 'failed', 'todo', 'todo'], 'The owner declined; your reward is refunded.');
    case 'Cancelled':
      return mk(['done', 'failed', 'todo', 'todo'], 'Cancelled after the owner did not answer in time; your reward is refunded.');
    case 'Claimed':
      return mk(['done', 'done', 'failed', 'todo'], 'The confirm window passed without a confirm or dispute; the owner claimed the reward.');
    case 'Disputed':
      return mk(['done', 'done', 'failed', 'todo'], "Disputed: the verifier checks the owner's kfrag.");
    case 'ResolvedForRequester':
      return mk(['done', 'done', 'failed', 'todo'], "The dispute went your way: the reward, the owner's deposit and your dispute bond are yours.");
    case 'ResolvedForOwner':
      return mk(['done', 'done', 'failed', 'todo'], "The verifier found the owner's kfrag valid; the owner is paid the reward and your dispute bond.");
    case 'DisputeExpired':
      return mk(['done', 'done', 'failed', 'todo'], 'The verifier did not rule in time: the owner is paid the reward and keeps the deposit; your dispute bond is returned.');
    default:
      return mk(['done', 'todo', 'todo', 'todo']);
  }
}

/**
 * When the requester's Cancel becomes possible: after the owner's response deadline of an Open
 * request (the contract refuses it until `respondBy` has passed). null: not applicable.
 */
export function cancelAvailableAt(info) {
  return info.status === 'Open' ? info.respondBy + 1 : null;
}

/** When the owner's Claim becomes possible: after the confirm window of a Responded request. */
export function claimAvailableAt(info) {
  return info.status === 'Responded' ? info.deadline + 1 : null;
}

/**
 * The terms shown before the wallet prompt, as [label, text] rows. `terms` is
 * chain.requestTerms() ({ minDeposit, disputeBond, responseWindow, confirmWindow, resolveWindow });
 * `reward` in wei. The dispute bond is the deployment's minDeposit / 2 (docs/contracts.md, "The
 * request game"), paid with `dispute`.
 */
export function termsRows(terms, reward) {
  const rows = [];
  if (reward !== undefined && reward !== null) rows.push(['Reward', `${formatEther(reward)} ETH, held by the Request Contract (plus gas)`]);
  if (!terms) return rows;
  rows.push(
    ["Owner's response window", `${fmtDuration(terms.responseWindow)}: the owner approves (sending a key fragment and a deposit of at least ${formatEther(terms.minDeposit)} ETH) or declines`],
    ['Confirm or dispute window', `${fmtDuration(terms.confirmWindow)} after the owner answers: recover the key and confirm (the owner is paid), or dispute a bad answer`],
  );
  const bond = terms.disputeBond;
  if (bond !== undefined && bond !== null) {
    const within = terms.resolveWindow ? ` within ${fmtDuration(terms.resolveWindow)}` : ' in time';
    rows.push([
      'Dispute bond',
      `${formatEther(bond)} ETH (half the minimum deposit), paid only if you dispute, with the dispute transaction. ` +
        `Returned to you if the verifier finds the owner's key fragment wrong, or does not rule${within} (the owner is then paid the reward and keeps the deposit); ` +
        'lost to the owner if the verifier finds the key fragment valid.',
    ]);
  }
  rows.push([
    'Refunds',
    `All of the reward if the owner declines, or if the owner does not answer in time and you cancel. If a dispute goes your way, the reward and the owner's deposit${bond !== undefined && bond !== null ? ', and your bond back' : ''}. If you neither confirm nor dispute in time, the owner may claim the reward.`,
  ]);
  return rows;
}

/**
 * The connected account's requests by Evidence Contract: Map(ec (lower case) → [{ reqc, status }])
 * from `mine` (chain.requestsBy) and their infos (chain.requestInfo), newest first.
 */
export function requestsByEc(mine, infos) {
  const out = new Map();
  mine.forEach((m, i) => {
    const k = m.ec.toLowerCase();
    if (!out.has(k)) out.set(k, []);
    out.get(k).push({ reqc: m.reqc, status: infos[i]?.status ?? 'Open' });
  });
  return out;
}

/** States of a request in which another request for the same clip would be money wasted. */
export const LIVE_OR_DONE = new Set(['Open', 'Responded', 'Completed', 'Claimed', 'Disputed', 'ResolvedForOwner']);

/** A local `datetime-local` value for a Date (to the minute). */
export function toLocalInput(d) {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/**
 * Checks the search form's values; returns { from, to, center, radiusM } or throws a FieldError
 * naming the field. `maxRangeDays`: the cloud's limit on `to - from`.
 */
export class FieldError extends Error {
  constructor(field, message) {
    super(message);
    this.name = 'FieldError';
    this.field = field;
  }
}
