from flask import request
from flask_login import current_user

from ..catalogue import get_plan
from ..db import utcnow
from ..htmx import render_page_or_fragment
from ..paging import requested_page
from ..security import customer_required
from ..sla import local_day
from . import bp, queries

REPORTABLE = ("active", "expiring")


@bp.context_processor
def _helpers():
    return {
        "plan": get_plan,
        "today": local_day(utcnow()),
        "reportable": REPORTABLE,
    }


@bp.get("/")
@customer_required
def index():
    search = queries.normalise_search(request.args.get("q"))
    return render_page_or_fragment(
        "contracts/list.html",
        "contracts/_rows.html",
        result=queries.contract_page(current_user.company_id, search, requested_page()),
        q=search,
    )


@bp.get("/<int:contract_id>/serials")
@customer_required
def serials(contract_id: int):
    contract = queries.get_contract_or_404(contract_id, current_user.company_id)
    return render_page_or_fragment(
        "contracts/serials.html",
        "contracts/_serials.html",
        contract=contract,
        devices=queries.contract_devices(contract),
    )
