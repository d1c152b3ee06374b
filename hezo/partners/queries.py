"""What a partner may see: shared cases on contracts it sold, nothing else."""

from peewee import fn

from ..models import AuditEvent, Company, Contract, SupportCase, User


def shares_of_company(company_id: int) -> list[tuple]:
    """For the customer: each shared case with the partner's reads of it.

    Returns (case, reads, last_read) rows; reads come from the audit log.
    """
    reads = (
        AuditEvent.select(
            AuditEvent.case,
            fn.COUNT(AuditEvent.id).alias("n"),
            fn.MAX(AuditEvent.created_at).alias("last"),
        )
        .join(User, on=(AuditEvent.actor == User.id))
        .where(User.role == "partner")
        .group_by(AuditEvent.case)
    )
    counts = {row.case_id: (row.n, row.last) for row in reads}
    cases = list(
        SupportCase.select(SupportCase, Contract, Company)
        .join(Contract)
        .join(Company, on=(Contract.partner == Company.id))
        .where((SupportCase.company == company_id) & (SupportCase.is_shared == True))  # noqa: E712
        .order_by(SupportCase.last_activity_at.desc())
    )
    return [(c, *counts.get(c.id, (0, None))) for c in cases]


def partner_reads(company_id: int, limit: int = 100) -> list[AuditEvent]:
    """The latest partner accesses to the company's cases (reads, files, exports)."""
    return list(
        AuditEvent.select(AuditEvent, SupportCase, User)
        .join(SupportCase, on=(AuditEvent.case == SupportCase.id))
        .switch(AuditEvent)
        .join(User, on=(AuditEvent.actor == User.id))
        .where((SupportCase.company == company_id) & (User.role == "partner"))
        .order_by(AuditEvent.created_at.desc())
        .limit(limit)
    )
