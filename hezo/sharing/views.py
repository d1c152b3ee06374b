from flask import render_template
from flask_login import current_user

from ..partners import queries, workspace
from ..security import customer_required
from . import bp


@bp.get("/sharing")
@customer_required
def index():
    return render_template(
        "partners/sharing.html",
        shares=queries.shares_of_company(current_user.company_id),
        reads=queries.partner_reads(current_user.company_id),
        contract_reads=workspace.contract_reads(current_user.company_id),
    )
