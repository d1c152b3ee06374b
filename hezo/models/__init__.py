"""The domain model, one module per section.

``ALL_MODELS`` is in dependency order (referenced tables first).
"""

from .accounts import (
    AuthToken,
    EndedSession,
    ExternalIdentity,
    PendingEnrolment,
    PendingRegistration,
    RecoveryCode,
    ThrottleEvent,
    User,
)
from .audit import AuditEvent, ContactRequest, OutboxMessage
from .cases import (
    Attachment,
    CaseSatisfaction,
    CaseWatcher,
    ConsentEvent,
    Message,
    StatusChange,
    SupportCase,
)
from .catalogue import ClosedDay, ServiceVariant
from .companies import Company, Contract, Device
from .imports import ImportRun
from .mail import ReceivedMail, UndeliverableAddress
from .privacy import PrivacyRequest
from .settings import SettingsVersion, SiteSetting
from .submissions import SubmissionKey

ALL_MODELS = [
    Company,
    Contract,
    Device,
    User,
    ExternalIdentity,
    RecoveryCode,
    AuthToken,
    PendingRegistration,
    PendingEnrolment,
    EndedSession,
    ThrottleEvent,
    SupportCase,
    Message,
    Attachment,
    StatusChange,
    ConsentEvent,
    CaseWatcher,
    CaseSatisfaction,
    AuditEvent,
    OutboxMessage,
    ContactRequest,
    SubmissionKey,
    ReceivedMail,
    UndeliverableAddress,
    PrivacyRequest,
    ImportRun,
    ServiceVariant,
    ClosedDay,
    SiteSetting,
    SettingsVersion,
]

__all__ = [m.__name__ for m in ALL_MODELS] + ["ALL_MODELS"]
