#!/bin/sh
# Collect uccx-cert-auditor and every dependency as wheels in one folder, for a machine
# with no internet (README, "Installing without internet"):
#   sh scripts/wheelhouse.sh [FOLDER] [pip download options...]
# FOLDER defaults to ./wheelhouse. Without options the wheels fit this machine (its system,
# processor and Python version); for another, pass pip download's own options, e.g.
#   sh scripts/wheelhouse.sh wheelhouse --only-binary=:all: --platform win_amd64 --python-version 3.12
# Then, on the machine with no internet:
#   python -m pip install --no-index --find-links FOLDER uccx-cert-auditor
# PYTHON names the interpreter whose pip does the work (default: python3, which in an
# activated venv is the venv's).
set -eu
python=${PYTHON:-python3}
checkout=$(cd "$(dirname "$0")/.." && pwd)
folder=${1:-wheelhouse}
[ "$#" -gt 0 ] && shift
mkdir -p "$folder"
# this package as a wheel (pure Python: one wheel fits every platform)...
"$python" -m pip wheel --quiet --no-deps --wheel-dir "$folder" "$checkout"
# ...then every dependency it needs, resolved from that wheel's own metadata
for wheel in "$folder"/uccx_cert_auditor-*.whl; do
    "$python" -m pip download --quiet --dest "$folder" "$@" "$wheel"
done
echo "wheelhouse: $(ls "$folder" | wc -l) files in $folder"
