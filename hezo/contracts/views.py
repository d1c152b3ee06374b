from urllib.parse import urlencode

from flask import current_app, request, url_for
from flask_login import current_user

from ..catalogue import get_plan
from ..db import utcnow
from ..htmx import render_page_or_fragment
from ..i18n import current_language
from ..security import customer_required
from ..sla import WARSAW
from . import bp, queries

REPORTABLE = ("active", "expiring")


def today():
    # Contract periods are Polish calendar days.
    return utcnow().astimezone(WARSAW).date()


def report_problem_url(contract_number: str, serial: str) -> str:
    """The new-case form with contract and serial filled in.

    The cases blueprint may not be registered yet; its path is fixed by the
    design, so fall back to building it by hand.
    """
    args = {"contract": contract_number, "serial": serial}
    if "cases.new" in current_app.view_functions:
        return url_for("cases.new", **args)
    return f"{request.script_root}/{current_language()}/cases/new?{urlencode(args)}"


@bp.context_processor
def _helpers():
    return {
        "plan": get_plan,
        "today": today(),
        "reportable": REPORTABLE,
        "report_problem_url": report_problem_url,
    }


@bp.get("/")
@customer_required
def index():
    search = queries.normalise_search(request.args.get("q"))
    page = request.args.get("page", 1, type=int)
    contracts = queries.company_contracts(current_user.company_id, search)
    return render_page_or_fragment(
        "contracts/list.html",
        "contracts/_rows.html",
        result=queries.paginate(contracts, page),
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
