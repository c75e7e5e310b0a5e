"""The one wiring place: ``create_app(settings)`` builds the Litestar app for the server, the tests and the CLI.

It never starts a scheduler: the worker does (``crm worker``), or ``crm run`` starts one beside the server for
the embedded default.
"""

from __future__ import annotations

import logging
from typing import Any

from litestar import Litestar, Router
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.logging import LoggingConfig
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template import TemplateConfig

from crm.api.openapi import StrictStructSchemaPlugin, document_problem_responses
from crm.db import create_db_engine, create_session_factory
from crm.domains import EXTENSIONS, all_routes
from crm.mailing.render import EmailRenderer
from crm.settings import LOG_FORMAT, PROJECT_ROOT, Settings
from crm.tokens import Signer
from crm.web.auth import AuthMiddleware
from crm.web.bodies import guard_api_body
from crm.web.deps import provide_db, provide_extensions, provide_settings, provide_user
from crm.web.errors import EXCEPTION_HANDLERS
from crm.web.ratelimit import RedisRateLimiter, build_rate_limiter
from crm.web.security import add_security_headers
from crm.web.stores import RATE_LIMIT_STORE, build_stores, redis_namespace
from crm.web.templating import html_environment

SCHEMA_PREFIXES = ("/api/", "/health", "/webhooks/")


def _document_only_the_api(handler: Any) -> None:
    """HTML pages and forms are not part of the API: keep them out of /schema/openapi.json."""
    if isinstance(handler, Router):
        if not handler.path.startswith(SCHEMA_PREFIXES):
            handler.include_in_schema = False  # inherited by its handlers (layered setting)
        return
    paths = getattr(handler, "paths", set())
    if paths and not any(p.startswith(SCHEMA_PREFIXES) for p in paths):
        handler.include_in_schema = False


def collect_route_handlers() -> list[Any]:
    handlers = all_routes()
    for handler in handlers:
        _document_only_the_api(handler)
    return handlers


def create_app(settings: Settings | None = None) -> Litestar:
    settings = (settings or Settings.from_env()).validate()
    engine = create_db_engine(settings)
    session_factory = create_session_factory(engine)
    env = html_environment({"settings": settings})
    stores = build_stores(settings)  # memory per process, or Redis when CRM_REDIS_URL is set (crm/web/stores.py)
    rate_limiter = build_rate_limiter(settings, redis_namespace(stores, RATE_LIMIT_STORE))
    state = State(
        {
            "settings": settings,
            "engine": engine,
            "session_factory": session_factory,
            "renderer": EmailRenderer(settings),
            "signer": Signer(settings),
            "rate_limiter": rate_limiter,
            "jinja": env,
            "extensions": EXTENSIONS,
        }
    )
    secure = settings.base_url.startswith("https://")

    def _dispose() -> None:
        engine.dispose()
        if isinstance(rate_limiter, RedisRateLimiter):
            rate_limiter.close()

    app = Litestar(
        route_handlers=[
            *collect_route_handlers(),
            create_static_files_router(path="/static", directories=[PROJECT_ROOT / "static"], include_in_schema=False),
        ],
        state=state,
        stores=stores,
        dependencies={
            "db": Provide(provide_db),
            "settings": Provide(provide_settings, sync_to_thread=False),
            "user": Provide(provide_user, sync_to_thread=False),
            "ext": Provide(provide_extensions, sync_to_thread=False),
        },
        middleware=[AuthMiddleware()],
        before_send=[add_security_headers],
        plugins=[StrictStructSchemaPlugin()],  # additionalProperties: false where msgspec forbids unknown fields
        before_request=guard_api_body,  # API bodies: 413 when too large, 400 when nested too deeply
        csrf_config=CSRFConfig(
            secret=settings.secret_key,
            cookie_name="crm_csrf",
            cookie_secure=secure,
            cookie_samesite="lax",
            exclude=["/api/", "/webhooks/", "/health"],
        ),
        template_config=TemplateConfig(instance=JinjaTemplateEngine.from_environment(env)),
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        openapi_config=OpenAPIConfig(
            title="Roundtable CRM API",
            version="1.0.0",
            path="/schema",
            # Only the JSON document: the HTML viewers load scripts from a CDN, which our CSP (rightly) blocks.
            render_plugins=[JsonRenderPlugin()],
            components=Components(
                security_schemes={
                    "BearerToken": SecurityScheme(
                        type="http", scheme="bearer", description="An API key from `crm api-key create`"
                    ),
                }
            ),
            security=[{"BearerToken": []}],
        ),
        logging_config=LoggingConfig(
            root={"level": settings.log_level, "handlers": ["queue_listener"]},
            formatters={"standard": {"format": LOG_FORMAT}},
            log_exceptions="debug",
            disable_stack_trace={404, 401, 403, 400, 405, 429},
        ),
        on_shutdown=[_dispose],
        debug=False,
    )
    document_problem_responses(app)  # 401/403/404/409/422 problem+json in the OpenAPI document
    return app


logging.getLogger("httpx").setLevel(logging.WARNING)
