import io
import socket
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import xhtml2pdf.pisa
from jinja2 import ChoiceLoader, DictLoader
from PIL import Image
from pypdf import PdfReader
from xhtml2pdf.config.resources import RenderLimitError

from hezo.cases.services import post_message
from hezo.cases.workflow import transition
from hezo.db import utcnow
from hezo.i18n import format_local_datetime, in_language
from hezo.imports.dialogue_pdf import render_dialogue_pdf
from hezo.models import StatusChange, SupportCase
from hezo.pdf import PdfRenderError, pdf_response, render_pdf

from .factories import login
from .test_shipment import SITE, ship, world  # noqa: F401 (world: a fixture)
from .test_shipment import report as report_case

POLISH = "Zażółć gęślą jaźń ZAŻÓŁĆ GĘŚLĄ JAŹŃ"
HOSTILE = (
    '<b>bold</b> <img src="/etc/passwd"> <img src="http://127.0.0.1:9/x.png"> '
    '<font color="[[[1+1]]]">red</font>'
)


def message(
    text="Dzień dobry",
    *,
    author="Jan Kowalski",
    from_staff=False,
    at=datetime(2024, 7, 1, 10, 0, tzinfo=UTC),
):
    return {"author": author, "at": at, "from_staff": from_staff, "text": text}


def render_dialogue(app, lang="pl", **overrides) -> bytes:
    context = {
        "legacy_id": "STARY-1042",
        "subject": "Awaria przełącznika",
        "case_number": None,
        "messages": [message()],
    } | overrides
    with app.test_request_context(f"/{lang}/"):
        app.preprocess_request()
        return render_dialogue_pdf(**context, language=lang)


def render_base(app) -> bytes:
    """The bare PDF layout through xhtml2pdf (what the case export builds on)."""
    with app.test_request_context("/pl/"):
        app.preprocess_request()
        return render_pdf("pdf/base.html")


def pdf_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def pdf_images(pdf: bytes) -> list:
    return [image for page in PdfReader(io.BytesIO(pdf)).pages for image in page.images]


@pytest.fixture
def no_network(monkeypatch):
    """Fail the test on any DNS lookup, socket connect or urlopen."""
    attempts = []

    def refuse(what):
        def _refuse(*args, **kwargs):
            attempts.append((what, args))
            pytest.fail(f"the PDF renderer tried {what}{args!r}")

        return _refuse

    monkeypatch.setattr(socket.socket, "connect", refuse("socket.connect"))
    monkeypatch.setattr(socket, "create_connection", refuse("create_connection"))
    monkeypatch.setattr(socket, "getaddrinfo", refuse("getaddrinfo"))
    monkeypatch.setattr(urllib.request, "urlopen", refuse("urlopen"))
    yield attempts
    # pytest.fail raises a BaseException, but check in case a caller swallowed it.
    assert attempts == []


def test_legacy_dialogue_pdf_keeps_polish_letters(app):
    pdf = render_dialogue(app, subject=POLISH, messages=[message(POLISH)])
    assert pdf_text(pdf).count(POLISH) == 2


def test_legacy_dialogue_pdf_embeds_dejavu(app):
    reader = PdfReader(io.BytesIO(render_dialogue(app)))
    fonts = {
        str(font.get_object()["/BaseFont"])
        for page in reader.pages
        for font in page["/Resources"]["/Font"].values()
    }
    assert any(name.endswith("+DejaVuSans") for name in fonts)
    assert any(name.endswith("+DejaVuSans-Bold") for name in fonts)


def test_legacy_dialogue_pdf_shows_markup_in_user_text_literally(app, no_network):
    pdf = render_dialogue(
        app,
        subject=HOSTILE,
        messages=[message(HOSTILE), message(HOSTILE, author=HOSTILE, from_staff=True)],
    )
    text = " ".join(pdf_text(pdf).split())  # line wrapping is not the point here
    for fragment in (
        '<img src="/etc/passwd">',
        '<img src="http://127.0.0.1:9/x.png">',
        '<font color="[[[1+1]]]">red</font>',
        "<b>bold</b>",
    ):
        assert text.count(fragment) == 4  # subject, two texts and one author
    assert "root:" not in text
    assert pdf_images(pdf) == []


def test_render_pdf_refuses_resources_named_in_raw_markup(app, no_network, tmp_path):
    """Even markup that slipped past escaping may not read files or the network."""
    picture = tmp_path / "picture.png"
    Image.new("RGB", (8, 8), "red").save(picture)
    beside_font = Path(app.config["PDF_FONT_PATH"]).parent / "DejaVuSansMono.ttf"
    raw = (
        '{% extends "pdf/base.html" %}{% block content %}'
        "<p>start</p>"
        f'<img src="{picture}"><img src="file://{picture}">'
        '<img src="/etc/passwd"><img src="http://127.0.0.1:9/x.png">'
        '<img src="https://example.com/x.png">'
        '<link rel="stylesheet" href="http://127.0.0.1:9/x.css">'
        f'<style>@font-face {{ font-family: Mono; src: url("{beside_font}"); }}'
        '@import url("http://127.0.0.1:9/y.css");</style>'
        '<p style="font-family: Mono">end</p>{% endblock %}'
    )
    app.jinja_env.loader = ChoiceLoader(
        [DictLoader({"pdf/raw.html": raw}), app.jinja_env.loader]
    )
    with app.test_request_context("/pl/"):
        app.preprocess_request()
        pdf = render_pdf("pdf/raw.html")
    assert "start" in pdf_text(pdf) and "end" in pdf_text(pdf)
    assert pdf_images(pdf) == []
    assert b"DejaVuSansMono" not in pdf


def test_legacy_dialogue_pdf_shows_times_in_warsaw(app):
    summer = message(at=datetime(2024, 7, 1, 10, 0, tzinfo=UTC))
    winter = message(at=datetime(2024, 1, 15, 10, 0, tzinfo=UTC))
    text = pdf_text(render_dialogue(app, messages=[summer, winter]))
    assert "1.07.2024, 12:00" in text
    assert "15.01.2024, 11:00" in text


def test_legacy_dialogue_pdf_marks_staff_messages(app):
    pdf = render_dialogue(
        app,
        "en",
        messages=[
            message(author="Anna Nowak", from_staff=True),
            message(author="Jan Kowalski"),
        ],
    )
    text = pdf_text(pdf)
    assert "Anna Nowak (HEZO staff)" in text
    assert "Jan Kowalski (HEZO staff)" not in text


def test_legacy_dialogue_pdf_keeps_line_breaks(app):
    pdf = render_dialogue(app, messages=[message("Pierwsza linia\r\nDruga linia")])
    assert "Pierwsza linia\nDruga linia" in pdf_text(pdf)


def test_legacy_dialogue_pdf_breaks_words_longer_than_a_line(app):
    pdf = render_dialogue(app, messages=[message("x" * 2000 + " koniec")])
    lines = pdf_text(pdf).splitlines()
    assert "".join(lines).count("x" * 2000) == 1
    assert max(map(len, lines)) < 200


def test_legacy_dialogue_pdf_renders_100_messages(app):
    start = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)
    messages = [
        message(
            f"Wiadomość {i}\n{POLISH}",
            author=f"Autor {i}",
            from_staff=i % 2 == 0,
            at=start + timedelta(hours=i),
        )
        for i in range(100)
    ]
    pdf = render_dialogue(app, case_number="HZ-2024-0001", messages=messages)
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) > 5
    assert "Autor 99" in reader.pages[-1].extract_text()
    assert pdf_text(pdf).count(POLISH) == 100


def test_render_pdf_raises_on_xhtml2pdf_errors(app, monkeypatch):
    class FailedStatus:
        err = 1
        log = [("error", 3, "broken table", "<table>")]

    monkeypatch.setattr(xhtml2pdf.pisa, "CreatePDF", lambda *a, **kw: FailedStatus)
    with pytest.raises(PdfRenderError, match="broken table"):
        render_base(app)


def test_render_pdf_raises_on_render_limit(app, monkeypatch):
    def too_slow(*args, **kwargs):
        raise RenderLimitError("the render took longer than the 60 seconds")

    monkeypatch.setattr(xhtml2pdf.pisa, "CreatePDF", too_slow)
    with pytest.raises(PdfRenderError, match="60 seconds"):
        render_base(app)


def test_pdf_response_is_a_no_store_attachment(app):
    body = b"%PDF-1.4 test"
    with app.test_request_context("/pl/"):
        response = pdf_response(body, "dialog-zgłoszenia STARY-1042.pdf")
        response.direct_passthrough = False
        assert response.get_data() == body
    assert response.mimetype == "application/pdf"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''dialog-zg%C5%82oszenia%20STARY-1042.pdf" in disposition
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"


# -- the case PDF: status history, shipment, metadata ------------------------------


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        (
            "pl",
            (
                "Historia statusów",
                "Wysyłka",
                "Przewoźnik",
                "Numer listu przewozowego zwracanego urządzenia",
                "Termin zwrotu uszkodzonego urządzenia",
            ),
        ),
        (
            "en",
            (
                "Status history",
                "Shipment",
                "Carrier",
                "Waybill of the returned unit",
                "Faulty unit to be returned by",
            ),
        ),
    ],
)
def test_the_case_pdf_holds_the_status_history_and_the_shipment(
    app,
    client,
    world,  # noqa: F811
    lang,
    words,
):
    login(client, world["customer"], lang=lang)
    case = report_case(client, world["hardware"], "HW-1", **SITE)
    now = utcnow()
    ship(case, world["engineer"], now)
    case = SupportCase.get_by_id(case.id)
    transition(
        case,
        world["engineer"],
        "closed",
        now,
        return_waybill="RET-777-PL",
        note="Zwrot przyjęty w magazynie w Łodzi",
    )
    case = SupportCase.get_by_id(case.id)
    response = client.get(f"/{lang}/cases/{case.number}/pdf")
    assert response.status_code == 200
    reader = PdfReader(io.BytesIO(response.data))
    text = " ".join(" ".join(p.extract_text().split()) for p in reader.pages)
    changes = list(
        StatusChange.select()
        .where(StatusChange.case == case)
        .order_by(StatusChange.created_at, StatusChange.id)
    )
    with app.test_request_context(f"/{lang}/"), in_language(lang):
        moments = [format_local_datetime(c.created_at) for c in changes]
        delivered = format_local_datetime(case.delivered_at)
        return_due = format_local_datetime(case.return_due_at)
    for expected in (
        *words,
        *moments,
        "Zwrot przyjęty w magazynie w Łodzi",  # the note, Polish letters kept
        "DHL Express",
        "JJD000123456",
        delivered,
        return_due,
        "RET-777-PL",
    ):
        assert expected in text, expected
    # After the shipment, each change with its moment, the oldest first.
    assert text.index(words[1]) < text.index(words[0])
    history = text[text.index(words[0]) :]
    positions = [history.index(m) for m in moments]
    assert positions == sorted(positions) and len(moments) == 6
    assert history.index("Zwrot przyjęty") > positions[-2]
    # Title, author and language in the document's metadata.
    assert case.number in reader.metadata.title and "HEZO" in reader.metadata.author
    assert reader.trailer["/Root"]["/Lang"] == lang


def test_the_case_pdf_tells_the_portals_own_notes_in_words(app, client, world):  # noqa: F811
    login(client, world["customer"], lang="en")
    case = report_case(client, world["software"], "SW-1")
    transition(case, world["engineer"], "waiting_for_customer", utcnow())
    case = SupportCase.get_by_id(case.id)
    post_message(case, world["customer"], "Logi w załączniku", [], utcnow())
    text = pdf_text(client.get(f"/en/cases/{case.number}/pdf").data)
    assert "the customer answered" in " ".join(text.split())
    assert "customer_answered" not in text
