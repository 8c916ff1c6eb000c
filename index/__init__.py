"""Sangam indexer: corpus reading, passages, and the BM25 + embedding index build."""
