#!/usr/bin/env bash
# Cross-check of docs/gas.md on a real chain: starts scripts/devnet on a spare port, runs one
# request lifecycle with cast and prints each transaction's receipt gasUsed (what a user pays,
# including the 21000 base and calldata). Anvil's default accounts: 0 deploys, 1 verifies,
# 2 owns the evidence, 3 requests.
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
owner="$(cast wallet address "$k_owner")"

send() { # send LABEL KEY TO SIG ARGS... [--value V]
  local label="$1" key="$2"; shift 2
  local h
  h="$(cast send --rpc-url "$rpc" --private-key "$key" --json "$@" \
       | python3 -c "import json,sys; print(json.load(sys.stdin)['transactionHash'])")"
  printf '%-44s %s\n' "$label" "$(cast receipt --rpc-url "$rpc" "$h" gasUsed)"
}
hex() { python3 -c "import sys; print('0x' + sys.argv[1] * int(sys.argv[2]))" "$1" "$2"; }
now="$(cast block latest -f timestamp --rpc-url "$rpc")"
tuple="(bytes32,bytes32,bytes32,bytes32,bytes32,uint64,int32,int32,bytes,bytes,bytes)"
ukey="0x02$(cast keccak umbral | cut -c3-)"
params() { # params SEED
  echo "($(cast keccak "v$1"),$(cast keccak "c$1"),$(cast keccak "f$1"),$(cast keccak "r$1"),$(cast keccak "k$1"),$((now - 60)),52520008,13404954,$(hex ab 98),$(hex cd 72),$ukey)"
}
p1="$(params 1)"; p2="$(params 2)"
send "createEvidence (direct)" "$k_owner" "$ef" "createEvidence($tuple)" "$p1"
ec1="$(cast call --rpc-url "$rpc" "$ef" "predictEvidence($tuple,address)(address)" "$p1" "$owner")"
send "createEvidence (direct, 2nd)" "$k_owner" "$ef" "createEvidence($tuple)" "$p2"
ec2="$(cast call --rpc-url "$rpc" "$ef" "predictEvidence($tuple,address)(address)" "$p2" "$owner")"
send "verify + list (first listing ever)" "$k_verifier" "$ec1" "verify()"
send "verify + list" "$k_verifier" "$ec2" "verify()"
send "createRequest (owner's first)" "$k_requester" "$rf" "createRequest(address,bytes)" "$ec1" "$ukey" --value 0.05ether
reqc1="$(cast call --rpc-url "$rpc" "$resc" "latestOf(address)(address)" "$owner")"
send "createRequest (owner's later)" "$k_requester" "$rf" "createRequest(address,bytes)" "$ec2" "$ukey" --value 0.05ether
send "respond (310-byte kfrag)" "$k_owner" "$reqc1" "respond(bytes,bytes,string)" "$(hex 5a 310)" "$ukey" "https://cloud.example/x" --value 0.01ether
send "confirm" "$k_requester" "$reqc1" "confirm()"
send "withdraw" "$k_owner" "$reqc1" "withdraw(address)" "$owner"
