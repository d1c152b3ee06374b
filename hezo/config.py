"""Configuration defaults.

Values here are overridden by ``HEZO_*`` environment variables (``HEZO_SECRET_KEY``,
``HEZO_DATABASE_URL``, ...; JSON values such as ``false`` or ``["a", "b"]`` are
parsed) and then by the ``overrides`` mapping given to ``create_app``.
"""

import os
from pathlib import Path

#: The package: its templates, static files, translations, catalogue and
#: migrations are package data (installed with it, read-only).
PACKAGE_DIR = Path(__file__).resolve().parent
#: The source checkout when running from one (``pip install -e`` or the tree
#: itself), else None: an installed package has no pyproject.toml beside it.
CHECKOUT_DIR = (
    PACKAGE_DIR.parent if (PACKAGE_DIR.parent / "pyproject.toml").is_file() else None
)


def default_instance_path() -> Path:
    """Where the database, uploads and mail files live unless configured:
    ``HEZO_INSTANCE_PATH``, else the checkout's ``instance/``, else
    ``instance/`` in the current directory, never inside the installed package."""
    if configured := os.environ.get("HEZO_INSTANCE_PATH"):
        return Path(configured).resolve()
    return (CHECKOUT_DIR or Path.cwd()) / "instance"


class Defaults:
    SECRET_KEY = None
    TOTP_ENCRYPTION_KEY = None
    # Where links in e-mails point; never taken from the request's Host header.
    PUBLIC_URL = "https://myhezo.pl"
    PASSWORD_HASH_METHOD = "pbkdf2:sha256:600000"
    # Recovery codes: scrypt with N, r, p (N=2**14, r=8: 16 MiB and ~50 ms a code).
    RECOVERY_CODE_HASH_METHOD = "scrypt:16384:8:1"
    SESSION_IDLE_MINUTES = 30
    SESSION_ABSOLUTE_HOURS = 12
    MFA_PENDING_SECONDS = 600
    LOGIN_RATE_LIMIT = "10/minute;100/hour"
    # Messages and new cases (with their uploads) per account.
    POSTS_RATE_LIMIT = "10/minute;100/hour"
    # Wrong registration proofs for one NIP (or contract) within an hour before
    # further wrong ones are answered slowly and the engineers are alerted. A
    # correct proof is never refused for them.
    REGISTRATION_FAILURES_PER_HOUR = 5
    REGISTRATION_FAILURE_DELAY_MAX_SECONDS = 4
    # A DEBUG or TESTING app may start without a secret key; production may not.
    DEBUG = False
    TESTING = False

    # None: derived from the instance path (``<instance>/hezo.db``).
    DATABASE_URL = None

    LANGUAGES = ("pl", "en")
    BABEL_DEFAULT_LOCALE = "pl"
    BABEL_DEFAULT_TIMEZONE = "Europe/Warsaw"
    # The host decides the language of "/"; any other host goes by Accept-Language.
    HOST_LANGUAGES = {"myhezo.pl": "pl", "myhezo.com": "en"}

    # The service partner's own contact facts (../shared/DESIGN.md, "Contact
    # facts"); phones in international notation, so ``tel:`` links are E.164.
    HELPLINE_PHONE = "+48 12 25 25 600"
    HELP_EMAIL = "pomoc@myhezo.pl"
    ESCALATION_EMAIL = "escalation@myhezo.pl"
    ESCALATION_PHONE = "+48 12 25 25 502"
    # Where new cases and reminders reach the engineers. The facts name no
    # address of their own: they answer the help e-mail (the e-mail channel).
    ENGINEERS_EMAIL = HELP_EMAIL
    # Partner Works includes the knowledge base on the Extreme Networks portal.
    KNOWLEDGE_BASE_URL = "https://extreme-networks.my.site.com/ExtrSupportHome"
    # The facts above, the engineers' address and the knowledge base may be
    # changed in the console (/admin/settings, hezo/settings.py): a value saved
    # there wins. Another process sees a change within this many seconds.
    SETTINGS_CHECK_SECONDS = 30
    MAIL_FROM = "myHEZO <no-reply@myhezo.pl>"
    # Replies to case mail go to the help mailbox, read by ``hezo mail-intake``.
    MAIL_REPLY_TO = HELP_EMAIL
    # The help mailbox over IMAP (``hezo mail-intake``; README "E-mail channel").
    MAIL_INTAKE_HOST = None
    DRAFT_KEEP_DAYS = 30  # a customer's e-mail draft not confirmed by then expires
    MAIL_INTAKE_PORT = None  # 993 with SSL, else 143
    MAIL_INTAKE_SSL = True
    MAIL_INTAKE_STARTTLS = False
    MAIL_INTAKE_USERNAME = None
    MAIL_INTAKE_PASSWORD = None
    MAIL_INTAKE_FOLDERS = ["INBOX"]
    MAIL_INTAKE_DONE_FOLDER = "Processed"
    MAIL_INTAKE_INTERVAL = 60
    MAIL_INTAKE_BATCH = 100
    # Wait for new mail in IMAP IDLE (where the server offers it) instead of
    # polling every MAIL_INTAKE_INTERVAL seconds.
    MAIL_INTAKE_IDLE = True
    # Accept a reply only with a valid DKIM signature of its sender's domain
    # (off: a failing signature still rejects it; README "E-mail channel").
    MAIL_REQUIRE_DKIM = False

    PDF_FONT_PATH = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
    PDF_FONT_BOLD_PATH = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"

    # Production serves both domains; development adds loopback (see scripts/run).
    TRUSTED_HOSTS = ["myhezo.pl", "www.myhezo.pl", "myhezo.com", "www.myhezo.com"]
    SESSION_COOKIE_NAME = "__Host-session"
    SESSION_COOKIE_SECURE = True
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session

    MAX_CONTENT_LENGTH = 26 * 1024 * 1024
    UPLOAD_FOLDER = None  # <instance>/uploads
    ATTACHMENT_MAX_BYTES = 10 * 1024 * 1024
    OUTBOX_FILE_FOLDER = None  # <instance>/mail
    # Imports from the console (hezo/imports/runs.py): uploaded files wait in
    # IMPORT_FOLDER (None: <upload folder>/imports) for ``hezo import-worker``.
    IMPORT_FOLDER = None
    IMPORT_MAX_BYTES = 25 * 1024 * 1024  # below MAX_CONTENT_LENGTH
    IMPORT_PROGRESS_SECONDS = 1.0
    # A running import whose worker is gone is failed ("lost"): on this machine
    # when its process is, elsewhere after no heartbeat for this long.
    IMPORT_LOST_SECONDS = 600
    IMPORT_KEEP_DAYS = 7  # a dry run's file, if it is not imported by then
    IMPORT_LEGACY_PROCESSES = 1  # processes rendering the legacy dialogue PDFs

    # Reverse proxies in front of the app (X-Forwarded-For/-Proto trusted from
    # exactly this many hops); 0 = none, the client talks to gunicorn directly.
    PROXY_FIX_HOPS = 0
    RATELIMIT_STORAGE_URI = "memory://"
    # How old (seconds) a process's copy of the service catalogue may get
    # before it reads the table again (changes made in another process).
    CATALOGUE_REFRESH_SECONDS = 30
    # Redis down or restarting: count in each process's memory meanwhile
    # (limits per process, not shared) instead of failing every limited route.
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    RATELIMIT_HEADERS_ENABLED = True

    # Partners sign in with V-ZAM, the distributor's sales system, over OpenID
    # Connect. The button shows only when issuer, client id and secret are set.
    # Discovery: <issuer>/.well-known/openid-configuration (README, "V-ZAM").
    VZAM_ISSUER = None
    VZAM_CLIENT_ID = None
    VZAM_CLIENT_SECRET = None
    VZAM_SCOPE = "openid email profile"
    # The ID token claim with the partner company's NIP.
    VZAM_NIP_CLAIM = "partner_nip"
    # First sign-in of a new person of a known partner company creates the
    # account; false: only a staff invitation (hezo invite-partner) links one.
    VZAM_CREATE_ACCOUNTS = True
    # The provider asserts multi-factor authentication (our TOTP step is then
    # skipped) when ``amr`` holds one of these, or ``acr`` is one of these.
    VZAM_MFA_AMR_VALUES = ["mfa", "otp", "hwk"]
    VZAM_MFA_ACR_VALUES = []
    # Discovery document and signing keys are fetched again after this long
    # (keys also when a token names a key not seen yet).
    VZAM_METADATA_TTL_SECONDS = 3600
    # Clock skew allowed when checking the ID token's ``exp``, ``iat`` and
    # ``nbf``: the token is fetched within a second of its issue, so a small
    # margin suffices (Authlib's own default, 120 s, would take a token that
    # expired two minutes ago).
    VZAM_CLOCK_SKEW_SECONDS = 30
    VZAM_HTTP_TIMEOUT_SECONDS = 10

    # GDPR rights and retention (hezo/privacy, README "Privacy"). Periods in
    # days; the privacy page states them, ``hezo run-retention`` applies them.
    # A copy of one's data is offered for this long, then deleted at once.
    PRIVACY_EXPORT_DAYS = 7
    # Accounts with at most this many cases, messages and files get their copy
    # at once; larger ones from ``hezo privacy-exports`` (the same code).
    PRIVACY_EXPORT_INLINE_MAX_ITEMS = 200
    RETENTION_AUDIT_DAYS = 730  # audit events: 2 years
    RETENTION_CLOSED_CASE_DAYS = 1825  # closed cases, from their last activity: 5 years
    # No sign-in for this long: a warning by e-mail; no sign-in within the
    # next INACTIVE_DISABLE_AFTER_WARNING_DAYS: the account is disabled.
    INACTIVE_ACCOUNT_DAYS = 548  # about 18 months
    INACTIVE_DISABLE_AFTER_WARNING_DAYS = 30
