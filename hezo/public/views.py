from flask import redirect, render_template, url_for

from ..i18n import preferred_language
from . import bp, root_bp


@root_bp.get("/")
def index():
    return redirect(url_for("public.home", lang=preferred_language()))


@root_bp.get("/healthz")
def healthz():
    from ..db import db

    db.execute_sql("SELECT 1")
    return {"status": "ok"}


@bp.get("/")
def home():
    return render_template("public/home.html")
