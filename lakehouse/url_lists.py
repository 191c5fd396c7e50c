"""The URL rules' lists (blocked and allowed domains, banned words) and what they say of a URL.

Lists are plain text files named in the recipe (`clean.url.*_file`, relative to the recipe's
folder): one entry a line, `#` starts a comment. A domain entry matches the domain and every
subdomain of it (`example.com` blocks `www.example.com` and `a.b.example.com`, not
`notexample.com`). A banned word matches a whole word of the URL's host and path, split on
every character that is not a letter or digit (`casino` matches `/best-casino-bonus`, not
`/occasional`). Everything is compared lower-cased.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

_WORD_SPLIT = re.compile(r"[^0-9a-z]+")
_HOST = re.compile(r"^[0-9a-z]([0-9a-z-]*[0-9a-z])?(\.[0-9a-z]([0-9a-z-]*[0-9a-z])?)*\.?$")
HTTP_SCHEMES = frozenset({"http", "https"})


class UrlListError(ValueError):
    """A list file of the URL rules that cannot be read; the message names the key and fix."""


@dataclass(frozen=True)
class UrlLists:
    """The entries of the URL rules' lists, lower-cased (empty allow list: allow all)."""

    blocked_domains: frozenset[str] = frozenset()
    allowed_domains: frozenset[str] = frozenset()
    banned_words: frozenset[str] = frozenset()

    def fingerprint(self) -> str:
        """sha256 of the entries: a changed list file re-runs the clean stage."""
        parts = [sorted(self.blocked_domains), sorted(self.allowed_domains)]
        parts.append(sorted(self.banned_words))
        return hashlib.sha256(repr(parts).encode()).hexdigest()


def read_list(path: Path, key: str) -> frozenset[str]:
    """The entries of one list file: one a line, lower-cased, blank lines and `#` comments out."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
        raise UrlListError(
            f"{key}: cannot read the list {path}: {reason}; create the file (one entry a "
            "line) or set the key to null"
        ) from error
    entries = (line.split("#", 1)[0].strip().lower() for line in text.splitlines())
    return frozenset(entry.rstrip(".") for entry in entries if entry)


def load_url_lists(url: Any, base: Path) -> UrlLists:
    """The lists a `clean.url` section names, files relative to `base` (the recipe's folder)."""

    def file_entries(field: str) -> frozenset[str]:
        name = getattr(url, field)
        if name is None:
            return frozenset()
        path = Path(name) if Path(name).is_absolute() else base / name
        return read_list(path, f"clean.url.{field}")

    words = file_entries("banned_words_file") | {word.lower() for word in url.banned_words}
    return UrlLists(
        blocked_domains=file_entries("block_domains_file"),
        allowed_domains=file_entries("allow_domains_file"),
        banned_words=frozenset(words),
    )


def _domains(host: str) -> Iterable[str]:
    """`a.b.example.com` → itself, `b.example.com`, `example.com`, `com`."""
    parts = host.split(".")
    return (".".join(parts[index:]) for index in range(len(parts)))


def url_signals(url: str | None, lists: UrlLists) -> dict[str, int | None]:
    """The URL rules' signals of one URL (each 0 or 1, banned words a count); None without URL.

    A URL that does not parse, has no host, or whose host is not a valid domain or address is
    malformed, and then only `url_malformed` is set.
    """
    names = ("url_malformed", "url_not_http", "url_blocked_domain", "url_domain_not_allowed")
    if url is None or not url.strip():
        return dict.fromkeys((*names, "url_banned_words"))
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").lower().rstrip(".")
    except ValueError:
        host, parts = "", None
    if parts is None or not host or not _HOST.match(host) or not parts.scheme:
        return {"url_malformed": 1} | dict.fromkeys((*names[1:], "url_banned_words"))
    domains = set(_domains(host))
    words = set(_WORD_SPLIT.split(f"{host} {parts.path} {parts.query}".lower())) - {""}
    return {
        "url_malformed": 0,
        "url_not_http": int(parts.scheme.lower() not in HTTP_SCHEMES),
        "url_blocked_domain": int(bool(domains & lists.blocked_domains)),
        "url_domain_not_allowed": int(
            bool(lists.allowed_domains) and not domains & lists.allowed_domains
        ),
        "url_banned_words": len(words & lists.banned_words),
    }
