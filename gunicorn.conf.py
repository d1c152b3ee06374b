"""gunicorn settings read by the documented commands (``--config gunicorn.conf.py``).

Which ``X-Forwarded-*`` headers count is the app's decision alone: werkzeug's
ProxyFix trusts exactly ``HEZO_PROXY_FIX_HOPS`` proxies (0: none). gunicorn
itself would otherwise take ``X-Forwarded-Proto`` (and more) from any peer in
its default ``forwarded_allow_ips`` (127.0.0.1, ::1), whatever the hop count:
it trusts no peer here, so the two can never disagree.
"""

forwarded_allow_ips = ""
