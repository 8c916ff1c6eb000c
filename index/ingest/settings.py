"""How ingest fetches: every tunable with its default (tests and benches pass their own)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from search.settings import MAX_DOCUMENT_BYTES

USER_AGENT = "Sangam/0.1 (Hindi news search; +https://github.com/sangam-search)"


@dataclass(frozen=True)
class IngestSettings:
    """Fetching and extraction limits for ``search ingest``."""

    user_agent: str = USER_AGENT
    connect_timeout: float = 10.0  # seconds to connect
    read_timeout: float = 20.0  # seconds without a byte from the server
    retries: int = 2  # retries after a connection error, a timeout or a 429/5xx answer
    backoff: float = 1.0  # seconds; retry n waits backoff * 2**(n-1)
    max_redirects: int = 5
    max_page_bytes: int = MAX_DOCUMENT_BYTES  # decoded bytes; a larger page is dropped as soon as it passes this
    host_interval: float = 1.0  # seconds between two requests to one host
    robots: bool = True  # honour robots.txt
    max_sitemap_depth: int = 3  # sitemap index -> sitemap -> ...
    min_article_chars: int = 250  # less main text than this: not an article (an index page, a video)
    lang: str | None = None  # keep only articles in this language ("hi"); None keeps all, with lang recorded

    def replace(self, **changes) -> "IngestSettings":
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})
