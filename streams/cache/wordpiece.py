"""BERT's uncased WordPiece tokenizer, in plain Python, for the bundled sentence-embedding model.

It does what ``BertTokenizer(do_lower_case=True)`` does: clean the text, split CJK characters, lowercase,
strip accents, split on whitespace and punctuation, then split each word greedily into the longest
pieces in ``vocab.txt`` (continuations prefixed ``##``; a word that cannot be split is ``[UNK]``).
A query is a few dozen tokens, so this takes tens of microseconds and saves the ``tokenizers``
dependency (which brings ``huggingface_hub`` with it); ``tests/unit/streams/cache/test_embedders.py``
pins its ids on known sentences.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

__all__ = ["WordPieceTokenizer"]

_MAX_WORD_CHARS = 100


def _is_control(ch: str) -> bool:
    if ch in "\t\n\r":
        return False
    return unicodedata.category(ch).startswith("C")


def _is_whitespace(ch: str) -> bool:
    return ch in " \t\n\r" or unicodedata.category(ch) == "Zs"


def _is_punctuation(ch: str) -> bool:
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_cjk(cp: int) -> bool:
    return (
        0x4E00 <= cp <= 0x9FFF
        or 0x3400 <= cp <= 0x4DBF
        or 0x20000 <= cp <= 0x2A6DF
        or 0x2A700 <= cp <= 0x2B73F
        or 0x2B740 <= cp <= 0x2B81F
        or 0x2B820 <= cp <= 0x2CEAF
        or 0xF900 <= cp <= 0xFAFF
        or 0x2F800 <= cp <= 0x2FA1F
    )


class WordPieceTokenizer:
    """Text to token ids, ``[CLS] ... [SEP]``, cut to ``max_tokens`` ids in all."""

    def __init__(self, vocab: dict[str, int], max_tokens: int = 256) -> None:
        self.vocab = vocab
        self.max_tokens = max_tokens
        self.cls_id = vocab["[CLS]"]
        self.sep_id = vocab["[SEP]"]
        self.unk_id = vocab["[UNK]"]

    @classmethod
    def from_file(cls, path: Path, max_tokens: int = 256) -> WordPieceTokenizer:
        words = path.read_text(encoding="utf-8").split("\n")
        if words and words[-1] == "":
            words.pop()
        return cls({word: index for index, word in enumerate(words)}, max_tokens)

    def words(self, text: str) -> list[str]:
        """The basic tokenizer: cleaned, lowercased, accent-free words and punctuation marks."""
        chars = []
        for ch in text:
            cp = ord(ch)
            if cp == 0 or cp == 0xFFFD or _is_control(ch):
                continue
            if _is_whitespace(ch):
                chars.append(" ")
            elif _is_cjk(cp):
                chars.append(f" {ch} ")
            else:
                chars.append(ch)
        words: list[str] = []
        for word in "".join(chars).lower().split():
            word = "".join(c for c in unicodedata.normalize("NFD", word) if unicodedata.category(c) != "Mn")
            current = ""
            for ch in word:
                if _is_punctuation(ch):
                    if current:
                        words.append(current)
                        current = ""
                    words.append(ch)
                else:
                    current += ch
            if current:
                words.append(current)
        return words

    def pieces(self, word: str) -> list[int]:
        if len(word) > _MAX_WORD_CHARS:
            return [self.unk_id]
        ids: list[int] = []
        start = 0
        while start < len(word):
            end = len(word)
            found = None
            while start < end:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.vocab:
                    found = self.vocab[piece]
                    break
                end -= 1
            if found is None:
                return [self.unk_id]
            ids.append(found)
            start = end
        return ids

    def encode(self, text: str) -> list[int]:
        """``[CLS]``, the pieces of every word, ``[SEP]``; at most ``max_tokens`` ids."""
        ids = [self.cls_id]
        budget = self.max_tokens - 1
        for word in self.words(text):
            ids.extend(self.pieces(word))
            if len(ids) >= budget:
                del ids[budget:]
                break
        ids.append(self.sep_id)
        return ids

    def fits(self, text: str) -> bool:
        """Whether the whole text fits the model's window (nothing would be cut)."""
        count = 2
        for word in self.words(text):
            count += len(self.pieces(word))
            if count > self.max_tokens:
                return False
        return True
