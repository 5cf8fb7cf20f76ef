"""Task-instruction encoders: a built-in hashed-word encoder (no download) or a local sentence-transformers model.

    encoder = build_text_encoder(d_model=128, model_path=None)   # built-in, trained with the policy
    table = encoder.prepare(["Open the drawer.", ...])           # (n_tasks, ...) tensor, once per dataset
    tokens = encoder(table[task_ids])                            # (B, n_text_tokens, d_model)

A dataset's tasks are few (hundreds), so each encoder turns the task list into a small table once;
the batch then only carries task indices. Task indices are per export, which is why the table is
rebuilt from the strings for every dataset instead of being stored with the model.
"""

from __future__ import annotations

import re
import zlib
from pathlib import Path

import torch
from torch import nn

MAX_WORDS = 24  # words kept per instruction; longer ones are cut (instructions are one sentence)
TEXT_TOKENS = 4  # tokens the built-in encoder gives the backbone per instruction


def words(text: str) -> list[str]:
    """Lower-case word tokens; punctuation is dropped."""
    return re.findall(r"[a-z0-9]+", text.lower())


class HashedTextEncoder(nn.Module):
    """Words and word bigrams hashed (crc32, stable across runs) into an embedding table, attention-pooled.

    No vocabulary file means nothing to download and nothing to keep in sync with the data; hash
    collisions are rare at 4096+ buckets for the few hundred words of tabletop instructions.
    """

    def __init__(self, d_model: int, buckets: int = 8192) -> None:
        super().__init__()
        self.buckets = buckets
        self.embed = nn.Embedding(buckets + 1, d_model, padding_idx=0)  # id 0 pads
        self.position = nn.Parameter(torch.zeros(2 * MAX_WORDS, d_model))
        self.queries = nn.Parameter(torch.randn(TEXT_TOKENS, d_model) * 0.02)
        self.attend = nn.MultiheadAttention(d_model, num_heads=1, batch_first=True)
        self.norm = nn.LayerNorm(d_model)

    def prepare(self, tasks: list[str]) -> torch.Tensor:
        """`(n_tasks, 2 * MAX_WORDS)` int64 token ids (0 pads): the words, then their bigrams."""
        table = torch.zeros(len(tasks), 2 * MAX_WORDS, dtype=torch.long)
        for row, task in enumerate(tasks):
            tokens = words(task)[:MAX_WORDS]
            grams = tokens + [f"{a} {b}" for a, b in zip(tokens, tokens[1:], strict=False)]
            ids = [1 + zlib.crc32(g.encode()) % self.buckets for g in grams]
            table[row, :len(ids)] = torch.tensor(ids, dtype=torch.long)
        return table

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """`(B, L)` ids → `(B, TEXT_TOKENS, d_model)`."""
        x = self.embed(ids) + self.position[: ids.shape[1]]
        pad = ids == 0
        pad[:, 0] = False  # an empty instruction still attends to something
        out, _ = self.attend(self.queries.expand(len(ids), -1, -1), x, x, key_padding_mask=pad, need_weights=False)
        return self.norm(out)


class SentenceTextEncoder(nn.Module):
    """A local sentence-transformers model, frozen: instructions embedded once, then a learned projection."""

    def __init__(self, d_model: int, model_path: Path) -> None:
        super().__init__()
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise ValueError("text_model needs the sentence-transformers package "
                             "(pip install sentence-transformers), or leave text_model unset") from exc
        if not Path(model_path).is_dir():
            raise ValueError(f"text_model {model_path}: not a local model folder")
        # Kept out of the module tree: frozen, loaded from its folder, never in checkpoints.
        self._model = [SentenceTransformer(str(model_path), device="cpu")]
        width = int(self._model[0].get_sentence_embedding_dimension())
        self.project = nn.Linear(width, d_model * TEXT_TOKENS)
        self.d_model = d_model

    def prepare(self, tasks: list[str]) -> torch.Tensor:
        """`(n_tasks, width)` float embeddings (computed once, no gradient)."""
        with torch.no_grad():
            return torch.as_tensor(self._model[0].encode(tasks, convert_to_numpy=True), dtype=torch.float32)

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        return self.project(embeddings).view(len(embeddings), TEXT_TOKENS, self.d_model)


def build_text_encoder(d_model: int, model_path: str | None) -> nn.Module:
    """The built-in encoder, or a sentence-transformers one when `model_path` names a local folder."""
    return HashedTextEncoder(d_model) if not model_path else SentenceTextEncoder(d_model, Path(model_path))
