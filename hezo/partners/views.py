from flask_login import current_user

from ..cases.pages import render_case_list
from ..inputs import number_arg
from ..security import partner_required
from . import bp, workspace


@bp.get("/")
@partner_required
def home():
    return render_case_list(
        "partners/home.html",
        customer_id=number_arg("customer"),
        customers=workspace.case_customers(current_user.company_id),
        list_endpoint="partners.home",
    )
