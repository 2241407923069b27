"""The number to call for an ambulance, by country (ISO 3166 region code, as `phone_region`):
what the web chat's urgent advice offers to tap and call. A practice whose country is not here
sets `web_chat.emergency_number`; mobile phones almost everywhere also connect 112."""

from __future__ import annotations

FALLBACK = "112"
NUMBERS: dict[str, str] = {
    "US": "911", "CA": "911", "MX": "911", "PR": "911", "PH": "911", "AR": "911",
    "GB": "999", "IE": "112", "HK": "999", "SG": "995", "MY": "999",
    "AU": "000", "NZ": "111", "ZA": "112", "IN": "112", "JP": "119", "KR": "119",
    "CN": "120", "TW": "119", "BR": "192", "IL": "101", "AE": "998", "SA": "997",
    "CH": "144", "NO": "113", "IS": "112", "TR": "112", "RU": "112", "UA": "103",
}
# The European Union's countries all answer 112.
NUMBERS |= {region: "112" for region in (
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IT", "LV",
    "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE")}


def emergency_number(region: str, chosen: str = "") -> str:
    """The number set for the practice (`chosen`), else its country's, else 112."""
    return chosen or NUMBERS.get(region.upper(), FALLBACK)


def known_region(region: str) -> bool:
    return region.upper() in NUMBERS
