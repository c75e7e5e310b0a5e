"""A campaign's Markdown: sanitised HTML whatever is typed, a readable text part, and every problem in plain words.

No database: these are the rules of crm.campaigns.markdown and crm.campaigns.render on their own.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from crm import models as m
from crm.campaigns.markdown import problems, to_email_html, to_html, to_text
from crm.campaigns.render import CampaignShell, render_campaign
from crm.mailing.render import EmailRenderer
from crm.settings import Settings

HOSTILE = [
    "<script>alert(1)</script>",
    '<img src="x" onerror="alert(1)">',
    '<a href="javascript:alert(1)">click</a>',
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](java\tscript:alert(1))",
    "[click](jav&#x09;ascript:alert(1))",
    "[click](&#106;avascript:alert(1))",
    "[click]( javascript:alert(1) )",
    "<javascript:alert(1)>",
    "[click](vbscript:msgbox(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![x](javascript:alert(1))",
    "![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    '[click](https://example.org "x\\" onmouseover=\\"alert(1)")',
    '![a" onerror="alert(1)](https://example.org/a.png)',
    "<svg onload=alert(1)>",
    "<iframe src=https://evil.example></iframe>",
    "<style>body{display:none}</style>",
    "[ref]\n\n[ref]: javascript:alert(1)",
    "<!-- comment --><p onclick=alert(1)>hi</p>",
    "`<script>` is fine as code",
]
ALLOWED_TAGS = {"p", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "a", "img", "strong", "em", "blockquote"}
ALLOWED_TAGS |= {"code", "pre", "hr", "br"}


class Elements(HTMLParser):
    """Every element and attribute as a browser would read them."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, dict[str, str]]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, {k: v or "" for k, v in attrs}))

    handle_startendtag = handle_starttag


def assert_safe(html: str) -> None:
    for tag, attrs in Elements(html).found:
        assert tag in ALLOWED_TAGS, html
        assert not [a for a in attrs if a.startswith("on")], html
        assert set(attrs) <= {"href", "src", "alt", "title", "style", "start"}, html
        for name in ("href", "src"):
            if name in attrs:
                assert attrs[name].startswith(("https://", "http://", "mailto:")), html
        if tag == "img":
            assert attrs["src"].startswith("https://") and attrs["alt"].strip(), html


@pytest.mark.parametrize("source", HOSTILE)
def test_hostile_markdown_renders_without_script_handlers_or_bad_links(source: str) -> None:
    assert_safe(str(to_html(source)))
    assert_safe(str(to_email_html(source)))


# Harmless as written (a tab breaks the link; quotes stay inside a title or alt text; code is code), so not refused.
HARMLESS = {HOSTILE[5], HOSTILE[14], HOSTILE[15], HOSTILE[-1]}


@pytest.mark.parametrize("source", [s for s in HOSTILE if s not in HARMLESS])
def test_each_hostile_body_is_named_as_a_problem(source: str) -> None:
    found = problems(source)
    assert found, source


def test_a_refused_link_keeps_its_words_and_loses_its_address() -> None:
    html = str(to_html("Read [the call](javascript:alert(1)) today."))
    assert html == "<p>Read the call today.</p>\n"
    assert "javascript" not in to_text("Read [the call](javascript:alert(1)) today.")


def test_headings_lists_links_emphasis_and_images() -> None:
    source = (
        "# The MRC call\n\nIt is **out** and *open*.\n\n- one\n- two\n\n1. first\n2. second\n\n"
        "[Apply](https://mrc.example/apply?a=1&b=2) or [write](mailto:fellow@example.org).\n\n"
        "![The panel at last year's briefing](https://example.org/panel.jpg)"
    )
    html = str(to_html(source))
    assert "<h2>The MRC call</h2>" in html  # the subject is the page's and the email's <h1>
    assert "<strong>out</strong>" in html and "<em>open</em>" in html
    assert "<ul>\n<li>one</li>" in html and "<ol>\n<li>first</li>" in html
    assert '<a href="https://mrc.example/apply?a=1&amp;b=2">Apply</a>' in html
    assert '<a href="mailto:fellow@example.org">write</a>' in html
    assert '<img src="https://example.org/panel.jpg" alt="The panel at last year&#x27;s briefing"' in html or (
        '<img src="https://example.org/panel.jpg" alt="The panel at last year\'s briefing"' in html
    )
    assert problems(source) == []
    email = str(to_email_html(source))
    assert '<h2 style="' in email and '<a href="https://mrc.example/apply?a=1&amp;b=2" style="' in email
    assert "style=" not in html  # web pages use the site's stylesheet (the CSP blocks inline styles)


def test_the_text_part_reads_on_its_own() -> None:
    source = (
        "# Briefing\n\nJoin us on **Thursday**.\n\n## Where\n\n- Room 1\n- Online\n  - Zoom\n\n"
        "1. Register\n2. Come\n\nSee [the page](https://example.org/b) or https://example.org/plain "
        "or <https://example.org/auto>.\n\n![A map of the venue](https://example.org/map.png)\n\n> A quote\n"
    )
    text = to_text(source)
    assert text.startswith("Briefing\n========\n\nJoin us on *Thursday*.\n\nWhere\n-----\n\n")
    assert "- Room 1\n- Online\n  - Zoom" in text
    assert "1. Register\n2. Come" in text
    assert "the page (https://example.org/b)" in text
    assert "https://example.org/auto." in text and "(https://example.org/auto)" not in text
    assert "[Image: A map of the venue]" in text
    assert "> A quote" in text
    assert "<" not in text.replace("<https", "")  # no markup left


def test_images_need_https_and_alt_text() -> None:
    assert problems("![](https://example.org/a.png)") == [
        "The image at “https://example.org/a.png” needs a description (alt text) for people who cannot see it: "
        "write it between the square brackets, like ![A group photo at the event](https://…)."
    ]
    assert "secure web address" in problems("![A photo](http://example.org/a.png)")[0]
    assert "<img" not in str(to_html("![](https://example.org/a.png)"))
    assert "<img" not in str(to_html("![A photo](http://example.org/a.png)"))
    assert "A photo" in str(to_html("![A photo](http://example.org/a.png)"))  # its words stay


def test_problems_say_what_is_wrong_in_plain_words() -> None:
    assert problems("Plain words, [a link](https://example.org) and a < b > c.") == []
    assert problems("[our page](/news)") == [
        "The link “our page” is not a full web address: start it with https:// (or mailto: for an email address)."
    ]
    (message,) = problems("[click](javascript:alert(1))")
    assert message.startswith("The link “click” uses a javascript: address")
    assert any("HTML tags" in p for p in problems("Hello <b>there</b>"))


def test_an_empty_link_reads_its_address() -> None:
    assert str(to_html("[](https://example.org)")) == '<p><a href="https://example.org">https://example.org</a></p>\n'


def _campaign(**values: object) -> m.Campaign:
    defaults: dict[str, object] = {
        "subject": "The MRC call is out",
        "preheader": "Join our briefing on Thursday",
        "body": "# Briefing\n\nCome along & bring [friends](https://example.org/f).\n\n<script>alert(1)</script>",
        "cta_label": "Book a place",
        "cta_url": "https://example.org/book?a=1&b=2",
        "sender_name": "Dr Ada Fellow",
    }
    defaults.update(values)
    return m.Campaign(**defaults)


VALUES = {
    "name": "Sam <O'Brien>",
    "unsubscribe_url": "https://crm.example/u/TOKEN",
    "unsubscribe_all_url": "https://crm.example/u/TOKEN~all",
    "preferences_url": "https://crm.example/preferences/TOKEN",
    "why_text": "You get this because you subscribed & confirmed.",
    "view_url": "https://crm.example/news/the-mrc-call-is-out",
}


def test_the_email_has_preheader_heading_body_button_view_link_and_footer() -> None:
    email = render_campaign(EmailRenderer(Settings.from_env({})), _campaign(), VALUES)
    assert email.subject == "The MRC call is out"
    html = email.html
    assert re.search(r'<body[^>]*><div style="display:none;[^"]*">Join our briefing on Thursday', html)
    assert '<a href="https://crm.example/news/the-mrc-call-is-out"' in html and "View in your browser" in html
    assert re.search(r"<h1[^>]*>The MRC call is out</h1>", html)
    assert "Hello Sam &lt;O&#39;Brien&gt;," in html
    assert re.search(r"<h2[^>]*>Briefing</h2>", html)
    assert "&lt;script&gt;" in html and "<script" not in html
    assert re.search(
        r'<a href="https://example.org/book\?a=1&amp;b=2" style="display:inline-block;[^"]*">Book a place', html
    )
    assert "You get this because you subscribed &amp; confirmed." in html
    assert 'href="https://crm.example/u/TOKEN~all"' in html and 'href="https://crm.example/preferences/TOKEN"' in html
    text = email.text
    assert text.startswith("View in your browser: https://crm.example/news/the-mrc-call-is-out\n\nHello Sam <O'Brien>,")
    assert "Briefing\n========" in text and "friends (https://example.org/f)" in text
    assert "Book a place: https://example.org/book?a=1&b=2" in text
    assert (
        "Unsubscribe: https://crm.example/u/TOKEN\nUnsubscribe from everything: https://crm.example/u/TOKEN~all" in text
    )


def test_the_shell_renders_once_and_fills_each_recipient_alike() -> None:
    renderer = EmailRenderer(Settings.from_env({}))
    campaign = _campaign()
    shell = CampaignShell(renderer, campaign)
    plain = dict(VALUES, name="", view_url="", unsubscribe_all_url=VALUES["unsubscribe_url"])
    for values in (VALUES, plain, dict(VALUES, name="Ann")):
        assert shell.fill(values) == render_campaign(renderer, campaign, values)
    no_extras = shell.fill(plain)
    assert "Hello,</p>" in no_extras.html and "Hello,\n" in no_extras.text
    assert "View in your browser" not in no_extras.html + no_extras.text
    assert "Unsubscribe from everything" not in no_extras.html + no_extras.text
    assert len(shell._variants) == 2  # one rendering per combination of values present, not per recipient


def test_a_button_needs_both_label_and_link_and_the_preheader_is_optional() -> None:
    renderer = EmailRenderer(Settings.from_env({}))
    email = render_campaign(renderer, _campaign(cta_url="", preheader=""), VALUES)
    assert "Book a place" not in email.html and "Book a place" not in email.text
    assert "display:none" not in email.html
