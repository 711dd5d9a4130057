#!/usr/bin/env bash
# Regenerates every results file and plot behind docs/results.md.
# Usage: bash experiments/run_all.sh [--device NAME] [--text] [--subclass-text] [--transformer]
# --text also reruns the text study (fetches MiniLM and the corpora, encodes
# them once: one to two hours on two cores the first time).
# --subclass-text reruns only the study of text with true sub-classes
# (20 Newsgroups and CLINC150 from $LELP_TEXT_DATA, default
# ../shared/data/text; docs/results/true-subclasses.md).
# --transformer reruns only the transformer-student study
# (docs/results/transformer-students.md; the L3 from scripts/fetch-minilm-l3.sh, libtorch
# from scripts/install-libtorch.sh for the runs on the tch backend; about
# seven hours on two cores; --device does not apply: each run names the
# backend it ran on).
set -euo pipefail
cd "$(dirname "$0")/.."
TEXT=0
SUBCLASS_TEXT=0
TRANSFORMER=0
ARGS=()
for a in "$@"; do
    case "$a" in
        --text) TEXT=1 ;;
        --subclass-text) SUBCLASS_TEXT=1 ;;
        --transformer) TRANSFORMER=1 ;;
        *) ARGS+=("$a") ;;
    esac
done
BIN=${CARGO_TARGET_DIR:-target}/release/examples
if [ "$TRANSFORMER" = 1 ]; then
    bash scripts/fetch-minilm-l3.sh
    cargo build --release --features tch,text --example text
    X=results/transformer
    mkdir -p $X
    rm -f $X/*.jsonl
    L="--student transformer --lr 2e-4"
    L2="$L --init teacher:2 --lazy --subclasses 4 --epochs 5"
    # the first L3 runs (flex; they predate the encoder's own dropout, which
    # the student now has, so a rerun differs from the committed rows)
    "$BIN/text" --corpus clinc-parity $L --epochs 5 --tokens 32 --transfer 1000 --seeds 3 --methods all --out $X/clinc-parity-l3.jsonl
    "$BIN/text" --corpus clinc-10 $L --epochs 5 --tokens 32 --transfer 1000 --seeds 3 --out $X/clinc-10-l3.jsonl
    # the 2-layer student and the L3 with the encoder's dropout, flex
    "$BIN/text" --corpus clinc-parity $L2 --tokens 32 --transfer 1000 --seeds 3 --methods core --out $X/clinc-parity-l2.jsonl
    "$BIN/text" --corpus clinc-parity --teacher-tune 2 $L2 --tokens 32 --transfer 1000 --seeds 3 \
        --out $X/clinc-parity-l2-tuned.jsonl
    "$BIN/text" --corpus tweets-binary $L --epochs 5 --init l3 --lazy --subclasses 4 --tokens 32 --transfer 1000 --seeds 3 \
        --out $X/tweets-binary-l3.jsonl
    "$BIN/text" --corpus 20ng-tech $L2 --transfer 1000 --seeds 3 --out $X/20ng-tech-l2.jsonl
    # on the tch backend
    "$BIN/text" --device tch --corpus tweets-binary $L --epochs 5 --init l3 --lazy --subclasses 4 --tokens 32 --transfer 1000 \
        --seeds 3 --methods core --out $X/tweets-binary-l3-core.jsonl
    "$BIN/text" --device tch --corpus 20ng-6 $L2 --transfer 1000 --seeds 3 --out $X/20ng-6-l2.jsonl
    P="--device tch --corpus clinc-parity $L --init teacher:2 --lazy --subclasses 4 --tokens 32"
    "$BIN/text" $P --transfer 250 --seeds 3 --epochs 5 --methods core --out $X/clinc-parity-l2-250.jsonl
    "$BIN/text" $P --transfer 1000 --seeds 5 --epochs 5 --methods core --out $X/clinc-parity-l2-tch.jsonl
    "$BIN/text" $P --transfer 4000 --seeds 3 --epochs 5 --out $X/clinc-parity-l2-4000.jsonl
    "$BIN/text" $P --transfer all --seeds 3 --epochs 2 --out $X/clinc-parity-l2-all.jsonl
    python3 scripts/summarize-text.py $X/*.jsonl > $X/summary.md
    exit 0
fi
if [ "$SUBCLASS_TEXT" = 1 ]; then
    cargo build --release --features text --example text --example experiment --example plot
    S=results/subclass-text
    mkdir -p $S docs/img
    for t in 20ng-tech 20ng-6 clinc-parity clinc-10; do
        rm -f $S/$t-*.jsonl
        # pseudo-subclass alignment on the training split, S = 2..16
        "$BIN/text" --corpus $t --align --out $S/$t-align.jsonl "${ARGS[@]}"
        # MLP 384-8-8 over the sentence embeddings, every method, 250 rows to the whole split
        "$BIN/text" --corpus $t --student mlp --transfer 250,1000,4000,all --methods all --epochs 30 --subclasses 8 \
            --out $S/$t-mlp.jsonl "${ARGS[@]}"
        # student capacity: widths 8 (above), 32, 128, 512 at 1,000 rows
        for w in 32 128 512; do
            "$BIN/text" --corpus $t --student mlp --hidden $w,$w --transfer 1000 --methods all --epochs 30 --subclasses 8 \
                --out $S/$t-mlp-w$w.jsonl "${ARGS[@]}"
        done
        # the hashed bag student (2^18 x 8, lazy Adam), every method, 250 rows to the whole split
        "$BIN/text" --corpus $t --student bag --lazy --transfer 250,1000,4000,all --methods all --subclasses 8 \
            --out $S/$t-bag.jsonl "${ARGS[@]}"
        # the CNN over word-piece ids, 1,000 rows and the whole split, 3 seeds: every method on
        # CLINC parity, plain/KD/LELP/oracle on the others (the CPU budget of the run)
        CNN_METHODS=default; [ "$t" = clinc-parity ] && CNN_METHODS=all
        "$BIN/text" --corpus $t --student cnn --transfer 1000,all --seeds 3 --methods $CNN_METHODS --subclasses 8 \
            --out $S/$t-cnn.jsonl "${ARGS[@]}"
        # the tuned headline: every method 4 grid points on a validation split
        "$BIN/text" --corpus $t --export target/lelp-export/$t "${ARGS[@]}"
        "$BIN/experiment" "experiments/$t-tuned.json" "${ARGS[@]}"
        "$BIN/plot" $S/$t-mlp.jsonl transfer_size docs/img/subclass-text-$t.svg \
            "$t: MLP 384-8-8 over MiniLM embeddings, test accuracy vs transfer size"
    done
    python3 scripts/summarize-subclass-text.py $S/*.jsonl results/{20ng-tech,20ng-6,clinc-parity,clinc-10}-tuned/results.jsonl \
        > $S/summary.md
    exit 0
fi
cargo build --release --example experiment --example plot
for c in uci-parity uci-parity-cnn-teacher mnist-parity mnist-parity-cnn-teacher mnist-transfer mnist-ablations mnist-mod3 mnist-mod5 \
    uci-parity-tuned mnist-parity-tuned; do
    "$BIN/experiment" "experiments/$c.json" "${ARGS[@]}"
done
mkdir -p docs/img
"$BIN/plot" results/mnist-transfer/results.jsonl transfer_size docs/img/mnist-transfer.svg \
    "MNIST parity: test accuracy vs transfer-set size (mean ± std, 5 seeds)"
grep -E '"method":"(vanilla KD|LELP S=[0-9]+)"' results/mnist-ablations/results.jsonl \
    | sed -E 's/"method":"LELP S=[0-9]+"/"method":"LELP"/' > results/mnist-ablations/s-sweep.jsonl
"$BIN/plot" results/mnist-ablations/s-sweep.jsonl s docs/img/mnist-s.svg \
    "MNIST parity, transfer 300: LELP test accuracy vs S (mean ± std, 5 seeds)"

[ "$TEXT" = 1 ] || exit 0
cargo build --release --features text --example text
T="$BIN/text"
R=results/text
rm -f $R/tweets-binary-mlp-sweep.jsonl $R/tweets-mlp-sweep.jsonl $R/spam-mlp-all.jsonl $R/spam-bag-all.jsonl \
    $R/tweets-binary-cnn.jsonl $R/tweets-binary-mlp-linear.jsonl $R/tweets-binary-cnn-augment*.jsonl \
    $R/tweets-binary-bag-lazy.jsonl
"$T" --corpus tweets-binary --student mlp --transfer 250,1000,4000,all --methods all --epochs 30 --out $R/tweets-binary-mlp-sweep.jsonl
"$T" --corpus tweets --student mlp --transfer 250,1000,4000,all --methods all --epochs 30 --out $R/tweets-mlp-sweep.jsonl
"$T" --corpus spam --student mlp --transfer 250,1000,all --methods all --epochs 60 --out $R/spam-mlp-all.jsonl
"$T" --corpus spam --student bag --transfer 1000 --methods all --out $R/spam-bag-all.jsonl
"$T" --corpus tweets-binary --student cnn --transfer 1000,4000 --out $R/tweets-binary-cnn.jsonl
"$T" --corpus tweets-binary --student mlp --teacher-head linear --transfer 250,1000,4000,all --methods all --out $R/tweets-binary-mlp-linear.jsonl
# augmented transfer sets (Tang et al.'s recipe, lelp::text::Augmenter): N new texts a transfer text
for spec in "1000 0 5" "1000 5 5" "1000 20 3" "4000 0 5" "4000 5 3" "all 0 3" "all 5 2"; do
    read -r size n seeds <<<"$spec"
    "$T" --corpus tweets-binary --student cnn --transfer "$size" --augment "$n" --seeds "$seeds" \
        --out $R/tweets-binary-cnn-augment.jsonl
done
# the control: as many optimiser steps as N = 5 and N = 20 give, without new texts
"$T" --corpus tweets-binary --student cnn --transfer 1000 --epochs 60 --out $R/tweets-binary-cnn-augment-epochs60.jsonl
"$T" --corpus tweets-binary --student cnn --transfer 1000 --epochs 210 --seeds 3 --out $R/tweets-binary-cnn-augment-epochs210.jsonl
python3 scripts/summarize-augment.py $R/tweets-binary-cnn-augment*.jsonl > $R/tweets-binary-cnn-augment.md
# the bag student with the same copies (and its more-epochs control)
rm -f $R/tweets-binary-bag-augment*.jsonl
for spec in "1000 0 5" "1000 5 5" "1000 20 3" "4000 0 5" "4000 5 3" "all 0 3" "all 5 2"; do
    read -r size n seeds <<<"$spec"
    "$T" --corpus tweets-binary --student bag --lazy --transfer "$size" --augment "$n" --seeds "$seeds" \
        --out $R/tweets-binary-bag-augment.jsonl
done
"$T" --corpus tweets-binary --student bag --lazy --transfer 1000 --epochs 60 --out $R/tweets-binary-bag-augment-epochs60.jsonl
"$T" --corpus tweets-binary --student bag --lazy --transfer 1000 --epochs 210 --seeds 3 --out $R/tweets-binary-bag-augment-epochs210.jsonl
python3 scripts/summarize-augment.py $R/tweets-binary-bag-augment*.jsonl > $R/tweets-binary-bag-augment.md
# the CNN from the teacher's vocabulary table (model2vec's and the plain PCA one)
rm -f $R/tweets-binary-cnn-init.jsonl
"$T" --corpus tweets-binary --student cnn --init-table static --transfer 1000,4000 --out $R/tweets-binary-cnn-init.jsonl
"$T" --corpus tweets-binary --student cnn --init-table pca --transfer 1000,4000 --out $R/tweets-binary-cnn-init.jsonl
"$T" --corpus tweets-binary --student cnn --init-table pca --transfer all --seeds 3 --out $R/tweets-binary-cnn-init.jsonl
python3 scripts/summarize-cnn-init.py $R/tweets-binary-cnn-init.jsonl $R/tweets-binary-cnn-augment.jsonl > $R/tweets-binary-cnn-init.md
# the static student from the teacher's vocabulary pass (docs/results/transfer-sets.md, "The static student"):
# its table frozen, fine-tuned, and fine-tuned after an embedding-regression stage; then the other sets
rm -f $R/*-static*.jsonl
"$T" --corpus tweets-binary --student static --lazy --transfer 1000,all --out $R/tweets-binary-static.jsonl
"$T" --corpus tweets-binary --student static --frozen-table --transfer 1000,all --out $R/tweets-binary-static-frozen.jsonl
"$T" --corpus tweets-binary --student static --lazy --regress 5 --transfer 1000,all --out $R/tweets-binary-static-regress.jsonl
"$T" --corpus clinc-parity --student static --lazy --transfer 1000,all --seeds 3 --out $R/clinc-parity-static.jsonl
"$T" --corpus clinc-10 --student static --lazy --transfer 1000 --out $R/clinc-10-static.jsonl
"$T" --corpus clinc-10 --student static --lazy --transfer all --seeds 3 --out $R/clinc-10-static.jsonl
for c in clinc-parity clinc-10; do
    "$T" --corpus $c --student static --lazy --transfer 1000 --methods all --out $R/$c-static-all.jsonl
done
for c in 20ng-tech 20ng-6; do
    "$T" --corpus $c --student static --lazy --transfer 1000 --out $R/$c-static.jsonl
done
"$T" --corpus spam --student static --lazy --transfer 1000,all --out $R/spam-static.jsonl
"$T" --corpus tweets --student static --lazy --transfer 1000 --out $R/tweets-static.jsonl
"$T" --corpus tweets --student static --lazy --transfer all --seeds 3 --out $R/tweets-static.jsonl
# the static student with bigram rows, with teacher-labelled copies, with the neutral tweets as unlabeled rows
"$T" --corpus tweets-binary --student static --lazy --transfer 1000 --bigrams 65536 --out $R/tweets-binary-static-bigrams.jsonl
"$T" --corpus tweets-binary --student static --lazy --transfer 1000 --bigrams 65536 --encoded-bigrams 20000 --out $R/tweets-binary-static-bigrams.jsonl
"$T" --corpus tweets-binary --student static --lazy --transfer all --seeds 3 --bigrams 65536 --encoded-bigrams 50000 --out $R/tweets-binary-static-bigrams.jsonl
"$T" --corpus spam --student static --lazy --transfer 1000 --bigrams 65536 --encoded-bigrams 20000 --out $R/spam-static-bigrams.jsonl
"$T" --corpus clinc-10 --student static --lazy --transfer 1000 --bigrams 65536 --encoded-bigrams 20000 --out $R/clinc-10-static-bigrams.jsonl
"$T" --corpus tweets-binary --student static --lazy --transfer 1000 --augment 5 --seeds 5 --out $R/tweets-binary-static-augment.jsonl
"$T" --corpus tweets-binary --student static --lazy --transfer 1000 --augment 20 --seeds 3 --out $R/tweets-binary-static-augment.jsonl
"$T" --corpus tweets-binary --student static --lazy --transfer 4000 --augment 5 --seeds 3 --out $R/tweets-binary-static-augment.jsonl
"$T" --corpus tweets-binary --student static --lazy --transfer all --augment 5 --seeds 1 --out $R/tweets-binary-static-augment.jsonl
"$T" --corpus tweets-binary --student static --lazy --transfer 1000 --unlabeled 15018 --out $R/tweets-binary-static-unlabeled.jsonl
"$T" --corpus tweets-binary --student static --lazy --transfer all --unlabeled 15018 --seeds 2 --out $R/tweets-binary-static-unlabeled.jsonl
"$T" --corpus tweets-binary --student static --lazy --transfer 1000 --unlabeled 15018 --methods all --seeds 3 --out $R/tweets-binary-static-unlabeled-all.jsonl
"$T" --corpus tweets-binary --student static --lazy --transfer all --unlabeled 15018 --bigrams 65536 --encoded-bigrams 50000 --seeds 1 \
    --out $R/tweets-binary-static-unlabeled-bigrams.jsonl
# lazy against dense Adam on the bag's table (docs/performance.md)
for lazy in "" --lazy; do
    "$T" --corpus tweets-binary --student bag --transfer 1000,4000 --seeds 5 $lazy --out $R/tweets-binary-bag-lazy.jsonl
done
for c in spam tweets-binary tweets; do
    "$T" --corpus $c --export target/lelp-export/$c
    "$BIN/experiment" "experiments/$c-tuned.json" "${ARGS[@]}"
done
"$BIN/plot" $R/tweets-binary-mlp-sweep.jsonl transfer_size docs/img/text-tweets-binary-mlp.svg \
    "CrowdFlower tweets (binary), MLP 384-8-8 over MiniLM embeddings"
"$BIN/plot" $R/tweets-mlp-sweep.jsonl transfer_size docs/img/text-tweets-mlp.svg \
    "CrowdFlower tweets (3 classes), MLP 384-8-8 over MiniLM embeddings"
