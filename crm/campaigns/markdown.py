"""A campaign's Markdown body as sanitised HTML (for the email and the public news page) and as readable plain text.

The fellow writes Markdown; nobody writes HTML. markdown-it-py parses with raw HTML off (a ``<script>`` shows as the
text "<script>"), and every link and image passes one allow-list here before it is rendered:

- links: ``https://``, ``http://`` or ``mailto:`` only. Anything else (``javascript:``, ``data:``, ``vbscript:``, a
  relative address that means nothing in an inbox) is rendered as its text alone, without the link;
- images: ``https://`` only, and with alt text. Others are not rendered (their alt text stays, if any).

``problems`` names each of those in plain words, so the form refuses them before they could be saved;
rendering drops them anyway, so a body saved another way (the API, an old row) is still safe.

Headings start right below the page's own heading: the subject (or the news item's title) is the one ``<h1>`` of
the email, its preview and the news page, so the body's top heading, whatever its level ("#" or "##"), renders as
``<h2>`` and the others keep their place below it (a level the body skips is closed up, so the outline never jumps
from ``<h2>`` to ``<h4>``; nothing goes deeper than ``<h6>``). ``to_html`` is plain semantic HTML for web pages (the site's CSS
styles it; inline styles would be blocked by the CSP anyway); ``to_email_html`` is the same HTML with the inline
styles email clients need (many drop ``<style>``).

No module here touches the database or the web layer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from markdown_it import MarkdownIt
from markdown_it.token import Token
from markdown_it.tree import SyntaxTreeNode
from markupsafe import Markup

from crm.validation import split_url

LINK_SCHEMES = frozenset({"http", "https", "mailto"})
IMAGE_SCHEMES = frozenset({"https"})
TOP_HEADING = 2  # the body's top heading renders as <h2>: the subject is the <h1>
_CONTROL = re.compile(r"[\x00-\x20\x7f]+")  # browsers ignore these inside a scheme ("java\tscript:")
_HTML_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>|<!--")

# Inline styles for email clients: the palette of templates/email/_base.html (text #1f2421 on white, 15:1; links
# and muted text #1d5c4a and #3d4a43, both above 7:1).
EMAIL_STYLES = {
    "h2": "margin:24px 0 8px;font-size:22px;line-height:1.3;color:#1f2421;",
    "h3": "margin:20px 0 8px;font-size:19px;line-height:1.3;color:#1f2421;",
    "h4": "margin:16px 0 8px;font-size:17px;line-height:1.3;color:#1f2421;",
    "h5": "margin:16px 0 8px;font-size:16px;line-height:1.3;color:#1f2421;",
    "h6": "margin:16px 0 8px;font-size:16px;line-height:1.3;color:#1f2421;",
    "p": "margin:0 0 16px;",
    "ul": "margin:0 0 16px;padding-left:24px;",
    "ol": "margin:0 0 16px;padding-left:24px;",
    "li": "margin:0 0 4px;",
    "a": "color:#1d5c4a;text-decoration:underline;",
    "img": "max-width:100%;height:auto;border:0;",
    "blockquote": "margin:0 0 16px;padding:0 0 0 12px;border-left:4px solid #dcdcd6;color:#3d4a43;",
    "code": "font-family:Consolas,Menlo,monospace;font-size:15px;background:#f4f4f1;",
    "pre": "margin:0 0 16px;padding:12px;background:#f4f4f1;white-space:pre-wrap;font-size:14px;",
    "hr": "border:0;border-top:1px solid #dcdcd6;margin:24px 0;",
}


@lru_cache(maxsize=2)
def _parser(html: bool = False) -> MarkdownIt:
    """CommonMark with raw HTML off. Links are not refused while parsing (a refused link would show its Markdown
    source, ``[text](javascript:…)``); ``_sanitise`` decides after, so ``problems`` can name each one."""
    md = MarkdownIt("commonmark", {"html": html, "linkify": False, "typographer": False})
    md.validateLink = lambda url: True  # type: ignore[method-assign]
    return md


def _scheme(url: str) -> str:
    """The scheme a browser would see ("" for a relative address or one that cannot be read)."""
    parts = split_url(_CONTROL.sub("", url or ""))
    if parts is None:
        return ""
    scheme = parts.scheme.lower()
    if scheme in {"http", "https"} and not parts.netloc:
        return ""  # "https:foo" is not an address anyone can open
    return scheme


def link_allowed(url: str) -> bool:
    return _scheme(url) in LINK_SCHEMES


def image_allowed(url: str) -> bool:
    return _scheme(url) in IMAGE_SCHEMES


def _alt(token: Token) -> str:
    return "".join(c.content for c in (token.children or []) if c.type in {"text", "code_inline"}).strip()


def _tokens(md: str) -> list[Token]:
    tokens = _parser().parse(md or "")
    _sanitise(tokens)
    return tokens


def _sanitise(tokens: Sequence[Token]) -> None:
    """Drop every link and image the allow-list refuses, keeping the words: a refused link's text stays as text,
    a refused image's alt text stays as text (an image without alt text disappears)."""
    for block in tokens:
        if block.type != "inline" or not block.children:
            continue
        kept: list[Token] = []
        open_links: list[int | None] = []  # per open link: where its open tag is in ``kept`` (None: dropped)
        for token in block.children:
            if token.type == "link_open":
                bad = not link_allowed(str(token.attrGet("href") or ""))
                open_links.append(None if bad else len(kept))
                if bad:
                    continue
            elif token.type == "link_close":
                at = open_links.pop() if open_links else None
                if at is None:
                    continue
                if not "".join(t.content for t in kept[at + 1 :]).strip():  # a link with no words reads its address
                    href = str(kept[at].attrGet("href") or "")
                    kept.append(Token("text", "", 0, content=href.removeprefix("mailto:")))
            elif token.type == "image":
                alt = _alt(token)
                if not image_allowed(str(token.attrGet("src") or "")) or not alt:
                    if alt:
                        kept.append(Token("text", "", 0, content=alt))
                    continue
                token.attrs = {"src": token.attrs["src"], "alt": alt}  # no title: alt text is the description
            kept.append(token)
        block.children = kept


def _shift_headings(tokens: Sequence[Token], top: int = TOP_HEADING) -> None:
    """Move the body's headings so its top one is ``<h{top}>`` (a fixed shift made "## Heading" an ``<h3>`` straight
    after the page's ``<h1>``, a skipped level screen-reader users navigate by). Each heading keeps its level
    relative to the top one, but is never more than one below the heading before it, nor deeper than ``<h6>``."""
    opens = [t for t in tokens if t.type == "heading_open"]
    if not opens:
        return
    shift = top - min(int(t.tag[1]) for t in opens)
    level, before = top, top - 1
    for token in tokens:
        if token.type == "heading_open":
            level = min(6, int(token.tag[1]) + shift, before + 1)
            before = level
        if token.type in {"heading_open", "heading_close"}:
            token.tag = f"h{level}"


def _style(tokens: Sequence[Token]) -> None:
    for token in tokens:
        if token.nesting == 1 or token.type in {"hr", "code_inline", "fence", "code_block"}:
            tag = "pre" if token.type in {"fence", "code_block"} else token.tag
            if style := EMAIL_STYLES.get(tag):
                token.attrSet("style", style)
        if token.children:
            for child in token.children:
                if child.type == "image":
                    child.attrSet("style", EMAIL_STYLES["img"])
                elif (child.nesting == 1 or child.type == "code_inline") and (style := EMAIL_STYLES.get(child.tag)):
                    child.attrSet("style", style)


def to_html(md: str, top: int = TOP_HEADING) -> Markup:
    """Sanitised semantic HTML, no inline styles: for web pages. ``top``: the level of the body's top heading, the
    one below the page's own (``<h2>`` under the news item's ``<h1>``)."""
    tokens = _tokens(md)
    _shift_headings(tokens, top)
    return Markup(_parser().renderer.render(tokens, _parser().options, {}))


def to_email_html(md: str) -> Markup:
    """``to_html`` with inline styles on every element, for the HTML part of an email."""
    tokens = _tokens(md)
    _shift_headings(tokens)
    _style(tokens)
    return Markup(_parser().renderer.render(tokens, _parser().options, {}))


# ---------------------------------------------------------------------------------------------------------------
# Plain text


def to_text(md: str) -> str:
    """A plain-text reading of the body: headings underlined ("=" for "#", "-" below), lists with "- " or "1. ",
    links as "text (address)", images as "[Image: alt text]", quotes with "> ", paragraphs apart by a blank line."""
    tree = SyntaxTreeNode(_tokens(md))
    blocks = _blocks(tree.children)
    return "\n\n".join(b for b in blocks if b.strip()).strip("\n") + ("\n" if blocks else "")


def _blocks(nodes: Sequence[SyntaxTreeNode]) -> list[str]:
    out: list[str] = []
    for node in nodes:
        out.extend(_block(node))
    return out


def _block(node: SyntaxTreeNode) -> list[str]:
    kind = node.type
    if kind == "paragraph":
        return [_inline_of(node)]
    if kind == "heading":
        text = " ".join(_inline_of(node).split())
        return [f"{text}\n{('=' if node.tag == 'h1' else '-') * max(3, len(text))}"]
    if kind in {"bullet_list", "ordered_list"}:
        return ["\n".join(_list(node))]
    if kind == "blockquote":
        inner = "\n\n".join(_blocks(node.children))
        return ["\n".join(f"> {line}".rstrip() for line in inner.split("\n"))]
    if kind in {"fence", "code_block"}:
        return ["\n".join(f"    {line}".rstrip() for line in node.content.rstrip("\n").split("\n"))]
    if kind == "hr":
        return ["----"]
    if kind == "html_block":  # only with raw HTML on, which this module never turns on
        return []
    return _blocks(node.children)


def _list(node: SyntaxTreeNode) -> list[str]:
    lines: list[str] = []
    start = int(node.attrs.get("start", 1) or 1) if node.type == "ordered_list" else 1
    for n, item in enumerate(node.children):
        marker = f"{start + n}. " if node.type == "ordered_list" else "- "
        pad = " " * len(marker)
        parts = _blocks(item.children)
        body = "\n".join(parts) if all("\n" not in p for p in parts) else "\n\n".join(parts)
        for i, line in enumerate(body.split("\n") if body else [""]):
            lines.append((marker if i == 0 else pad) + line if line else "")
    return lines


def _inline_of(node: SyntaxTreeNode) -> str:
    return "".join(_inline(child) for child in node.children)


def _inline(node: SyntaxTreeNode) -> str:
    kind = node.type
    if kind == "inline":
        return _inline_of(node)
    if kind == "text":
        return node.content
    if kind == "softbreak":
        return "\n"
    if kind == "hardbreak":
        return "\n"
    if kind == "code_inline":
        return node.content
    if kind == "strong":
        return f"*{_inline_of(node)}*"
    if kind == "em":
        return _inline_of(node)
    if kind == "link":
        text = _inline_of(node)
        href = str(node.attrs.get("href", ""))
        shown = href.removeprefix("mailto:") if href.lower().startswith("mailto:") else href
        if not text.strip() or text.strip() in {href, shown}:
            return shown
        return f"{text} ({shown})"
    if kind == "image":
        return f"[Image: {node.attrs.get('alt', '')}]"
    return _inline_of(node) if node.children else node.content


# ---------------------------------------------------------------------------------------------------------------
# Problems


def _quote(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return f"“{text[:limit]}…”" if len(text) > limit else f"“{text}”"


def problems(md: str) -> list[str]:
    """What the body cannot contain, one message per problem, in the words of the form: links and images the
    allow-list refuses, images without alt text, and raw HTML (shown as text, never used)."""
    found: list[str] = []
    tokens = _parser().parse(md or "")
    for block in tokens:
        if block.type != "inline" or not block.children:
            continue
        children = block.children
        for i, token in enumerate(children):
            if token.type == "link_open":
                href = str(token.attrGet("href") or "")
                if link_allowed(href):
                    continue
                text = _link_text(children[i + 1 :])
                found.append(_link_problem(href, _quote(text or href)))
            elif token.type == "image":
                src, alt = str(token.attrGet("src") or ""), _alt(token)
                if not image_allowed(src):
                    found.append(
                        f"The image {_quote(alt or src)} must be at a secure web address starting with https://."
                    )
                if not alt:
                    found.append(
                        f"The image at {_quote(src)} needs a description (alt text) for people who cannot see it: "
                        "write it between the square brackets, like ![A group photo at the event](https://…)."
                    )
    if _raw_html(md):
        found.append(
            "The body contains HTML tags, which are shown as plain text, never used. Write Markdown instead "
            "(the cheat-sheet beside the box shows how)."
        )
    return list(dict.fromkeys(found))


def _link_text(following: Sequence[Token]) -> str:
    """The words of a link: the text tokens up to its closing tag."""
    words, depth = [], 0
    for token in following:
        if token.type == "link_close":
            if depth == 0:
                break
            depth -= 1
        elif token.type == "link_open":
            depth += 1
        elif token.type in {"text", "code_inline"}:
            words.append(token.content)
    return "".join(words)


def _link_problem(href: str, what: str) -> str:
    scheme = _scheme(href)
    if scheme:
        return (
            f"The link {what} uses a {scheme}: address, which emails may not contain. "
            "Use a web address starting with https:// (or mailto: for an email address)."
        )
    return f"The link {what} is not a full web address: start it with https:// (or mailto: for an email address)."


def _raw_html(md: str) -> bool:
    """Whether the body has HTML outside code (parsed with HTML on: only real tags count, not "a < b")."""
    if not _HTML_TAG.search(md or ""):
        return False
    tokens = _parser(True).parse(md)
    return any(
        t.type == "html_block" or any(c.type == "html_inline" for c in (t.children or []))
        for t in tokens
        if t.type in {"html_block", "inline"}
    )
