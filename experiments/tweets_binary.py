"""The binary CrowdFlower tweets: scripts/fetch-tweets.sh's tweets.csv with
the neutral ones dropped, as a `text,label` CSV (negative, positive).
Python 3 standard library only.

usage: python3 experiments/tweets_binary.py TWEETS_CSV OUT_CSV
"""
import csv
import io
import sys

rows = csv.DictReader(io.StringIO(open(sys.argv[1], "rb").read().decode("utf-8", "replace")))
with open(sys.argv[2], "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["text", "label"])
    for r in rows:
        if r["sentiment"] in ("negative", "positive") and r["text"].strip():
            w.writerow([r["text"], r["sentiment"]])
