from flask import render_template
from flask_login import current_user

from ..cases.views import render_case_list
from ..inputs import number_arg
from ..security import customer_required, partner_required
from . import bp, queries


@bp.get("/")
@partner_required
def home():
    return render_case_list(
        "partners/home.html",
        customer_id=number_arg("customer"),
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
