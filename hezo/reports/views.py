"""Routes of the service-level reports: the month's page, its CSV and one
customer's month as a PDF. Staff read every customer's figures (or one
customer's, ``?customer=<id>``); a customer's people read their company's
only; partners none."""

from flask import Response, render_template
from flask_babel import lazy_gettext
from flask_login import current_user

from ..inputs import refuse
from ..pdf import pdf_response, render_pdf
from ..security import roles_required
from . import bp, pages

readers = roles_required("customer", "engineer", "admin")


@bp.get("/")
@readers
def index():
    scope = pages.scope_of(current_user)
    report = pages.report_of(scope)
    return render_template(
        "reports/index.html", **pages.context(scope, report, pages.PAGE_ROWS)
    )


@bp.get("/report.csv")
@readers
def csv():
    scope = pages.scope_of(current_user)
    body = pages.report_csv(scope, pages.report_of(scope))
    name = f"service-report-{scope.text}"
    if scope.company is not None:
        name += f"-{scope.company.nip}"
    return Response(
        body,
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{name}.csv"',
            "Cache-Control": "no-store",
        },
    )


@bp.get("/report.pdf")
@readers
def pdf():
    """One customer's month for the monthly review (staff name the customer):
    the customer's document, so per contract and service as the customer's
    page shows it, whoever downloads it."""
    scope = pages.scope_of(current_user)
    if scope.company is None:
        refuse(lazy_gettext("Choose a customer for its monthly report."))
    report = pages.report_of(scope)
    context = pages.context(scope, report, None, pages.CUSTOMER_DIMENSIONS)
    data = render_pdf("pdf/report.html", **context)
    return pdf_response(data, f"service-report-{scope.text}-{scope.company.nip}.pdf")
