"""Which region a postcode is in, from its area letters (``'M1 1AE'`` → ``'M'`` → North West), to fill an
organisation's region when it was left empty.

Source: the region the Office for National Statistics assigns to every postcode (ONS National Statistics Postcode
Lookup, field ``rgn``; Scotland, Wales and Northern Ireland are one region each), reduced by hand to one region per
postcode area. Most areas lie wholly in one region. Where an area straddles a border the table gives the region
that holds most of its addresses, judged from the local authorities its districts cover (not computed from NSPL
counts), and says so below: for those areas the filled region can be wrong near the border, and the fellow can
change it. Regions are ITL1 codes (``crm.directory.reference.REGIONS``). Jersey (JE), Guernsey (GY) and the Isle
of Man (IM) are valid postcode areas outside the UK's regions: no region is filled.
"""

from __future__ import annotations

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


def is_known_area(area: str) -> bool:
    return area in AREA_REGIONS


def region_code(area: str) -> str | None:
    """The ITL1 code of the region most of the area lies in; None outside the UK's regions or for unknown areas."""
    return AREA_REGIONS.get(area)
