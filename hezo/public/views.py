from functools import partial

from flask import redirect, render_template, url_for

from ..i18n import preferred_language
from ..security import public
from ..web import anonymous_page
from . import bp, root_bp


@root_bp.get("/")
@public
def index():
    response = redirect(url_for("public.home", lang=preferred_language()))
    response.vary.update(("Host", "Accept-Language"))
    return response


@root_bp.get("/healthz")
@public
def healthz():
    from ..db import db

    db.execute_sql("SELECT 1")
    return {"status": "ok"}


@bp.get("/")
@public
def home():
    render = partial(render_template, "public/home.html")
    return anonymous_page(("home",), render) or render()
