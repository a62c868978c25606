"""Text for vendors: HTML sanitised to a vendor's allowed tags, or turned into plain text.

One sanitising step per field kind, used by every payload builder for every text field:
- `plain_text` for fields a vendor takes as text (titles, names, plain descriptions): tags removed,
  entities decoded, but never into markup: `<` and `>` stay (or become) `&lt;`/`&gt;`, so text that
  arrived escaped stays escaped and no field ever holds a tag.
- `basic_html` for fields a vendor takes as HTML (Thought Industries' description): only its tags.

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
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# Presentational tags people use for the semantic ones vendors allow.
_EQUIVALENT_TAGS = ((re.compile(r"(?i)<(/?)b(\s[^>]*)?>"), r"<\1strong>"),
                    (re.compile(r"(?i)<(/?)i(\s[^>]*)?>"), r"<\1em>"))


@lru_cache(maxsize=65536)
def plain_text(value: str | None) -> str:
    """Tags removed (scripts with their content), entities decoded except into `<` or `>` (which stay
    `&lt;`/`&gt;`: decoding them would revive escaped markup), control characters dropped,
    whitespace folded."""
    if not value:
        return ""
    spaced = _BLOCK_END.sub(lambda m: " " + m.group(0), value)
    # nh3's output is escaped text; unescaping it once and re-escaping only the angle brackets is the
    # one decoding that cannot produce a tag.
    text = html.unescape(nh3.clean(spaced, tags=set())).replace("<", "&lt;").replace(">", "&gt;")
    return _SPACES.sub(" ", _CONTROL.sub("", text)).strip()


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


def title_text(value: str | None, what: str = "title") -> str:
    """A title as plain text; one that is nothing but markup is a vendor reject, not an empty title."""
    from .base import VendorRejected  # base imports nothing of ours; imported here to keep text.py leaf-like

    text = plain_text(value)
    if not text:
        raise VendorRejected("title_markup", f"{what} {value!r:.60} is empty once its markup is removed")
    return text


def text_values(mapping: dict | None) -> dict:
    """A mapping's text values as plain text (custom fields); other values as they are."""
    return {k: plain_text(v) if isinstance(v, str) else v for k, v in (mapping or {}).items()}
