#!/usr/bin/env bash
# Makes the python environment the benchmark scripts run the peers in (numpy and JAX for the
# CPU) at $PEERS_VENV, by default $TMPDIR/heavyball-peers-venv, and prints its python.
#
#     benches/peers/setup.sh
set -euo pipefail
venv=${PEERS_VENV:-${TMPDIR:-/tmp}/heavyball-peers-venv}
if [[ ! -x $venv/bin/python ]]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --upgrade pip
"$venv/bin/pip" install --quiet -r "$(dirname "$0")/requirements.txt"
echo "$venv/bin/python"
