#!/usr/bin/env bash
# Cross-check of docs/gas.md on a real chain: starts scripts/devnet on a spare port, runs the whole
# life of one shared accident with cast (after a warm-up accident, so that nothing is the
# deployment's first) and prints, per transaction, the receipt's gasUsed (what its sender pays,
# including the 21000 base and the calldata) and the gas of the call alone (gasUsed - 21000 -
# calldata at 4/16 per zero/non-zero byte), which must equal forge's `call` figure from
# contracts/test/gas/GasLifecycle.t.sol (same keys, fields, sizes and values).
# Then the same life in the unlinkable (relayed) flow, for a second accident whose owner key
# (account 6, never funded) only signs: the relayer sends respondFor (fronting the deposit) and
# withdrawFor (to a fresh address, repaid from the escrow).
# Anvil's default accounts: 0 deploys, 1 verifies, 2 is the EC's owner key, 3 requests, 4 relays,
# 5 owns the warm-up accident, 6 is the relayed accident's owner key.
#
#   contracts/script/gas-on-anvil.sh [PORT]     (default 8599)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
export PATH="$root/node_modules/.bin:$PATH"
port="${1:-8599}"
rpc="http://127.0.0.1:$port"
dep="$(mktemp)"
scripts/devnet --port "$port" --out "$dep" >/dev/null 2>"$dep.log" &
devnet_pid=$!
trap 'kill "$devnet_pid" 2>/dev/null || true; wait "$devnet_pid" 2>/dev/null || true; rm -f "$dep" "$dep.log"' EXIT
for _ in $(seq 1 300); do [ -s "$dep" ] && break; sleep 0.2; done
[ -s "$dep" ] || { cat "$dep.log" >&2; echo "gas-on-anvil: devnet did not deploy" >&2; exit 1; }
field() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$dep" "$1"; }
ef="$(field evidenceFactory)"; rf="$(field requestFactory)"; resc="$(field responseContract)"

k_verifier=0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d
k_owner=0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a
k_requester=0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6
k_relayer=0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a
k_warm=0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba
k_owner2=0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e
owner="$(cast wallet address "$k_owner")"; warm="$(cast wallet address "$k_warm")"
owner2="$(cast wallet address "$k_owner2")"
payout=0x0000000000000000000000000000000000C0FFEE
payout2=0x0000000000000000000000000000000000C0FFEF

total=0
send() { # send LABEL KEY TO SIG ARGS... [--value V]
  local label="$1" key="$2"; shift 2
  local h used input cd
  h="$(cast send --rpc-url "$rpc" --private-key "$key" --json "$@" \
       | python3 -c "import json,sys; print(json.load(sys.stdin)['transactionHash'])")"
  used="$(cast receipt --rpc-url "$rpc" "$h" gasUsed)"
  input="$(cast tx --rpc-url "$rpc" "$h" input)"
  cd="$(python3 -c "import sys; b=bytes.fromhex(sys.argv[1][2:]); print(sum(4 if x == 0 else 16 for x in b))" "$input")"
  if [ -n "$label" ]; then
    printf '%-40s tx %7s   call %7s\n' "$label" "$used" "$((used - 21000 - cd))"
    total=$((total + used))
  fi
}
hex() { python3 -c "import sys; print('0x' + sys.argv[1] * int(sys.argv[2]))" "$1" "$2"; }
now="$(cast block latest -f timestamp --rpc-url "$rpc")"
tuple="(bytes32,bytes32,bytes32,bytes32,bytes32,uint64,int32,int32,bytes,bytes,bytes)"
ukey="0x02$(cast keccak umbral | cut -c3-)"
params() { # params SEED
  echo "($(cast keccak "v$1"),$(cast keccak "c$1"),$(cast keccak "f$1"),$(cast keccak "r$1"),$(cast keccak "k$1"),$((now - 60)),52520008,13404954,$(hex ab 98),$(hex cd 72),$ukey)"
}

# Warm-up accident (not printed): a listed EC with one request.
p0="$(params 100)"
send "" "$k_warm" "$ef" "createEvidence($tuple)" "$p0"
ec0="$(cast call --rpc-url "$rpc" "$ef" "predictEvidence($tuple,address)(address)" "$p0" "$warm")"
send "" "$k_verifier" "$ec0" "verify()"
send "" "$k_requester" "$rf" "createRequest(address,bytes)" "$ec0" "$ukey" --value 0.05ether

# The accident: its owner key signs the creation, the cloud's relayer sends it.
p1="$(params 1)"; deadline=$((now + 3600))
digest="$(cast call --rpc-url "$rpc" "$ef" "hashCreateEvidence($tuple,address,uint256)(bytes32)" "$p1" "$owner" "$deadline")"
sig="$(cast wallet sign --no-hash --private-key "$k_owner" "$digest")"
ec1="$(cast call --rpc-url "$rpc" "$ef" "predictEvidence($tuple,address)(address)" "$p1" "$owner")"
echo "step (payer)                             receipt gasUsed, call alone"
send "1 create, relayed (cloud relayer)" "$k_relayer" "$ef" "createEvidenceFor($tuple,address,uint256,bytes)" "$p1" "$owner" "$deadline" "$sig"
send "2 verify + list (cloud verifier)" "$k_verifier" "$ec1" "verify()"
send "3 request (requester)" "$k_requester" "$rf" "createRequest(address,bytes)" "$ec1" "$ukey" --value 0.05ether
reqc="$(cast call --rpc-url "$rpc" "$resc" "latestOf(address)(address)" "$owner")"
send "4 respond, 310-byte kfrag (owner key)" "$k_owner" "$reqc" "respond(bytes,bytes,string)" "$(hex 5a 310)" "$ukey" "https://cloud.example/x" --value 0.01ether
send "5 confirm (requester)" "$k_requester" "$reqc" "confirm()"
send "6 withdraw to a fresh address (owner key)" "$k_owner" "$reqc" "withdraw(address)" "$payout"
echo "total                                    tx $total"

# The relayed accident: account 6 is emptied first, so its key holds nothing and sends nothing.
bal="$(cast balance --rpc-url "$rpc" "$owner2")"
cast rpc --rpc-url "$rpc" anvil_setBalance "$owner2" 0x0 >/dev/null
total=0
p2="$(params 2)"
digest="$(cast call --rpc-url "$rpc" "$ef" "hashCreateEvidence($tuple,address,uint256)(bytes32)" "$p2" "$owner2" "$deadline")"
sig="$(cast wallet sign --no-hash --private-key "$k_owner2" "$digest")"
ec2="$(cast call --rpc-url "$rpc" "$ef" "predictEvidence($tuple,address)(address)" "$p2" "$owner2")"
echo "relayed (unlinkable) flow"
send "1 create, relayed (cloud relayer)" "$k_relayer" "$ef" "createEvidenceFor($tuple,address,uint256,bytes)" "$p2" "$owner2" "$deadline" "$sig"
send "2 verify + list (cloud verifier)" "$k_verifier" "$ec2" "verify()"
send "3 request (requester)" "$k_requester" "$rf" "createRequest(address,bytes)" "$ec2" "$ukey" --value 0.05ether
reqc2="$(cast call --rpc-url "$rpc" "$resc" "latestOf(address)(address)" "$owner2")"
fee=500000000000000
digest="$(cast call --rpc-url "$rpc" "$reqc2" "hashRespond(bytes,bytes,string,uint256,uint256)(bytes32)" "$(hex 5a 310)" "$ukey" "https://cloud.example/x" "$fee" "$deadline")"
sig="$(cast wallet sign --no-hash --private-key "$k_owner2" "$digest")"
send "4r respondFor (relayer, fronts deposit)" "$k_relayer" "$reqc2" "respondFor(bytes,bytes,string,uint256,uint256,bytes)" "$(hex 5a 310)" "$ukey" "https://cloud.example/x" "$fee" "$deadline" "$sig" --value 0.01ether
send "5 confirm (requester)" "$k_requester" "$reqc2" "confirm()"
digest="$(cast call --rpc-url "$rpc" "$reqc2" "hashWithdraw(address,uint256,uint256)(bytes32)" "$payout2" "$fee" "$deadline")"
sig="$(cast wallet sign --no-hash --private-key "$k_owner2" "$digest")"
send "6r withdrawFor, fresh address (relayer)" "$k_relayer" "$reqc2" "withdrawFor(address,uint256,uint256,bytes)" "$payout2" "$fee" "$deadline" "$sig"
echo "total                                    tx $total"
echo "owner key 6: balance $(cast balance --rpc-url "$rpc" "$owner2") wei, nonce $(cast nonce --rpc-url "$rpc" "$owner2") (was funded with $bal before being emptied)"
echo "payout $payout2: $(cast balance --rpc-url "$rpc" "$payout2") wei"
