"""Security log lines and audit events.

Security events go to the ``hezo.security`` logger (one line each: event, user
id, IP, request id and fields with CR/LF escaped). Audit events are rows that
users and staff can see later (who read or changed what).
"""

import logging

from flask import g, has_request_context, request

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


def audit(
    action: str,
    actor=None,
    case=None,
    object_type: str = "",
    object_id="",
    details: str = "",
) -> AuditEvent:
    """Record an audit event (inside the caller's transaction)."""
    return AuditEvent.create(
        action=action,
        actor=actor,
        case=case,
        object_type=object_type,
        object_id=str(object_id),
        details=details,
        ip=client_ip(),
    )
