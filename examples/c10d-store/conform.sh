#!/usr/bin/env bash
# examples/c10d-store/conform.sh - certifies PyTorch's own stores with
# `rdv conform` through c10d_store.py: FileStore, TCPStore (the server in
# the first handle), PrefixStore over TCPStore, and HashStore.
#
#   examples/c10d-store/conform.sh [RDV [OUTDIR [STORE...]]]
#
# RDV is the rdv binary (default build/release/harness/rdv), OUTDIR gets
# one STORE.txt (the table) and STORE.xml (JUnit) per store (default a
# fresh /tmp/rdv-c10d.XXXXXX), STORE is any of file tcp prefix hash
# (default all). Each run is timed. Exits 77 when torch is not installed
# (apt-get install python3-torch), else 0 when every run finished (the
# verdicts are in the tables: c10d is expected to fail clauses), 2 when a
# run could not start.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
rdv=${1:-$here/../../build/release/harness/rdv}
out=${2:-$(mktemp -d /tmp/rdv-c10d.XXXXXX)}
shift $(( $# > 2 ? 2 : $# ))
stores=("$@")
[ ${#stores[@]} -gt 0 ] || stores=(file tcp prefix hash)

if ! /usr/bin/python3 -c 'import torch.distributed as d; d.TCPStore' 2>/dev/null; then
    echo "conform.sh: torch.distributed is not importable by /usr/bin/python3 (apt-get install python3-torch)" >&2
    exit 77
fi
mkdir -p "$out"
adapter=$here/c10d_store.py
# Every adapter imports torch (1.3 s of CPU each, far more on a loaded
# machine), and a rendezvous clause starts 17 at once: give them time.
common="start_timeout_ms=300000"
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

url_of() {
    case $1 in
    file) echo "exec:$adapter?store=file&path=$out/filestore.db&$common" ;;
    tcp) echo "exec:$adapter?store=tcp&port=$port&server=first&$common" ;;
    prefix) echo "exec:$adapter?store=tcp&port=$port&server=first&store_prefix=rdv&$common" ;;
    hash) echo "exec:$adapter?store=hash&$common" ;;
    *) echo "conform.sh: unknown store '$1' (file tcp prefix hash)" >&2; return 2 ;;
    esac
}

status=0
for s in "${stores[@]}"; do
    url=$(url_of "$s") || exit 2
    echo "== $s: rdv conform --store '$url'"
    start=$(date +%s)
    "$rdv" conform --store "$url" --junit "$out/$s.xml" >"$out/$s.txt" 2>"$out/$s.stderr"
    rc=$?
    echo "   exit $rc in $(( $(date +%s) - start )) s; table: $out/$s.txt" | tee -a "$out/$s.txt"
    grep -E "^(PASS|FAIL):" "$out/$s.txt"
    [ $rc -le 1 ] || status=2
done
exit $status
