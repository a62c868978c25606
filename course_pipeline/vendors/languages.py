"""Language tags in the forms vendors take, from our normalised BCP 47 tags."""

from __future__ import annotations

from functools import lru_cache

import langcodes


@lru_cache(maxsize=1024)
def language_region(tag: str) -> str:
    """'zh-Hant-TW' -> 'zh-TW', 'es-419' -> 'es', 'de-CH' -> 'de-CH': the ll or ll-CC form (script,
    variants and numeric regions dropped, since such vendors accept nothing finer)."""
    parsed = langcodes.Language.get(tag)
    region = parsed.territory
    if region and len(region) == 2 and region.isalpha():
        return f"{parsed.language}-{region}"
    return parsed.language


@lru_cache(maxsize=1024)
def locale_code(tag: str) -> str | None:
    """'en-GB' -> 'en_GB'; a tag without region takes its likely one ('de' -> 'de_DE'); None where no
    region can be had (the caller then sends unmapped_value)."""
    parsed = langcodes.Language.get(tag)
    region = parsed.territory or parsed.maximize().territory
    if not region or not (len(region) == 2 and region.isalpha()) or not parsed.language:
        return None
    return f"{parsed.language}_{region}"


def unique(values: list[str]) -> list[str]:
    seen: list[str] = []
    for value in values:
        if value not in seen:
            seen.append(value)
    return seen
