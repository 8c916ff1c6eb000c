"""An HTTP fetcher for news sites: timeouts, retries with backoff, a redirect cap, a size cap, charset
detection, robots.txt and a per-host rate limit."""

from __future__ import annotations

import logging
import re
import threading
import time
import unicodedata
from dataclasses import dataclass, field
from typing import Callable
from urllib import robotparser
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from .settings import IngestSettings

logger = logging.getLogger(__name__)

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_:.-]+)""", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"""^<\?xml[^>]+encoding\s*=\s*["']([A-Za-z0-9_.-]+)""")
_BOMS = ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))
_BINARY_MAGIC = (b"%PDF", b"\x89PNG", b"GIF8", b"\xff\xd8\xff", b"PK\x03\x04", b"\x1f\x8b", b"\x7fELF", b"RIFF")


class FetchError(Exception):
    """A URL that could not be fetched; ``str()`` is the reason, for the run's summary."""


@dataclass(frozen=True)
class Page:
    """A fetched page: final URL (after redirects), status, headers that matter, body bytes and text."""

    url: str
    status: int  # 200, or 304 when the validators sent still hold
    content_type: str = ""
    body: bytes = b""
    etag: str = ""
    last_modified: str = ""
    fetched_at: str = ""

    @property
    def not_modified(self) -> bool:
        return self.status == 304


@dataclass
class _Host:
    lock: threading.Lock = field(default_factory=threading.Lock)
    next_at: float = 0.0
    robots: robotparser.RobotFileParser | None = None


class Fetcher:
    """Fetches URLs politely; use as a context manager (it owns a ``requests`` session)."""

    def __init__(self, settings: IngestSettings | None = None, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self.settings = settings or IngestSettings()
        self._clock, self._sleep = clock, sleep
        self._hosts: dict[str, _Host] = {}
        self._hosts_lock = threading.Lock()
        self.session = requests.Session()
        self.session.max_redirects = self.settings.max_redirects
        self.session.headers.update({"User-Agent": self.settings.user_agent, "Accept-Encoding": "gzip, deflate",
                                     "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"})
        retry = Retry(total=self.settings.retries, connect=self.settings.retries, read=self.settings.retries,
                      status=self.settings.retries, backoff_factor=self.settings.backoff,
                      status_forcelist=(429, 500, 502, 503, 504), allowed_methods=("GET", "HEAD"),
                      raise_on_status=False, redirect=False,
                      # a Retry-After of hours would stall the whole run: the backoff decides
                      respect_retry_after_header=False)
        adapter = HTTPAdapter(max_retries=retry)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def __enter__(self) -> "Fetcher":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.session.close()

    # ------------------------------------------------------------------ public

    def get(self, url: str, *, etag: str = "", last_modified: str = "", check_robots: bool = True) -> Page:
        """Fetch ``url``; raise :class:`FetchError` with the reason when it cannot be had.

        With ``etag``/``last_modified`` from an earlier fetch the request is conditional, and an
        unchanged page comes back as a ``Page`` with status 304 and no body.
        """
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise FetchError("not an http(s) URL")
        if check_robots and self.settings.robots and not self.allowed(url):
            raise FetchError("disallowed by robots.txt")
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        self._wait_turn(parts.netloc)
        timeout = (self.settings.connect_timeout, self.settings.read_timeout)
        try:
            with self.session.get(url, headers=headers, timeout=timeout, stream=True) as response:
                if response.status_code == 304:
                    return Page(response.url, 304, etag=etag, last_modified=last_modified, fetched_at=_now())
                if response.status_code >= 400:
                    raise FetchError(f"HTTP {response.status_code} {response.reason or ''}".strip())
                body = self._read_capped(response)
                return Page(response.url, response.status_code, response.headers.get("Content-Type", ""), body,
                            response.headers.get("ETag", ""), response.headers.get("Last-Modified", ""), _now())
        except requests.TooManyRedirects:
            raise FetchError(f"more than {self.settings.max_redirects} redirects (a redirect loop?)") from None
        except requests.exceptions.RetryError as err:
            raise FetchError(f"gave up after {self.settings.retries} retries ({_short(err)})") from None
        except (requests.Timeout, requests.ConnectionError) as err:
            if isinstance(err, requests.Timeout) or "Timeout" in _short(err):
                raise FetchError(f"timed out (no answer within {self.settings.read_timeout:g}s, "
                                 f"{self.settings.retries} retries)") from None
            raise FetchError(f"connection failed ({_short(err)})") from None
        except requests.RequestException as err:
            raise FetchError(f"request failed ({_short(err)})") from None

    def allowed(self, url: str) -> bool:
        """Whether robots.txt lets Sangam's User-Agent fetch ``url`` (fetched once per host; an absent or
        unreadable robots.txt allows everything, as the robots exclusion standard says)."""
        parts = urlsplit(url)
        host = self._host(parts.netloc)
        if host.robots is None:
            parser = robotparser.RobotFileParser()
            robots_url = f"{parts.scheme}://{parts.netloc}/robots.txt"
            try:
                page = self.get(robots_url, check_robots=False)
                parser.parse(decode(page.body, page.content_type).splitlines())
            except FetchError as err:
                logger.info("no robots.txt at %s (%s): everything allowed", robots_url, err)
                parser.parse([])
            host.robots = parser
        return host.robots.can_fetch(self.settings.user_agent, url)

    # ------------------------------------------------------------------ internals

    def _host(self, netloc: str) -> _Host:
        with self._hosts_lock:
            return self._hosts.setdefault(netloc, _Host())

    def _wait_turn(self, netloc: str) -> None:
        """At most one request per ``host_interval`` seconds to one host."""
        host = self._host(netloc)
        with host.lock:
            delay = host.next_at - self._clock()
            if delay > 0:
                self._sleep(delay)
            host.next_at = self._clock() + self.settings.host_interval

    def _read_capped(self, response: requests.Response) -> bytes:
        limit = self.settings.max_page_bytes
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and "Content-Encoding" not in response.headers and int(declared) > limit:
            raise FetchError(f"page too large ({int(declared):,} bytes declared; the limit is {limit:,})")
        chunks, size = [], 0
        for chunk in response.iter_content(64 * 1024):  # decoded (gunzipped) bytes
            size += len(chunk)
            if size > limit:
                raise FetchError(f"page too large (more than {limit:,} bytes arrived; the limit is {limit:,})")
            chunks.append(chunk)
        return b"".join(chunks)


def decode(body: bytes, content_type: str = "") -> str:
    """The text of a page: by its BOM, the charset in the HTTP header, a ``<meta charset>`` or XML
    declaration, then UTF-8, then what charset-normalizer detects (legacy Hindi sites still serve
    UTF-16 and 8-bit code pages). Raises :class:`FetchError` for binary content."""
    if body.startswith(_BINARY_MAGIC):
        raise FetchError(f"binary content ({_kind(content_type)}, but the bytes are not text)")
    for candidate in _charsets(body, content_type):
        try:
            text = body.decode(candidate)
        except (LookupError, UnicodeDecodeError):
            continue
        return _checked(text.lstrip("\ufeff"), content_type)
    from charset_normalizer import from_bytes

    best = from_bytes(body).best()
    if best is None:
        raise FetchError(f"binary content ({_kind(content_type)}, but no text encoding fits its bytes)")
    return _checked(str(best), content_type)


def _charsets(body: bytes, content_type: str) -> list[str]:
    out = [name for bom, name in _BOMS if body.startswith(bom)]
    match = re.search(r"charset\s*=\s*[\"']?([A-Za-z0-9_:.-]+)", content_type or "", re.IGNORECASE)
    if match:
        out.append(match.group(1))
    head = body[:4096]
    for pattern in (_XML_ENCODING, _META_CHARSET):
        found = pattern.search(head)
        if found:
            out.append(found.group(1).decode("ascii"))
    if b"\x00" not in body:
        out.append("utf-8")
    return out


def _checked(text: str, content_type: str) -> str:
    sample = text[:20000]
    controls = sum(1 for ch in sample if unicodedata.category(ch) in ("Cc", "Co", "Cs", "Cn") and ch not in "\t\n\r\f")
    if sample and controls > 0.01 * len(sample):
        raise FetchError(f"binary content ({_kind(content_type)}, but {controls} of its first {len(sample)} "
                         f"characters are control characters)")
    return text


def _kind(content_type: str) -> str:
    return f"served as {content_type.split(';')[0].strip()}" if content_type else "served with no type"


def _short(err: Exception) -> str:
    text = str(err)
    reason = re.search(r"\(Caused by (\w+)", text)
    return reason.group(1) if reason else text[:120]


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
