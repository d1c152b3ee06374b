"""Security log lines and audit events.

Security events go to the ``hezo.security`` logger (one line each: event, user
id, IP, request id and fields with CR/LF escaped). Audit events are rows that
users and staff can see later (who read or changed what).
"""

import logging
import threading
import time
from datetime import datetime

from flask import g, has_request_context, request

from .db import utcnow
from .models import AuditEvent

security_log = logging.getLogger("hezo.security")


def _clean(value) -> str:
    return str(value).replace("\\", "\\\\").replace("\r", "\\r").replace("\n", "\\n")


def client_ip() -> str:
    return request.remote_addr or "" if has_request_context() else ""


def security_event(name: str, user=None, **fields) -> None:
    """Log a security event; never pass secrets, codes or passwords in ``fields``."""
    parts = [f"event={name}", f"user={getattr(user, 'id', user) or '-'}"]
    if has_request_context():
        parts += [f"ip={client_ip()}", f"request={g.get('request_id', '-')}"]
    parts += [f"{k}={_clean(v)}" for k, v in sorted(fields.items())]
    security_log.info(" ".join(parts))


#: Denied accesses logged per user and minute; the rest are counted and the
#: count is logged with the next line (someone walking ids fills no disk).
DENIALS_PER_MINUTE = 20
_denials: dict[tuple, int] = {}
_denials_lock = threading.Lock()


def access_denied(user, **fields) -> None:
    """Log a refused access (SECURITY #55): who, the object and the action
    (the endpoint), with the request id; never the object's data."""
    minute = int(time.time() // 60)
    key = getattr(user, "id", None) or client_ip()
    with _denials_lock:
        for old in [k for k in _denials if k[1] < minute - 1]:
            del _denials[old]
        seen = _denials.get((key, minute), 0) + 1
        _denials[(key, minute)] = seen
        left_out = _denials.get((key, minute - 1), 0) - DENIALS_PER_MINUTE
    if seen > DENIALS_PER_MINUTE:
        return
    if seen == 1 and left_out > 0:
        fields["not_logged_last_minute"] = left_out
    if has_request_context():
        fields.setdefault("action", f"{request.method} {request.endpoint or '-'}")
    security_event("access_denied", user, **fields)


def audit(
    action: str,
    actor=None,
    case=None,
    object_type: str = "",
    object_id="",
    details: str = "",
    now: datetime | None = None,
) -> AuditEvent:
    """Record an audit event (inside the caller's transaction), at ``now``
    (the service's moment; the current time when None)."""
    return AuditEvent.create(
        created_at=now or utcnow(),
        action=action,
        actor=actor,
        case=case,
        object_type=object_type,
        object_id=str(object_id),
        details=details,
        ip=client_ip(),
    )
