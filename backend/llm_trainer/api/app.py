"""FastAPI application factory: settings, store, routers, error handlers and the web UI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from llm_trainer import __version__
from llm_trainer.api.access import AccessGuard, LoginThrottle
from llm_trainer.api.body_limit import BodyLimit
from llm_trainer.api.errors import install_error_handlers
from llm_trainer.api.routes import (
    auth,
    base_models,
    chat,
    datasets,
    health,
    jobs,
    models,
    predict,
    runs,
    system,
    training,
)
from llm_trainer.api.spa import mount_spa
from llm_trainer.core.config import Settings, get_settings
from llm_trainer.core.jobs import JobKind
from llm_trainer.db.base import make_engine, make_session_factory
from llm_trainer.db.migrate import upgrade_to_head
from llm_trainer.services import base_models as base_models_service
from llm_trainer.services import batch_jobs
from llm_trainer.services import models as models_service
from llm_trainer.services import prediction as prediction_service
from llm_trainer.services.job_events import JobEventHub
from llm_trainer.services.jobs import JobDispatcher
from llm_trainer.services.runs import RunEventHub
from llm_trainer.services.serving import Serving


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    settings.ensure_dirs()
    engine = make_engine(settings.database)
    upgrade_to_head(engine)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Background services (the job dispatcher, model cache) start and stop here.
        serving = app.state.serving
        dispatcher = app.state.jobs = JobDispatcher(settings, app.state.session_factory)
        dispatcher.register(JobKind.BATCH_PREDICT, partial(batch_jobs.run_job, serving), batch_jobs.mirror_status)
        dispatcher.register(
            JobKind.EXPORT, partial(models_service.run_export, serving),
            on_start=partial(models_service.queue_missing_fast_serving, settings),
        )  # fmt: skip
        dispatcher.register(JobKind.PREPARE_MODEL, partial(base_models_service.run_prepare, settings))
        serving.notify_jobs = dispatcher.notify
        app.state.run_events = RunEventHub(app.state.session_factory)
        app.state.job_events = JobEventHub(app.state.session_factory)
        dispatcher.start()
        if settings.preload_default:
            prediction_service.preload_default(serving)
        yield
        dispatcher.shutdown()
        serving.close()
        engine.dispose()

    app = FastAPI(
        title="LLM Trainer 大语言模型训练平台",
        version=__version__,
        description="Fine-tune pretrained transformers on labelled Chinese text: upload, train, evaluate, predict.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = make_session_factory(engine)
    app.state.serving = Serving(settings, app.state.session_factory)  # model cache + batch jobs
    install_error_handlers(app)
    for module in (health, auth, system, datasets, base_models, training, runs, jobs, models, predict, chat):
        app.include_router(module.router)
    mount_spa(app, settings.frontend_dist)  # last: its catch-all must not shadow API routes
    if settings.cors_origin_list:  # off unless named: no page elsewhere may read the API's answers
        app.add_middleware(
            CORSMiddleware, allow_origins=settings.cors_origin_list, allow_methods=["*"], allow_headers=["*"]
        )
    app.state.login_throttle = LoginThrottle(settings.login_attempts_per_minute)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_kb * 1024)
    app.add_middleware(AccessGuard, settings=settings, throttle=app.state.login_throttle)  # outermost
    return app
