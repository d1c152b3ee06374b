"""PDF documents rendered from Jinja templates with xhtml2pdf.

Templates live under ``templates/pdf/`` and are self-contained: no scripts, no
external resources. User data reaches them only through autoescaped Jinja, so
it is never markup. As a second line of defence the renderer runs under a
resource policy that may read the two configured font files and nothing else:
no network, no other local path (SECURITY.md #59). ``link_callback`` only maps
the fonts' logical names to their paths; it is not the security boundary.
"""

from io import BytesIO
from pathlib import Path

from flask import Response, current_app, render_template, send_file

#: Logical font names used by ``templates/pdf/base.html`` in ``@font-face``,
#: mapped to ``PDF_FONT_PATH`` / ``PDF_FONT_BOLD_PATH``. Helvetica, xhtml2pdf's
#: default, has no glyphs for ą ę ł ś ż ź ć ń (STYLE.md fact 8).
FONT_CONFIG_KEYS = {
    "dejavu-sans.ttf": "PDF_FONT_PATH",
    "dejavu-sans-bold.ttf": "PDF_FONT_BOLD_PATH",
}


class PdfRenderError(RuntimeError):
    """xhtml2pdf reported errors, or the document went past a render limit."""


def render_pdf(template_name: str, **context) -> bytes:
    """Render ``template_name`` with ``context`` and return the PDF bytes.

    Needs an app context (a request context for the user's language), like
    ``render_template``. The document may read only the configured DejaVu
    fonts; any other image, stylesheet or font it names is refused and left
    out. Raises ``PdfRenderError`` if xhtml2pdf reports an error or the
    document exceeds the policy's size, depth or time limits.
    """
    # Imported here: xhtml2pdf and reportlab cost ~40 MB, and most processes
    # (CLI imports, workers) never render an HTML PDF.
    from xhtml2pdf import pisa
    from xhtml2pdf.config.resources import RenderLimitError

    html = render_template(template_name, **context)
    fonts = _font_paths()
    out = BytesIO()
    try:
        status = pisa.CreatePDF(
            html,
            dest=out,
            encoding="utf-8",
            link_callback=lambda uri, _rel: fonts.get(uri),
            resource_policy=_resource_policy(fonts.values()),
        )
    except RenderLimitError as exc:
        raise PdfRenderError(f"{template_name}: {exc}") from exc
    if status.err:
        errors = [msg for mode, _line, msg, _frag in status.log if mode == "error"]
        raise PdfRenderError(
            f"{template_name}: {status.err} error(s) from xhtml2pdf: {errors[:3]}"
        )
    return out.getvalue()


def pdf_response(pdf_bytes: bytes, filename: str) -> Response:
    """A download response for a rendered PDF; needs a request context.

    ``Content-Disposition: attachment`` carries ``filename`` (an ASCII fallback
    plus RFC 6266 ``filename*`` when it has other characters, as werkzeug
    writes it). The document is never cached and never sniffed as another type.
    """
    response = send_file(
        BytesIO(pdf_bytes),
        mimetype="application/pdf",
        as_attachment=True,
        download_name=filename,
        etag=False,
        conditional=False,
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _font_paths() -> dict[str, str]:
    """Logical font name -> absolute path of the configured TTF file."""
    return {
        name: str(Path(current_app.config[key]).resolve())
        for name, key in FONT_CONFIG_KEYS.items()
    }


def _resource_policy(font_paths):
    """xhtml2pdf's server policy, narrowed to reading exactly the font files.

    ``base_dir=None`` names no document directory, and the fonts are the only
    roots, so even a file next to a font is refused. Remote fetches are off
    altogether, not merely limited to public addresses.
    """
    from xhtml2pdf.config.resources import ResourceAccessPolicy

    return ResourceAccessPolicy.server(
        base_dir=None,
        extra_roots=tuple(Path(p) for p in font_paths),
        allow_remote=False,
    )
