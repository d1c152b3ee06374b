"""E-mail: queued with the change that causes it, delivered by a worker, and
the reminders that queue it on a schedule; incoming mail from the help mailbox
(intake), its threading and the engineers' triage."""
