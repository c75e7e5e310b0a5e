"""A campaign body's headings sit right below the heading of wherever it is shown: the news page, the email and the
writing form's preview all give the subject the one <h1>, so the body's top heading is an <h2> whether the fellow
wrote "#" or "##" (a fixed shift made "##" an <h3> straight after the <h1>, a skipped level axe reports), the
others keep their place below it without skipping a level, and none goes deeper than <h6>."""

from __future__ import annotations

import html
import re

from crm.campaigns.markdown import to_email_html, to_html
from crm.campaigns.render import render_campaign
from crm.mailing.render import EmailRenderer
from crm.settings import Settings
from tests.campaigns.test_authoring import GOOD
from tests.campaigns.test_markdown import VALUES, _campaign
from tests.campaigns.test_news import campaign
from tests.conftest import post_form

BODY = "## What it funds\n\nCommunity research.\n\n### Who can apply\n\nGroups.\n\n## How to apply\n\nWrite."
OUTLINE = [(1, "{subject}"), (2, "What it funds"), (3, "Who can apply"), (2, "How to apply")]


def outline(page: str) -> list[tuple[int, str]]:
    """Every heading in the page, in order: (level, words)."""
    found = re.findall(r"<h([1-6])[^>]*>(.*?)</h\1>", page, re.S)
    return [(int(level), html.unescape(re.sub(r"<[^>]+>", "", words)).strip()) for level, words in found]


def expected(subject: str) -> list[tuple[int, str]]:
    return [(level, words.format(subject=subject)) for level, words in OUTLINE]


def test_the_news_page_puts_the_bodys_top_heading_right_below_its_h1(client, db):
    c = campaign(db, "Briefing on the MRC call", body=BODY)
    db.commit()
    page = client.get(f"/news/{c.news_slug}")
    assert page.status_code == 200
    main = page.text.split("<main", 1)[1].split("</main>", 1)[0]
    assert outline(main) == expected("Briefing on the MRC call")


def test_the_email_puts_the_bodys_top_heading_right_below_the_subject():
    email = render_campaign(EmailRenderer(Settings.from_env({})), _campaign(body=BODY), VALUES)
    assert outline(email.html) == expected("The MRC call is out")
    assert re.search(r'<h2 style="[^"]*font-size:22px[^"]*">What it funds</h2>', email.html)  # styled as an h2


def test_the_preview_frame_shows_the_same_outline_as_the_email(admin_client, db):
    response = post_form(
        admin_client, "/admin/campaigns/preview", {**GOOD, "body": BODY}, headers={"HX-Request": "true"}
    )
    src = html.unescape(re.search(r'<iframe class="mail-frame"[^>]* src="([^"]+)"', response.text)[1])
    frame = admin_client.get(src)
    assert frame.status_code == 200
    assert outline(frame.text) == expected("The MRC call is out")


def test_levels_stay_relative_never_skip_and_stop_at_h6():
    levels = lambda md: [level for level, _ in outline(str(to_html(md)))]  # noqa: E731
    assert levels("### Only\n\n#### Below") == [2, 3]
    assert levels("# Top\n\n## Next\n\n# Top again") == [2, 3, 2]
    assert levels("## Top\n\n#### Skipped a level") == [2, 3]
    assert levels("#### Starts deep\n\n## Top") == [2, 2]  # the first heading is never below the page's <h2>
    assert levels("# 1\n## 2\n### 3\n#### 4\n##### 5\n###### 6") == [2, 3, 4, 5, 6, 6]
    assert [level for level, _ in outline(str(to_email_html("## Top\n\n### Next")))] == [2, 3]
    assert str(to_html("No headings at all.")) == "<p>No headings at all.</p>\n"
