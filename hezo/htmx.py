"""The one module that reads and writes ``HX-*`` headers."""

from flask import Response, make_response, render_template, request


def wants_fragment() -> bool:
    """True for an htmx request that will swap a part of the page.

    Boosted navigation and history restoration want the whole page (htmx 2
    sends ``HX-Request`` for those too).
    """
    headers = request.headers
    return (
        headers.get("HX-Request") == "true"
        and headers.get("HX-Boosted") != "true"
        and headers.get("HX-History-Restore-Request") != "true"
        and headers.get("HX-Request-Type", "partial") != "full"
    )


def render_page_or_fragment(page: str, fragment: str, /, **context):
    """Render the fragment for htmx and the whole page otherwise."""
    template = fragment if wants_fragment() else page
    response = make_response(render_template(template, **context))
    response.vary.add("HX-Request")
    return response


def hx_redirect(url: str) -> Response:
    """Tell htmx to navigate (a 204 with ``HX-Redirect``)."""
    response = Response(status=204)
    response.headers["HX-Redirect"] = url
    return response


def hx_refresh(status: int = 400) -> Response:
    response = Response(status=status)
    response.headers["HX-Refresh"] = "true"
    return response
