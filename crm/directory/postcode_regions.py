"""Which region a postcode is in, from its area letters (``'M1 1AE'`` → ``'M'`` → North West), to fill an
organisation's region when it was left empty.

Source: the region the Office for National Statistics assigns to every postcode (ONS National Statistics Postcode
Lookup, field ``rgn``; Scotland, Wales and Northern Ireland are one region each), reduced by hand to one region per
postcode area. Most areas lie wholly in one region. Where an area straddles a border the table gives the region
that holds most of its addresses, judged from the local authorities its districts cover (not computed from NSPL
counts), and says so below: for those areas the filled region can be wrong near the border, and the fellow can
change it. ``DISTRICT_REGIONS`` then corrects the districts (outward codes) of those areas whose side of
the border is clear (CH5-CH8 in Wales, EN6-EN11 in the East, ...); ``region_for_postcode`` looks there first.
Regions are ITL1 codes (``crm.directory.reference.REGIONS``). Jersey (JE), Guernsey (GY) and the Isle
of Man (IM) are valid postcode areas outside the UK's regions: no region is filled.
"""

from __future__ import annotations

import re

NORTH_EAST = "UKC"
NORTH_WEST = "UKD"
YORKSHIRE = "UKE"
EAST_MIDLANDS = "UKF"
WEST_MIDLANDS = "UKG"
EAST = "UKH"
LONDON = "UKI"
SOUTH_EAST = "UKJ"
SOUTH_WEST = "UKK"
WALES = "UKL"
SCOTLAND = "UKM"
NORTHERN_IRELAND = "UKN"

AREA_REGIONS: dict[str, str | None] = {
    # North East. DL straddles: Darlington and County Durham (NE) with Richmondshire (Yorkshire): NE.
    **dict.fromkeys(("NE", "SR", "DH", "TS", "DL"), NORTH_EAST),
    # North West. CA takes in a sliver of Dumfries and Galloway; CH takes in Flintshire (Wales, CH5-CH8) but most
    # of it is Chester and the Wirral; SK takes in the High Peak (East Midlands): all three NW by majority.
    **dict.fromkeys(
        ("M", "L", "WA", "WN", "BL", "BB", "OL", "SK", "CW", "CH", "PR", "FY", "LA", "CA"),
        NORTH_WEST,
    ),
    # Yorkshire and The Humber. S takes in Chesterfield and Worksop, DN takes in Bassetlaw (both East Midlands):
    # most of each is South Yorkshire, so Yorkshire.
    **dict.fromkeys(("YO", "HU", "LS", "BD", "HX", "HD", "WF", "HG", "DN", "S"), YORKSHIRE),
    # East Midlands. DE takes in Burton upon Trent (West Midlands): East Midlands by majority.
    **dict.fromkeys(("NG", "DE", "LE", "LN", "NN"), EAST_MIDLANDS),
    # West Midlands. ST takes in small parts of Cheshire and Derbyshire; SY covers Shropshire (SY1-SY13) and
    # mid-Wales (SY15-SY25): West Midlands by a small majority. HR takes in a few Welsh border villages.
    **dict.fromkeys(("B", "CV", "WS", "WV", "DY", "WR", "HR", "TF", "ST", "SY"), WEST_MIDLANDS),
    # East of England. PE takes in south Lincolnshire (East Midlands: Spalding, Boston, Stamford) but most of it is
    # Peterborough, Cambridgeshire and west Norfolk: East. EN is Enfield and Barnet (London, EN1-EN5) and
    # Hertfordshire (EN6-EN11): close to even, London chosen (below).
    **dict.fromkeys(("CB", "CO", "CM", "SS", "IP", "NR", "PE", "LU", "SG", "AL", "WD"), EAST),
    # London. IG, RM (Thurrock, RM15-RM20), TW (Spelthorne and Runnymede, TW15-TW20), CR (Tandridge, CR3, CR6)
    # and DA (Dartford and Gravesham in Kent) cross into the East or South East; London holds the larger share of
    # each, though DA and EN are close calls.
    **dict.fromkeys(
        ("E", "EC", "N", "NW", "SE", "SW", "W", "WC", "IG", "RM", "EN", "HA", "UB", "TW", "CR", "SM", "BR", "DA"),
        LONDON,
    ),
    # South East. KT is Kingston (London, KT1-KT9 in part) and north Surrey (KT10-KT24): South East by majority.
    # MK is Milton Keynes (South East) and Bedford (East, MK40-MK46); HP takes in Dacorum (East, HP1-HP4): both
    # South East by majority. GU takes in a corner of Hampshire and West Sussex, all South East anyway.
    **dict.fromkeys(
        ("CT", "ME", "TN", "BN", "RH", "GU", "PO", "SO", "RG", "OX", "SL", "HP", "MK", "KT"),
        SOUTH_EAST,
    ),
    # South West. SP takes in Andover (Hampshire, South East), BH takes in Ringwood and New Milton (Hampshire),
    # SN takes in the Vale of White Horse (Oxfordshire): South West by majority in each.
    **dict.fromkeys(("BS", "BA", "TA", "EX", "TQ", "PL", "TR", "DT", "BH", "SP", "SN", "GL"), SOUTH_WEST),
    # Wales. NP and LD take in a few English border parishes.
    **dict.fromkeys(("CF", "NP", "SA", "LD", "LL"), WALES),
    # Scotland. TD takes in north Northumberland (North East, TD12, TD15): Scotland by majority.
    **dict.fromkeys(
        ("AB", "DD", "DG", "EH", "FK", "G", "HS", "IV", "KA", "KW", "KY", "ML", "PA", "PH", "TD", "ZE"),
        SCOTLAND,
    ),
    "BT": NORTHERN_IRELAND,
    # Crown dependencies: real postcodes, no UK region.
    "GY": None,
    "JE": None,
    "IM": None,
    "GIR": NORTH_WEST,  # GIR 0AA, the old Girobank postcode in Bootle
}


def _districts(area: str, numbers: range | tuple[int, ...]) -> list[str]:
    return [f"{area}{n}" for n in numbers]


# Postcode districts (outward codes) of the cross-border areas above that lie, wholly or mostly, in a different
# region from their area's (issue 19). Only districts whose side of the border is clear are listed; the others
# keep their area's region. Looked up before the area (``region_for_postcode``).
DISTRICT_REGIONS: dict[str, str] = {
    # Flintshire (CH5-CH8) and mid-Wales (SY15-SY25) are in Wales; Malpas (SY14) in Cheshire.
    **dict.fromkeys(_districts("CH", range(5, 9)), WALES),
    **dict.fromkeys(_districts("SY", range(15, 26)), WALES),
    "SY14": NORTH_WEST,
    # North Yorkshire's end of DL (Northallerton, Bedale, Catterick, Richmond) and TS9 (Stokesley).
    **dict.fromkeys(_districts("DL", range(6, 12)), YORKSHIRE),
    "TS9": YORKSHIRE,
    # Todmorden (Calderdale).
    "OL14": YORKSHIRE,
    # Derbyshire's High Peak (SK13, SK17, SK22, SK23); Chesterfield, North East Derbyshire and the Hope Valley
    # (S18, S21, S32, S33, S40-S45); Bassetlaw (S80, S81, DN22); Gainsborough (DN21); south Lincolnshire and Oundle
    # (PE8-PE12, PE20-PE25); Market Bosworth (CV13).
    **dict.fromkeys(("SK13", "SK17", "SK22", "SK23"), EAST_MIDLANDS),
    **dict.fromkeys(("S18", "S21", "S32", "S33", *_districts("S", range(40, 46)), "S80", "S81"), EAST_MIDLANDS),
    **dict.fromkeys(("DN21", "DN22"), EAST_MIDLANDS),
    **dict.fromkeys((*_districts("PE", range(8, 13)), *_districts("PE", range(20, 26))), EAST_MIDLANDS),
    "CV13": EAST_MIDLANDS,
    # Burton upon Trent (East Staffordshire).
    **dict.fromkeys(("DE13", "DE14", "DE15"), WEST_MIDLANDS),
    # London's neighbours: Hertfordshire and Essex (EN6-EN11, IG7, IG9, IG10), Thurrock (RM15-RM20).
    **dict.fromkeys(_districts("EN", range(6, 12)), EAST),
    **dict.fromkeys(("IG7", "IG9", "IG10"), EAST),
    **dict.fromkeys(_districts("RM", range(15, 21)), EAST),
    # Surrey and Kent: Spelthorne and Runnymede (TW15-TW20), Tandridge (CR3, CR6), Banstead (SM7), Swanley (BR8),
    # Dartford, Gravesham and Sevenoaks (DA1-DA4, DA9-DA13).
    **dict.fromkeys(_districts("TW", range(15, 21)), SOUTH_EAST),
    **dict.fromkeys(("CR3", "CR6", "SM7", "BR8"), SOUTH_EAST),
    **dict.fromkeys((*_districts("DA", range(1, 5)), *_districts("DA", range(9, 14))), SOUTH_EAST),
    # Kingston upon Thames and its neighbours in London (KT1-KT6, KT9).
    **dict.fromkeys((*_districts("KT", range(1, 7)), "KT9"), LONDON),
    # Dacorum (HP1-HP4, HP23) and Bedford and Central Bedfordshire (MK40-MK45) are in the East of England.
    **dict.fromkeys((*_districts("HP", range(1, 5)), "HP23"), EAST),
    **dict.fromkeys(_districts("MK", range(40, 46)), EAST),
    # Hampshire's Andover (SP10, SP11), Fordingbridge (SP6), Ringwood and New Milton (BH24, BH25); Oxfordshire's
    # Faringdon (SN7).
    **dict.fromkeys(("SP6", "SP10", "SP11", "BH24", "BH25", "SN7"), SOUTH_EAST),
    # Berwick-upon-Tweed (Northumberland).
    "TD15": NORTH_EAST,
}


def region_for_postcode(postcode: str) -> str | None:
    """The ITL1 code for a normalised postcode (``'CH7 1AB'`` -> Wales): its district if listed, else its area."""
    outward = (postcode or "").strip().upper().split(" ")[0]
    if outward in DISTRICT_REGIONS:
        return DISTRICT_REGIONS[outward]
    return region_code(re.match(r"[A-Z]*", outward)[0])  # type: ignore[index]


def is_known_area(area: str) -> bool:
    return area in AREA_REGIONS


def region_code(area: str) -> str | None:
    """The ITL1 code of the region most of the area lies in; None outside the UK's regions or for unknown areas."""
    return AREA_REGIONS.get(area)
