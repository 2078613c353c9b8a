#!/usr/bin/env bash
# The VUM standard's REST contracts against a running federation, with schemathesis: the Bron
# face of UWV's node (called as the gemeente, with its node certificate) and the Bemiddelaar face
# of the gemeente's node (called as its own system). Positive and negative cases with bounded
# examples (.ci/schemathesis.toml). Usage: tools/rest-contract-check.sh OAS_DIR
# (OAS_DIR: the standard's oas/ folder, e.g. ../shared/vum/oas). Needs `st` (pip: schemathesis)
# and a built matchgate (MATCHGATE_BIN, default target/debug/matchgate).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
oas=$(cd "${1:?usage: tools/rest-contract-check.sh OAS_DIR}" && pwd)
bin=${MATCHGATE_BIN:-$here/target/debug/matchgate}
work=$(mktemp -d)
"$bin" demo --keep --dir "$work/demo" > "$work/demo.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 180); do
    [ -f "$work/demo/demo.json" ] && break
    kill -0 $pid 2>/dev/null || { cat "$work/demo.log"; echo "the demo stopped before it was ready" >&2; exit 1; }
    sleep 1
done
[ -f "$work/demo/demo.json" ] || { echo "no demo.json after 180 s" >&2; exit 1; }
# node fields as shell variables: gemeente_oin, uwv_bron_url, gemeente_bemiddelaar_url, ...
eval "$(python3 - "$work/demo/demo.json" <<'PY'
import json, shlex, sys
for n in json.load(open(sys.argv[1]))["nodes"]:
    name = n["name"].replace("-", "_")
    for k, v in n.items():
        print(f"{name}_{k}={shlex.quote(str(v))}")
PY
)"
cd "$work"
status=0
run() {
    local contract=$1 url=$2 cert=$3 key=$4
    shift 4
    echo "== schemathesis: $contract at $url"
    st --config-file "$here/.ci/schemathesis.toml" run "$oas/$contract" --url "$url" \
        --request-cert "$cert" --request-cert-key "$key" --tls-verify "$gemeente_ca" \
        -H "X-VUM-berichtVersie: 3.0.0" -H "API-Version: 3.0.0" "$@" || status=1
}
for c in VUM-Bron-WerkzoekendeProfielen.json VUM-Bron-Vacatures.json; do
    run "$c" "$uwv_bron_url" "$gemeente_client_cert" "$gemeente_client_key" \
        -H "X-VUM-fromParty: $gemeente_oin" -H "X-VUM-toParty: $uwv_oin" \
        -H "X-VUM-viaParty: $uwv_oin" -H "X-VUM-SUWIparty: false"
done
for c in VUM-Bemiddelaar-WerkzoekendeProfielen.json VUM-Bemiddelaar-Vacatures.json; do
    run "$c" "$gemeente_bemiddelaar_url" "$gemeente_local_client_cert" "$gemeente_local_client_key" \
        -H "X-VUM-fromParty: $gemeente_oin" -H "X-VUM-toParty: $gemeente_oin" \
        -H "X-VUM-viaParty: $gemeente_oin"
done
exit $status
