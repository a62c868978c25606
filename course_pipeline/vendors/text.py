"""Text for vendors: HTML sanitised to a vendor's allowed tags, or turned into plain text.

nh3 (the Rust ammonia sanitiser) does the HTML work: a real parser, not regular expressions, so no
script, event handler or javascript: link survives, however the HTML is written.
"""

from __future__ import annotations

import html
import re
import unicodedata
from functools import lru_cache

import nh3

_BLOCK_END = re.compile(r"(?i)<(?:br|/p|/div|/li|/h[1-6]|/tr|/td|/blockquote)\b[^>]*>")
_SPACES = re.compile(r"\s+")
# Presentational tags people use for the semantic ones vendors allow.
_EQUIVALENT_TAGS = ((re.compile(r"(?i)<(/?)b(\s[^>]*)?>"), r"<\1strong>"),
                    (re.compile(r"(?i)<(/?)i(\s[^>]*)?>"), r"<\1em>"))


@lru_cache(maxsize=65536)
def plain_text(value: str | None) -> str:
    """Tags removed (scripts with their content), entities decoded, whitespace folded."""
    if not value:
        return ""
    spaced = _BLOCK_END.sub(lambda m: " " + m.group(0), value)
    return _SPACES.sub(" ", html.unescape(nh3.clean(spaced, tags=set()))).strip()


@lru_cache(maxsize=65536)
def basic_html(value: str | None, tags: frozenset[str], link_schemes: frozenset[str]) -> str:
    """Only `tags` survive (links keep just their href, and only with an allowed scheme)."""
    if not value:
        return ""
    for pattern, replacement in _EQUIVALENT_TAGS:
        value = pattern.sub(replacement, value)
    attributes = {"a": {"href"}} if "a" in tags else {}
    return nh3.clean(value, tags=set(tags), attributes=attributes, url_schemes=set(link_schemes),
                     link_rel=None).strip()


def slugify(text: str, max_length: int = 120) -> str:
    """Lowercase ASCII words joined by hyphens: 'Größe & Straße' -> 'grosse-strasse'."""
    text = text.replace("ß", "ss")
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:max_length].rstrip("-")
