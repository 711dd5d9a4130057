#!/usr/bin/env bash
# docs/deploy.md's `--best-epoch` measurement: the static student by
# k-means, the CNN and the bag by vanilla KD, each trained the default 10
# epochs and kept at its last epoch (`--best-epoch off`) or at its best
# epoch on the validation rows (`on`), seeds 0 to 2, on 20 Newsgroups' six
# groups, the binary CrowdFlower tweets (when scripts/fetch-tweets.sh has
# run) and CLINC150's ten domains; test accuracy and agreement with the
# teacher from each summary (experiments/summarize_best_epoch.py).
# Needs the `lelp` tool (cargo build --release --features cli) and
# ../shared/data/text.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-results/best-epoch}
LELP=${LELP:-target/release/lelp}
WORK=${WORK:-${TMPDIR:-/tmp}/lelp-best-epoch}
mkdir -p "$OUT" "$WORK"
TWEETS=${LELP_TWEETS_DIR:-$HOME/.cache/lelp/crowdflower}/tweets.csv
if [ -f "$TWEETS" ]; then
    python3 experiments/tweets_binary.py "$TWEETS" "$WORK/tweets-binary.csv"
fi
for data in ../shared/data/text/20ng.jsonl.gz:128 $WORK/tweets-binary.csv:64 ../shared/data/text/clinc150.jsonl.gz:32; do
    path=${data%%:*}
    tokens=${data##*:}
    name=$(basename "$path" | sed 's/\..*//')
    [ -f "$path" ] || continue
    for seed in ${SEEDS:-0 1 2}; do
        for sm in static:kmeans cnn:kd bag:kd; do
            student=${sm%%:*}
            method=${sm##*:}
            for best in off on; do
                out="$OUT/$name-$student-$method-$best-seed$seed.txt"
                [ -s "$out" ] && continue
                echo "== $name $student $method --best-epoch $best seed $seed"
                "$LELP" distill --data "$path" --tokens "$tokens" --student "$student" --method "$method" \
                    --best-epoch "$best" --seed "$seed" --out "$WORK/model.safetensors" > "$out.tmp" 2> /dev/null
                mv "$out.tmp" "$out"
            done
        done
    done
done
