#!/bin/bash
# Runs every Ray doc_code example in $PROBE_DIR/ex/*.py against this checkout, section by section,
# and prints "file<TAB>section<TAB>pass | fail: first error line | skip: reason".
# Setup: put Ray's doc/source/data/doc_code/<name>.py files in $PROBE_DIR/ex (unchanged: runner.py
# changes only the imports and the example:// / public-bucket paths), then
#   python docs/ray_docs_probe/gen_data.py    # local stand-ins for the example data
#   bash docs/ray_docs_probe/run_all.sh
set -u
PROBE_DIR=${PROBE_DIR:-/tmp/data-docs-probe}
export PROBE_DIR
HERE=$(cd "$(dirname "$0")" && pwd)
cd "$HERE/../.."
mkdir -p "$PROBE_DIR/logs"
for f in "$PROBE_DIR"/ex/*.py; do
  n=$(basename "$f" .py)
  PYTHONPATH=$PWD timeout 180 python "$HERE/runner.py" "$f" > "$PROBE_DIR/logs/$n.out" 2> "$PROBE_DIR/logs/$n.err"
  rc=$?
  grep -h '^RESULT' "$PROBE_DIR/logs/$n.out" | sed "s/^RESULT/$n/"
  [ $rc -ne 0 ] && echo "$n	(whole file)	fail: exit $rc"
done
exit 0
