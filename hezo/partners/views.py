from flask import render_template, request
from flask_login import current_user

from ..htmx import render_page_or_fragment
from ..models.cases import STATUSES
from ..security import customer_required, partner_required
from . import bp, queries


@bp.get("/")
@partner_required
def home():
    status = request.args.get("status", "")
    status = status if status in STATUSES or status == "open" else ""
    q = request.args.get("q", "")[:100]
    customer = request.args.get("customer", type=int)
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    cases, total, pages = queries.shared_cases(current_user, customer, status, q, page)
    return render_page_or_fragment(
        "partners/home.html",
        "cases/_rows.html",
        cases=cases,
        total=total,
        page=page,
        pages=pages,
        status=status,
        q=q,
        statuses=STATUSES,
        customer=customer,
        customers=queries.shared_customers(current_user.company_id),
        list_endpoint="partners.home",
    )


@bp.get("/sharing")
@customer_required
def sharing():
    """The customer's view: which cases are shared, and the partner's reads."""
    return render_template(
        "partners/sharing.html",
        shares=queries.shares_of_company(current_user.company_id),
        reads=queries.partner_reads(current_user.company_id),
    )
