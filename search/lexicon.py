"""The English lexicon: English words embedded ahead of time, once per model and dictionary, and cached
(``SANGAM_CACHE``/lexicon), so that a query's words are rarely embedded at query time."""

from __future__ import annotations

import logging
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .analysis import ENGLISH_STOPWORDS
from .dictionary import Dictionary

logger = logging.getLogger(__name__)
#: Words per embedding call: they are a few tokens long.
BATCH = 256

#: English words embedded ahead of time, so that a query's words are rarely embedded at query time:
#: the dictionary's one-word headwords plus the model vocabulary's most probable whole Latin words.
#: On the XQuAD English dev questions this leaves 1.7 of 5.5 content words per question to embed
#: (the dictionary alone: 2.7; the 60k most probable vocabulary words as well: 1.3).
LEXICON_VOCAB_WORDS = 30000
_LEXICON_WORD = re.compile(r"[A-Za-z]{2,}")


@dataclass(frozen=True)
class Lexicon:
    """English words and their embeddings (passage prompt, as the index vocabulary)."""

    rows: dict[str, int]
    vectors: np.ndarray
    name: str = ""  # the cache file's name: which model, dictionary and word list made it

    def get(self, word: str) -> np.ndarray | None:
        row = self.rows.get(word)
        return None if row is None else self.vectors[row]


def lexicon_words(embedder, dictionary: "Dictionary | None") -> list[str]:
    """Sorted: the dictionary's one-word headwords and the tokenizer's most probable whole Latin words."""
    words = set()
    if dictionary is not None:
        words.update(h for h in dictionary if _LEXICON_WORD.fullmatch(h))
    words.update(_vocabulary_words(embedder, LEXICON_VOCAB_WORDS))
    return sorted(w for w in words if w.lower() not in ENGLISH_STOPWORDS)


def _vocabulary_words(embedder, limit: int) -> list[str]:
    """Whole-word Latin pieces of a SentencePiece (Unigram) tokenizer, most probable first; [] otherwise."""
    import json

    backend = getattr(getattr(getattr(embedder, "model", None), "tokenizer", None), "backend_tokenizer", None)
    if backend is None:
        return []
    try:
        model = json.loads(backend.to_str())["model"]
    except (ValueError, KeyError):
        return []
    if model.get("type") != "Unigram":
        return []
    pieces = [(score, piece[1:]) for piece, score in model["vocab"]
              if piece.startswith("\u2581") and _LEXICON_WORD.fullmatch(piece[1:])]
    pieces.sort(key=lambda item: (-item[0], item[1]))
    return [word for _score, word in pieces[:limit]]


def lexicon_path(settings, embedder) -> Path:
    """Where the lexicon of this model and this dictionary file (path, size, time) is cached."""
    import hashlib

    try:
        st = os.stat(settings.dict_path)
        dictionary = f"{os.path.abspath(settings.dict_path)}:{st.st_size}:{st.st_mtime_ns}"
    except OSError:
        dictionary = "none"
    key = f"v1|{embedder.fingerprint}|{dictionary}|{LEXICON_VOCAB_WORDS}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return Path(settings.cache_dir) / "lexicon" / f"en-{embedder.fingerprint[:20]}-{digest}.npz"


def ensure_lexicon(embedder, settings) -> Path | None:
    """Embed the English lexicon into the cache unless it is there: once per model and dictionary
    (~48k words, about 2 minutes on two CPU cores). Written aside, then renamed."""
    if not settings.expansion:
        return None
    path = lexicon_path(settings, embedder)
    if path.exists():
        return path
    try:
        dictionary = Dictionary.open(settings.dict_path)
    except OSError:
        dictionary = None
    words = lexicon_words(embedder, dictionary)
    if not words:
        return None
    logger.info(f"Embedding {len(words):,} English words for query expansion (once per model) ...")
    t0 = time.perf_counter()
    vectors = embedder.encode_passages(words, batch_size=BATCH)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npz")
    try:
        np.savez(tmp, words=np.array(words), vectors=vectors.astype(np.float32))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    logger.info(f"Embedded the English lexicon in {time.perf_counter() - t0:.0f}s")
    return path


def load_lexicon(settings, embedder) -> Lexicon | None:
    """The cached lexicon of this model and dictionary, or None (not built yet, or unreadable)."""
    if not getattr(embedder, "fingerprint", None):
        return None
    try:
        with np.load(lexicon_path(settings, embedder)) as data:
            words, vectors = data["words"].tolist(), np.ascontiguousarray(data["vectors"], dtype=np.float32)
    except (OSError, ValueError, KeyError):
        return None
    if vectors.shape != (len(words), embedder.dim):
        return None
    return Lexicon({w: i for i, w in enumerate(words)}, vectors, lexicon_path(settings, embedder).name)
