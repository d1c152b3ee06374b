"""Batch imports run from the ``hezo`` command: the ERP contract register
(``contracts``) and the one-time migration from the previous portal
(``legacy``, with its records, dialogue renderers and PDF)."""
