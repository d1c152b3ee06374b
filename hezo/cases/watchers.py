"""Who hears of a case: its contact (the reporter, or the colleague the
customer handed the case to) and the colleagues watching it.

Only enabled customer accounts of the case's company may watch or be the
contact; every change is audited. ``recipients`` is what the case e-mails
(a message, a status change, a reminder) go to: each person once, never a
disabled account, only those who take e-mail, each in their own language.
"""

import json
from datetime import datetime
from functools import cache

from peewee import JOIN

from ..audit import audit
from ..db import db
from ..mail.queue import queue_mail
from ..models import CaseWatcher, SupportCase, User
from ..statements import Statement, param


class WatcherError(ValueError):
    """The person is not an enabled customer of the case's company."""


def colleagues_of(case: SupportCase):
    """The enabled customer accounts of the case's company."""
    return User.select().where(
        (User.company == case.company_id)
        & (User.role == "customer")
        & (User.is_enabled == True)  # noqa: E712
    )


def _colleague(case: SupportCase, user_id) -> User:
    try:
        user_id = int(user_id)
    except (TypeError, ValueError):
        raise WatcherError(user_id) from None
    user = colleagues_of(case).where(User.id == user_id).first()
    if user is None:
        raise WatcherError(user_id)
    return user


def contact_of(case: SupportCase) -> User | None:
    """The account the case belongs to now: the colleague it was handed to,
    else its reporter."""
    if case.contact_user_id:
        return case.contact_user
    return case.reporter if case.reporter_id else None


def watchers_of(case: SupportCase) -> list[User]:
    return list(
        User.select()
        .join(CaseWatcher, on=CaseWatcher.user == User.id)
        .where(CaseWatcher.case == case.id)
        .order_by(User.last_name, User.first_name, User.id)
    )


def recipients(case: SupportCase) -> list[User]:
    """The contact and the watchers, each once, enabled, taking e-mail."""
    seen, people = set(), []
    for user in [contact_of(case), *watchers_of(case)]:
        if user is None or user.id in seen:
            continue
        seen.add(user.id)
        if user.is_enabled and user.notify_by_email:
            people.append(user)
    return people


def notify(case: SupportCase, template: str, **context) -> int:
    """Queue ``template`` about the case to every recipient in their
    language (``name`` and ``lang`` are theirs); returns how many."""
    people = recipients(case)
    for user in people:
        _mail(user, template, case=case, **context)
    return len(people)


def _mail(user: User, template: str, **context) -> None:
    queue_mail(
        user.email,
        template,
        user.language,
        name=user.first_name,
        lang=user.language,
        **context,
    )


def _record(action: str, case, actor, now, **details) -> None:
    audit(
        action,
        actor=actor,
        case=case,
        object_type="case",
        object_id=case.number,
        details=json.dumps(details, ensure_ascii=False),
        now=now,
    )


def add_watcher(case: SupportCase, user_id, actor: User, now: datetime) -> User:
    """``user_id`` watches the case (again: nothing new); WatcherError for
    anyone but an enabled customer of the case's company."""
    user = _colleague(case, user_id)
    with db.atomic():
        added = (
            CaseWatcher.insert(case=case, user=user, added_by=actor, created_at=now)
            .on_conflict_ignore()
            .execute()
        )
        if added:
            _record(
                "watcher_added", case, actor, now, user=user.id, name=user.full_name
            )
    return user


def remove_watcher(case: SupportCase, user_id, actor: User, now: datetime) -> bool:
    """Stop a watcher's e-mails; False when they were not watching."""
    try:
        user_id = int(user_id)
    except (TypeError, ValueError):
        return False
    with db.atomic():
        gone = (
            CaseWatcher.delete()
            .where((CaseWatcher.case == case.id) & (CaseWatcher.user == user_id))
            .execute()
        )
        if gone:
            _record("watcher_removed", case, actor, now, user=user_id)
    return bool(gone)


def hand_over(case: SupportCase, user_id, actor: User, now: datetime) -> User:
    """Make a colleague the case's contact (the engineers call and e-mail
    them from now on); they are told by e-mail. WatcherError as for watchers."""
    user = _colleague(case, user_id)
    old = contact_of(case)
    if old is not None and old.id == user.id:
        return user
    values = {
        "contact_user": user.id,
        "contact_name": user.full_name,
        "contact_email": user.email,
        "contact_phone": user.phone or case.contact_phone,
    }
    with db.atomic():
        SupportCase.update(**values).where(SupportCase.id == case.id).execute()
        _record(
            "case_contact_changed",
            case,
            actor,
            now,
            old=old.full_name if old else case.contact_name,
            new=user.full_name,
        )
        for field, value in values.items():
            setattr(case, field, value)
        case.contact_user = user
        if user.notify_by_email:
            _mail(user, "case_handed_over", case=case, actor=actor.full_name)
    return user


def panel(case: SupportCase, viewer) -> dict | None:
    """What the watchers fragment shows: to the customer company's people
    the contact, the watchers and the colleagues to choose from; to staff
    the contact and watchers; to nobody else (None).

    One statement for all three: the people of the case (its watchers and
    its contact) and, for the company's own people, their colleagues, each
    marked whether it watches (``watch_id``)."""
    own = viewer.role == "customer" and viewer.company_id == case.company_id
    if not (own or viewer.is_staff):
        return None
    contact_id = case.contact_user_id or case.reporter_id
    people = list(
        _people_statement(own).bind(
            case=case.id, company=case.company_id, contact=contact_id or 0
        )
    )
    watching = [u for u in people if u.watch_id]
    return {
        "contact": next((u for u in people if u.id == contact_id), None),
        "watchers": watching,
        "colleagues": [u for u in people if _is_colleague(u, case)] if own else [],
        "watching_ids": {u.id for u in watching},
        "may_edit": own,
    }


@cache
def _people_statement(own: bool) -> Statement:
    """The panel's people (a cached statement, ``hezo.statements``: it runs on
    every case page): the case's watchers and its contact, and for the
    company's own people their enabled colleagues, each with ``watch_id``
    when watching. Watchers are always of the case's company
    (``_colleague``), as are the colleagues: one index range of the
    company's accounts, or'ed with the contact's id (a partner's or an
    engineer's account may have reported it). A term only on the joined
    watcher row would scan every account."""
    watch = CaseWatcher.alias()
    ours = User.id.in_(
        CaseWatcher.select(CaseWatcher.user).where(CaseWatcher.case == param("case"))
    )
    if own:
        ours |= (User.role == "customer") & (User.is_enabled == True)  # noqa: E712
    wanted = ((User.company == param("company")) & ours) | (User.id == param("contact"))
    return Statement(
        # Only what the panel shows and checks: an account row is wide.
        User.select(
            User.id,
            User.first_name,
            User.last_name,
            User.company,
            User.role,
            User.is_enabled,
            watch.id.alias("watch_id"),
        )
        .join(
            watch,
            JOIN.LEFT_OUTER,
            on=(watch.user == User.id) & (watch.case == param("case")),
        )
        .where(wanted)
        .order_by(User.last_name, User.first_name, User.id)
        .objects()
    )


def _is_colleague(user: User, case: SupportCase) -> bool:
    """What ``colleagues_of`` selects, for a user already read."""
    return (
        user.company_id == case.company_id
        and user.role == "customer"
        and user.is_enabled
    )
