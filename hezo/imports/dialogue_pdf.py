"""The dialogue of a case migrated from the old portal, as a PDF, drawn directly
with reportlab's platypus.

Why not ``hezo.pdf.render_pdf`` (xhtml2pdf) as for the case export: migration
renders ten thousand of these in one run, and xhtml2pdf spends about 60 ms on
a 20-message dialogue (HTML and CSS parsing, its own layout pass) against about
15 ms here; the run must finish in minutes on two cores. This document is
simple (headings, a table, paragraphs), so drawing it directly costs little.

Safety: every piece of legacy text is XML-escaped before it reaches a
Paragraph, so markup in it is printed, never interpreted; the document loads
no images, links or files other than the two configured DejaVu fonts.
"""

from datetime import datetime
from io import BytesIO
from xml.sax.saxutils import escape

from flask import current_app
from flask_babel import gettext as _
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import cm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from ..i18n import format_local_datetime, in_language

REGULAR, BOLD = "HezoDejaVuSans", "HezoDejaVuSans-Bold"


def _register_fonts() -> None:
    """Register the DejaVu fonts once per process (Helvetica has no ą ę ł ś ż ź ć ń)."""
    if REGULAR in pdfmetrics.getRegisteredFontNames():
        return
    pdfmetrics.registerFont(TTFont(REGULAR, current_app.config["PDF_FONT_PATH"]))
    pdfmetrics.registerFont(TTFont(BOLD, current_app.config["PDF_FONT_BOLD_PATH"]))
    pdfmetrics.registerFontFamily(
        REGULAR, normal=REGULAR, bold=BOLD, italic=REGULAR, boldItalic=BOLD
    )


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle(
        "body", fontName=REGULAR, fontSize=10, leading=13.5, wordWrap="CJK"
    )  # CJK wrapping breaks over-long words
    return {
        "body": base,
        "title": ParagraphStyle(
            "title", base, fontName=BOLD, fontSize=16, leading=20, spaceAfter=8
        ),
        "heading": ParagraphStyle(
            "heading",
            base,
            fontName=BOLD,
            fontSize=12,
            leading=15,
            spaceBefore=10,
            spaceAfter=4,
        ),
        "meta": ParagraphStyle(
            "meta",
            base,
            fontSize=9,
            textColor=colors.HexColor("#444444"),
            spaceBefore=8,
        ),
        "staff": ParagraphStyle("staff", base, leftIndent=8, borderPadding=0),
    }


def _p(text: str, style) -> Paragraph:
    return Paragraph(escape(text), style)


def _footer(canvas, doc) -> None:
    canvas.saveState()
    canvas.setFont(REGULAR, 8)
    canvas.setFillColor(colors.HexColor("#555555"))
    canvas.drawCentredString(A4[0] / 2, 1.2 * cm, doc.footer_text % doc.page)
    canvas.drawString(2 * cm, A4[1] - 1.4 * cm, doc.header_text)
    canvas.restoreState()


def render_dialogue_pdf(
    legacy_id: str,
    subject: str,
    case_number: str | None,
    messages: list[dict],
    language: str = "pl",
) -> bytes:
    """The PDF of an old dialogue, in ``language``, times in Europe/Warsaw.

    ``messages`` are dicts with ``author``, ``at`` (aware datetime),
    ``from_staff`` and ``text``. Needs an app context. Text is printed exactly
    as given, line by line.
    """
    _register_fonts()
    styles = _styles()
    with in_language(language):
        story = _story(legacy_id, subject, case_number, messages, styles)
        buffer = BytesIO()
        doc = SimpleDocTemplate(
            buffer,
            pagesize=A4,
            leftMargin=2 * cm,
            rightMargin=2 * cm,
            topMargin=2.4 * cm,
            bottomMargin=2 * cm,
            title=_("Dialogue from the previous portal"),
            author="myHEZO",
        )
        doc.header_text = "myHEZO · " + _("Service portal")
        doc.footer_text = (
            _("HEZO — authorised Extreme Networks service partner")
            + " · "
            + _("Page")
            + " %d"
        )
        doc.build(story, onFirstPage=_footer, onLaterPages=_footer)
    return buffer.getvalue()


def _story(legacy_id, subject, case_number, messages, styles) -> list:
    facts = Table(
        [
            [
                _p(_("Number in the previous portal"), styles["meta"]),
                _p(legacy_id, styles["body"]),
            ],
            [
                _p(_("Case number"), styles["meta"]),
                _p(case_number or "—", styles["body"]),
            ],
            [_p(_("Subject"), styles["meta"]), _p(subject, styles["body"])],
        ],
        colWidths=[5 * cm, None],
    )
    facts.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEBELOW", (0, 0), (-1, -1), 0.5, colors.lightgrey),
            ]
        )
    )
    story = [
        _p(_("Dialogue from the previous portal"), styles["title"]),
        facts,
        _p(_("Messages"), styles["heading"]),
    ]
    if not messages:
        story.append(_p(_("No messages."), styles["body"]))
    for message in messages:
        story.extend(_message(message, styles))
    return story


def _message(message: dict, styles) -> list:
    author = message["author"]
    if message["from_staff"]:
        author = f"{author} ({_('HEZO staff')})"
    when: datetime = message["at"]
    parts = [
        Paragraph(
            f"<b>{escape(author)}</b> · {escape(format_local_datetime(when))}",
            styles["meta"],
        )
    ]
    style = styles["staff"] if message["from_staff"] else styles["body"]
    for line in message["text"].splitlines() or [""]:
        parts.append(_p(line, style) if line.strip() else Spacer(1, 6))
    return parts
