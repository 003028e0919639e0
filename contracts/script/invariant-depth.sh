#!/usr/bin/env bash
# How deep the request invariant campaign goes (docs/contracts.md "Invariant campaign depth"):
# runs contracts/test/invariant/RequestInvariants.t.sol in the given Foundry profile (default:
# the default profile, as scripts/test does) and summarises the per-run lines its afterInvariant
# hook appends to contracts/cache/invariant-depth.tsv: how many runs reach each status, and the
# REQCs, transitions and withdrawals per run.
#
#   contracts/script/invariant-depth.sh [PROFILE]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
export PATH="$root/node_modules/.bin:$PATH"
log=contracts/cache/invariant-depth.tsv
mkdir -p contracts/cache
rm -f "$log"
FOUNDRY_PROFILE="${1:-default}" forge test --offline --match-test invariant_requestEscrow >/dev/null
python3 - "$log" <<'PY'
import statistics, sys
names = ["Open", "Responded", "Declined", "Cancelled", "Completed", "Disputed", "Claimed",
         "ResolvedForOwner", "ResolvedForRequester", "DisputeExpired"]
rows = [list(map(int, l.split())) for l in open(sys.argv[1]) if l.strip()]
print(f"runs: {len(rows)}")
print("status                 runs reaching it")
for bit, name in enumerate(names):
    print(f"  {name:<21} {sum(1 for r in rows if r[0] >> bit & 1)}")
for i, what in enumerate(["REQCs", "transitions", "withdrawals", "REQCs final and paid out"], 1):
    v = [r[i] for r in rows]
    print(f"{what} per run: min {min(v)}, median {statistics.median(v)}, "
          f"mean {sum(v) / len(v):.1f}, max {max(v)}")
print(f"runs without a withdrawal: {sum(1 for r in rows if r[3] == 0)}")
print(f"runs reaching all 7 final statuses: "
      f"{sum(1 for r in rows if all(r[0] >> b & 1 for b in (2, 3, 4, 6, 7, 8, 9)))}")
PY
