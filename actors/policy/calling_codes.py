"""Country (ISO 3166-1 alpha-2) → the calling-code prefixes of its phone numbers.

Why: prices are configured by calling-code prefix (``[[pricing.rates]] prefix = "55"``),
while a contact known only by its business-scoped user id (BSUID, ``BR.Xk9aZ81bQ``,
cloud-api.md 1) names its country by ISO code and has no number at all. This table
lets such a contact be priced at its country's configured rate.

North American Numbering Plan countries other than the US and Canada are listed by
their area codes (Jamaica is ``1876`` and ``1658``), so a configured ``1876`` rate prices
a Jamaican user id as it prices a Jamaican number; countries sharing a code with a
larger one (the Channel Islands, Åland, the Vatican) are listed under the shared code,
as their numbers would be. ITU-T E.164 assignments; a country missing here is priced
as a BSUID without a country (the highest configured rate, see
:meth:`actors.policy.pricing.PriceTable.rate`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

__all__ = ["CALLING_CODES", "calling_codes"]

_NANP: Final[Mapping[str, tuple[str, ...]]] = {
    "AG": ("1268",),
    "AI": ("1264",),
    "AS": ("1684",),
    "BB": ("1246",),
    "BM": ("1441",),
    "BS": ("1242",),
    "CA": ("1",),
    "DM": ("1767",),
    "DO": ("1809", "1829", "1849"),
    "GD": ("1473",),
    "GU": ("1671",),
    "JM": ("1876", "1658"),
    "KN": ("1869",),
    "KY": ("1345",),
    "LC": ("1758",),
    "MP": ("1670",),
    "MS": ("1664",),
    "PR": ("1787", "1939"),
    "SX": ("1721",),
    "TC": ("1649",),
    "TT": ("1868",),
    "UM": ("1",),
    "US": ("1",),
    "VC": ("1784",),
    "VG": ("1284",),
    "VI": ("1340",),
}

_ONE_CODE: Final = (
    "AC247 AD376 AE971 AF93 AL355 AM374 AO244 AQ672 AR54 AT43 AU61 AW297 AX358 AZ994 "
    "BA387 BD880 BE32 BF226 BG359 BH973 BI257 BJ229 BL590 BN673 BO591 BQ599 BR55 BT975 "
    "BW267 BY375 BZ501 CC61 CD243 CF236 CG242 CH41 CI225 CK682 CL56 CM237 CN86 CO57 "
    "CR506 CU53 CV238 CW599 CX61 CY357 CZ420 DE49 DJ253 DK45 DZ213 EC593 EE372 EG20 "
    "EH212 ER291 ES34 ET251 FI358 FJ679 FK500 FM691 FO298 FR33 GA241 GB44 GE995 GF594 "
    "GG44 GH233 GI350 GL299 GM220 GN224 GP590 GQ240 GR30 GT502 GW245 GY592 HK852 HN504 "
    "HR385 HT509 HU36 ID62 IE353 IL972 IM44 IN91 IO246 IQ964 IR98 IS354 IT39 JE44 JO962 "
    "JP81 KE254 KG996 KH855 KI686 KM269 KP850 KR82 KW965 LA856 LB961 LI423 LK94 LR231 "
    "LS266 LT370 LU352 LV371 LY218 MA212 MC377 MD373 ME382 MF590 MG261 MH692 MK389 ML223 "
    "MM95 MN976 MO853 MQ596 MR222 MT356 MU230 MV960 MW265 MX52 MY60 MZ258 NA264 NC687 "
    "NE227 NF672 NG234 NI505 NL31 NO47 NP977 NR674 NU683 NZ64 OM968 PA507 PE51 PF689 "
    "PG675 PH63 PK92 PL48 PM508 PS970 PT351 PW680 PY595 QA974 RE262 RO40 RS381 RU7 RW250 "
    "SA966 SB677 SC248 SD249 SE46 SG65 SH290 SI386 SJ47 SK421 SL232 SM378 SN221 SO252 "
    "SR597 SS211 ST239 SV503 SY963 SZ268 TA290 TD235 TG228 TH66 TJ992 TK690 TL670 TM993 "
    "TN216 TO676 TR90 TV688 TW886 TZ255 UA380 UG256 UY598 UZ998 VA39 VE58 VN84 VU678 "
    "WF681 WS685 XK383 YE967 YT262 ZA27 ZM260 ZW263"
)
"""Countries with one calling code, ``<ISO><code>`` each (a table of 200 one-liners
would hide the few that differ above)."""

CALLING_CODES: Final[Mapping[str, tuple[str, ...]]] = {
    **{entry[:2]: (entry[2:],) for entry in _ONE_CODE.split()},
    "KZ": ("76", "77"),  # Russia's 7, Kazakhstan's ranges of it
    **_NANP,
}


def calling_codes(country: str) -> tuple[str, ...]:
    """The calling-code prefixes of ``country`` (``br`` or ``BR`` → ``("55",)``); ``()``
    for a code this table does not know."""
    return CALLING_CODES.get(country.upper(), ())
