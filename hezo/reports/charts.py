"""Bar charts as SVG written on the server: no JavaScript, no library.

Each chart is a list of bars (a label and a percentage, or None for "no
decided clock"), drawn horizontally so long customer names fit on a phone.
The template puts the SVG inside ``<figure>`` with its ``<title>`` and
``<desc>`` (``role="img"``), and the table of the same figures beside it, so
a screen reader user reads the table and nobody needs the picture.
"""

from dataclasses import dataclass

BAR_HEIGHT = 22
GAP = 8
LABEL_WIDTH = 180
BAR_WIDTH = 240
VALUE_WIDTH = 60
TARGET_PCT = 95  # a reference line: the target most contracts name


@dataclass(frozen=True)
class Bar:
    label: str
    value: float | None
    text: str  # the value as the page writes it ("97.5 %", "—")
    y: int
    width: float
    is_low: bool


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    bars: tuple[Bar, ...]
    label_width: int
    bar_width: int
    target_x: float
    text_y: int


def short(label: str, limit: int = 26) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def bar_chart(items: list[tuple[str, float | None, str]]) -> Chart:
    """``items``: (label, percentage 0-100 or None, its text)."""
    bars = []
    for index, (label, value, text) in enumerate(items):
        width = 0.0 if value is None else BAR_WIDTH * max(0.0, min(value, 100.0)) / 100
        bars.append(
            Bar(
                label=short(label),
                value=value,
                text=text,
                y=GAP + index * (BAR_HEIGHT + GAP),
                width=round(width, 1),
                is_low=value is not None and value < TARGET_PCT,
            )
        )
    height = GAP + len(bars) * (BAR_HEIGHT + GAP)
    return Chart(
        width=LABEL_WIDTH + BAR_WIDTH + VALUE_WIDTH,
        height=height,
        bars=tuple(bars),
        label_width=LABEL_WIDTH,
        bar_width=BAR_WIDTH,
        target_x=LABEL_WIDTH + BAR_WIDTH * TARGET_PCT / 100,
        text_y=BAR_HEIGHT // 2 + 5,
    )
