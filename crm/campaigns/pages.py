"""Public news: the /news archive, a page per item, the Atom feed. Anyone may read them; only campaigns that
were sent and published as news appear (``crm.campaigns.news``), anything else is "not found"."""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import Request, Response, get
from litestar.params import FromPath
from litestar.response import Template

from crm.campaigns import news
from crm.campaigns.markdown import link_allowed, to_html
from crm.campaigns.news_feed import news_feed
from crm.listing import ListParams
from crm.web.deps import DB, AppSettings
from crm.web.downloads import ATOM, download
from crm.web.pages import list_page


@get("/news", sync_to_thread=False)
def news_list(request: Request[Any, Any, Any], db: DB) -> Template:
    params = ListParams.from_query(request.query_params.dict())
    page = news.list_news(db, params, count=True)
    context = {"page": page, "params": params, "sorts": page.sorts}
    return list_page(request, "public/news.html", "public/news_results.html", context)


@get("/news/feed.xml", sync_to_thread=False)
def news_atom(db: DB, settings: AppSettings) -> Response[bytes]:
    """The newest published news as an Atom feed (linked from every news page)."""
    now = dt.datetime.now(dt.UTC)
    return download(news_feed(news.feed_items(db), base_url=settings.base_url, now=now), ATOM)


@get("/news/{slug:str}", sync_to_thread=False)
def news_item(db: DB, slug: FromPath[str]) -> Template:
    campaign = news.public_item(db, slug)
    newer, older = news.newer_and_older(db, campaign)
    cta_url = campaign.cta_url.strip()
    show_cta = bool(campaign.cta_label.strip()) and link_allowed(cta_url)  # the same allow-list as the body
    return Template(
        "public/news_item.html",
        context={
            "c": campaign,
            "body": to_html(campaign.body or ""),
            "summary": news.summary_of(campaign.preheader, campaign.body, 155),
            "cta": (campaign.cta_label.strip(), cta_url) if show_cta else None,
            "newer": newer,
            "older": older,
        },
    )


route_handlers: list[Any] = [news_list, news_atom, news_item]
