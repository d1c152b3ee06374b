"""HTML-only mail as plain text: tags dropped, never rendered.

The standard library's tokenizer (``html.parser``) reads the markup; the text
of ``script``/``style``/``head`` is dropped, block elements end lines, links
keep their address after the text, entities are decoded. What comes out is
stored and shown as text (Jinja escapes it), so no markup of a sender ever
reaches a page.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

_BLOCK = {
    "p", "div", "br", "tr", "li", "ul", "ol", "table", "h1", "h2", "h3", "h4",
    "h5", "h6", "blockquote", "pre", "hr", "section", "article", "header",
    "footer", "dt", "dd",
}  # fmt: skip
_HIDDEN = {"script", "style", "head", "title", "template", "noscript"}


class _Text(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0
        self.links: list[str | None] = []

    def handle_starttag(self, tag, attrs):
        if tag in _HIDDEN:
            self.hidden += 1
        elif tag in _BLOCK:
            self.parts.append("\n")
        if tag == "li":
            self.parts.append("- ")
        if tag == "a":
            href = dict(attrs).get("href") or ""
            self.links.append(href if href.startswith(("http", "mailto:")) else None)

    def handle_startendtag(self, tag, attrs):
        if tag in _BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in _HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag in _BLOCK:
            self.parts.append("\n")
        elif tag == "a" and self.links:
            href = self.links.pop()
            if href:
                self.parts.append(f" ({href.removeprefix('mailto:')})")

    def handle_data(self, data):
        if not self.hidden:
            self.parts.append(re.sub(r"[ \t\r\n]+", " ", data))


def to_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    parser.close()
    lines = [line.strip() for line in "".join(parser.parts).split("\n")]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()
