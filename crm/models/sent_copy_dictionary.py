"""The preset deflate dictionary for stored email copies (``crm.models.outbox.pack_sent``), version 1.

NEVER EDIT: every stored copy whose first byte is 1 is decoded with exactly these bytes (SHA-256 checked at import).
A better dictionary is a new version with its own constant and byte. Made from three rendered digests of invented
benchmark data (``bench/digests.py``, seed 7; addresses at example.org, no real person): the shared boilerplate
(HTML shell, styles, footer, headers) then costs a stored copy nothing.
"""

import base64
import hashlib
import zlib

_PACKED = (
    "eNrtW+tS4soWfpU+TO19qnaRIRcQgpd9EAVFLoLgraiymqRDAkk6kzQ3p/bT7Ic4/+fJTneCihgUkQzO2WiVYifd+fpb3au/tZb5"
    "HvMGnR5SSCwbk4CNRkAb2Kphd4ECTdMDGnbBBA/Aj/+CBqZXCOyYCIwQ6psToBpd5JFYPEbQmA1wgkwTgwaCKnKBEG/bbfsGD9yF"
    "Pf3RiR60AqwBUQJVPERWh/YXeXEnC8IwER0SYEGi6GDEPjJ80OsjlY33lT21Ot+nbe/Pf7H7/gCn9hDZhHZltwExk/IxKdiyBrZB"
    "JsCiV6EJdARNogMXeQi6it62wVPPAn0Qw5tirVXKBFApA6Zhoyxo6gN6AVSgP590HAhilufZjTohjpdNJNxHbr6iMbQc+hu73cQU"
    "PeejT7CfHAXnPwETisNEQ2iTP98aJuDZS+iGihJoUro/7eGxVv8Kxy3nbPT1HDeh2ij3zM5936rYRSvNd6VmU5Ct69Zd/syV8318"
    "fyk17yaPGHbCeZNW5k2S2OIquNgCP/4W+Dgf8DNH5BXtIKRBAXVmiWQ9qwipHoDgMn9xDBzoEhu5qxIsfQKCk6EEp5MrE5yZ4Te1"
    "gN6LgQ3S88t0zeymk5tnN023kMADyqSFXUR9hEvdjxs4E+SBkUG51jD1YiNg2MyxuNT/MKZ8IHHW0UOI+SwL2HiUfRcPzLBtm+N8"
    "rwi6iNBxDA90kAIHHvLdGHXGnuIaHWo9gmf85r+9Oc8JbboysK0ZrkXv9YFCVaXLwKMOMK9Du4uenKOLFGQM0ZtoHRdpyEW2gjzG"
    "tknZNhTrUr8tXk4qrUMTFQtEKY7NsiVPbicl+cEOlyOHHLpN2at0bDyuub3iwObM86ud47verXhTPClL6dzwrCGMc227ZT9O8k1A"
    "gyVgnHqnFm/UjFIfXqmmItWNpwVSG0n3F8VTUb5IF9TMbS3PnV1qUqlcuUlenZlH+aI8KArd/vmR2n0GDGhsu6AhcifURHZ3nUCt"
    "lNApjh+5O78Vx7mUnIPWxW29WoY7raomXch1nMqNSse9fnWcG6ra8Dyv0X07c5DmGxW6TcFxAAJcEBchukDL2FaxHQfHeSEHhBzl"
    "mx7POrFMejzv/UvFCpk4CLCGg7a9x34Dky6W/XYM2VzxsB3zm6lfONizEIFA0aHrIUKvD4jGZej1oN2GFqKNQwONHOySdoytRkL9"
    "Dm0cGSrR91U0NBTE+X/E6W4yiAFNzqM7Ae0LbBxiEBMdzAuEYH3vJYKrewkfC8XUweoEeGRissda0O0adpbfdeiiZ/bhdztQ6Xd9"
    "62S/aEn6LewGkwmGdbHf0WGOkjpOYmCbYg6QtmMCz//GpkD1y3RE2shPWzwHKk8tDxAWP8+lU1MBNI2uTe9TmC92Zzo+QBZ2nPE7"
    "IO7w/DsRWnAcsJ+lfemzgs9sqs/J8r92O9ilhwXnQtUYeNkZbMF05tGLSXqHRk3OadAyzEk251LzxqkCHCJiKDDuQdvjPOQaWnCb"
    "Z9yjYM7sxOF0ZHR1khW+pnYVbGI3+0XQxKT4QKLzwtSAB37vmcEYhGlnSU3CpBRcHAVDd7CpstGe1tZewvHHPpjTqY/t/lqMXqFO"
    "n6eLj5OcmZQcMP9CwdKdIAYo9yDQqaOm3VbTkHTrdQ5W0717iQ7dkpAO4FIsLxVw0L6UBg5uXXouUQjZp60SsooCa0hTa8yIFnYw"
    "W8hngdrxw/aQwu0hrcEeIco61ECLtTUFFiYA/cdu2n7JT2E/KmrD7LekXH/dfi+Ee6j1Fkr3T2w8KsPXYTzfHb4i5xdJ+NUsTqHM"
    "an8GYurKKY4EoYopQdxXjkx2fIEVz01p8bk55W16fhPsZAX6HA+bhgq+qAr93nntUM0EJL87Ivn9iyTvviMqebDXKxiWNsvPiFNe"
    "rE9BTSlJyHAuCK/YggC/W4aqYrK7/Br7mTHOK5OaiX6in8gHYqDlpjAfwM16jJdRxDOVuGxkNR1uduMn/AFeaWVBjP/BD8BYZOZr"
    "UC+W/R4rGx7hZqbAArbPs3QO4mDPgoZJcHbwhPE/4cD+nOaU92du/U3kfx5Yyuw8ndw59liOer59v0a9at40lH7sr7++v5ENZ/5N"
    "oMcKjehsTzecD6THxcjS4y9ARpgvl+WV05KCzFhrOexY+fG3mFqU+a1gm4UPJWhHmJuU5bXkJidPy7UgFszDo1yjgJtXh5Uktg9r"
    "l8f9zn3XERXhhOu0vplHzql9b9ZyAQaJzT6M4szqqfVnFC9kmAVoQjJqhjMbZ9i3chjDqxcvxKWLFyI/T/CqREqfgMjkhtPoNQfZ"
    "My4uxF+xux6t5ZhQQcyqQBAyM+0n9EwAArWE74DoQvc9LbXoyaTjGmoctM5YCg2xJsXEHp0bdVvUjgPoTnxbtu03oM+ATDzC4HwY"
    "m7LhEySKg26JVGDFyKz3zE6/cgmkvzi0yMjFFD69Tjvmt57rlK9ax0btW8WoH1Z16NZL/dOB7vE6yWdI/8MlkP57ZFPByY353Fgw"
    "pMzwHlecZlq7LtcvTq/tS7mlCJZ2rRbgjeB6R621l0D6y8l/jm+VOvZQrkv9yrBa6ElGqV7DOVe70QVz0hiVLmCqXLWKeZzblkC2"
    "JZBtCWTdJRAxghLIO6OQTdZEqCwMy+EuGdu8nsMNjXJC87iL45xoE7kfjVk+QxZezoRbMLOOKkpIELWwzhUeRn1eA/pr/zMYMLwM"
    "Jq+jDCa+owz2MkrbuIGS/1elktc9/HxY9+DgIxIw8wdrIABC6ifPlUHyLWUgiHSEp6P6XfIg9RF5kHyuDtIPf87pgaWNujh4fSUN"
    "Hx51v5qBn0Kf7TwNzRcn7Z/vBdp15Rh+cSb/PW4tugB9Pfvf9wBzof6Hd/1saL8tj/4K5dE15TA2WR6NLP/xs8ujEeRHtuXRjSyd"
    "SMqjkYGNqjy6ejVU+hVfFtoWP5+Jnfunxdjdkbm0rlUrzfTorpcuX8Oju+Fd6fbqsHmtnzecRkmQMpOzUjKN3yh+/hNLcx8h0i/N"
    "hb2glV6dSMbj9D8Q36gkMzZlcIQUf0NG9JJWevMkZzLb14hW1J/8Yv2JuVPCXZxruSsJ35TEszJfRhfypJ8e3aBjq3F1I6NJ/ziv"
    "FuqtD9fQ+PecrY1SSU5yzZsjyah2hXLvbHSX1/p54fDOuhZynTNpLKk9iVRI/2btNTR+OY1YPPlWKPYvO7UjS+nfX+ULcuOOa9w2"
    "zya9gmefq5xVw3fFWr2m1Lc1tG0NbVtDW3cNTfpHvUb0zy6ZfVTpbisuEVdcPqqgP8WbYenwN8PS6zDQAkm/0Eqhov7zbjIm0Lcv"
    "GG0z6JFk0NcUwWwygx5Z9POzM+gRREfbDPpGlk4kGfTIwK6aQf8f2KwfYw=="
)
DICTIONARY_V1 = zlib.decompress(base64.b64decode(_PACKED))
SHA256_V1 = "65829ba910c8b59fb1d35ff5db0dd148036901a2fb5cfc76a388e58d023ce813"
if hashlib.sha256(DICTIONARY_V1).hexdigest() != SHA256_V1:  # pragma: no cover - a corrupted edit
    raise RuntimeError("crm.models.sent_copy_dictionary was edited: stored email copies would not decode")
