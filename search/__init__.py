"""Sangam: bilingual (English/Hindi) hybrid search over Hindi news."""

__version__ = "0.1.0"
