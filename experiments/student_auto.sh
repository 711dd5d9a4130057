#!/usr/bin/env bash
# docs/deploy.md's `--student auto` measurement: the default successive
# halving (3 full trainings' worth with the chosen student's own training)
# against the exhaustive search (every kind with every method trained the
# full epochs), the bag, static and CNN students with every method of
# `--method auto`, each kept at its best epoch, chosen by agreement with
# the tool's own teacher on the validation rows; on CLINC150's ten domains,
# 20 Newsgroups' six groups and the binary CrowdFlower tweets (when
# scripts/fetch-tweets.sh has run). `halving:N` in SEARCHES runs the
# halving with --search-trainings N.
# The exhaustive search runs under a pseudo-terminal (`script`) so that the
# tool prints every epoch's validation score; those curves go to
# $OUT/curves-NAME-seedS.tsv (experiments/halving_sim.py extract), which
# experiments/halving_sim.py simulates other halving budgets on.
# Run on an idle machine: each summary gives the search's seconds and
# every candidate's training seconds (experiments/summarize_student_auto.py).
# Needs the `lelp` tool (cargo build --release --features cli) and
# ../shared/data/text.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-results/student-auto}
LELP=${LELP:-target/release/lelp}
SEEDS=${SEEDS:-0}
WORK=${WORK:-${TMPDIR:-/tmp}/lelp-student-auto}
mkdir -p "$OUT" "$WORK"
TWEETS=${LELP_TWEETS_DIR:-$HOME/.cache/lelp/crowdflower}/tweets.csv
if [ -f "$TWEETS" ]; then
    python3 experiments/tweets_binary.py "$TWEETS" "$WORK/tweets-binary.csv"
fi
for data in ${DATA:-../shared/data/text/clinc150.jsonl.gz:32 ../shared/data/text/20ng.jsonl.gz:128 $WORK/tweets-binary.csv:64}; do
    path=${data%%:*}
    tokens=${data##*:}
    name=$(basename "$path" | sed 's/\..*//')
    [ -f "$path" ] || continue
    for seed in $SEEDS; do
        for search in ${SEARCHES:-halving exhaustive}; do
            flags="--search ${search%%:*}"
            [ "$search" != "${search%%:*}" ] && flags="$flags --search-trainings ${search##*:}"
            label=$(echo "$search" | tr -d ':')
            out="$OUT/$name-$label-seed$seed.txt"
            [ -s "$out" ] && continue
            echo "== $name $search seed $seed"
            log="$WORK/$name-$label-$seed.log"
            cmd="/usr/bin/time -f 'wall %e s, peak %M KB' $LELP distill --data $path --tokens $tokens --student auto $flags --seed $seed --out $WORK/$name-$label-$seed.safetensors > $out.tmp"
            if [ "$label" = exhaustive ] && command -v script > /dev/null; then
                script -qfc "$cmd" "$log" > /dev/null
                python3 experiments/halving_sim.py extract "$log" "$OUT/curves-$name-seed$seed.tsv"
            else
                bash -c "$cmd" 2> "$log"
            fi
            grep -a "wall .* s, peak" "$log" | tail -1 >> "$out.tmp"
            mv "$out.tmp" "$out"
        done
    done
done
