"""Printable QR label sheets: one label per lot, linking to the lot's passport page.

A sheet is one SVG document in millimetres: A4 pages of 3 x 8 labels of 70 x 37 mm,
the usual self-adhesive label stock, stacked top to bottom when a building has more
than 24 lots. Each label has the QR code of the passport URL, the lot id, the item
id, the category, the building reference and the URL in plain text.
"""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import escape

import segno

from ledger.queries import LotView

PAGE_WIDTH_MM = 210.0
PAGE_HEIGHT_MM = 297.0
COLUMNS = 3
ROWS = 8
LABEL_WIDTH_MM = 70.0
LABEL_HEIGHT_MM = 37.0
LABELS_PER_PAGE = COLUMNS * ROWS
QR_SIZE_MM = 28.0
PADDING_MM = 2.5
# ISO/IEC 18004 requires a quiet zone of 4 modules around a QR symbol.
QR_BORDER_MODULES = 4
URL_FONT_MM = 2.5


def passport_url(public_url: str, lot_id: int) -> str:
    """Return the public URL of a lot's passport page."""
    return f"{public_url.rstrip('/')}/passport/{lot_id}"


def label_sheet_svg(
    building_reference: str, lots: Sequence[LotView], public_url: str
) -> str:
    """Return the SVG label sheet of ``lots``, in the order given."""
    # NOTE: a sheet of several pages is one tall SVG, so printing relies on the viewer
    # cutting pages every 297 mm. This was checked on screen, not on paper.
    pages = max(1, -(-len(lots) // LABELS_PER_PAGE))
    height = pages * PAGE_HEIGHT_MM
    top_margin = (PAGE_HEIGHT_MM - ROWS * LABEL_HEIGHT_MM) / 2
    parts = [
        '<svg xmlns="http://www.w3.org/2000/svg" '
        f'width="{PAGE_WIDTH_MM:g}mm" height="{height:g}mm" '
        f'viewBox="0 0 {PAGE_WIDTH_MM:g} {height:g}" '
        'font-family="Helvetica, Arial, sans-serif">',
        f"<title>QR labels of building {escape(building_reference)}</title>",
        f'<rect width="{PAGE_WIDTH_MM:g}" height="{height:g}" fill="#fff"/>',
    ]
    for index, lot in enumerate(lots):
        page, slot = divmod(index, LABELS_PER_PAGE)
        row, column = divmod(slot, COLUMNS)
        x = column * LABEL_WIDTH_MM
        y = page * PAGE_HEIGHT_MM + top_margin + row * LABEL_HEIGHT_MM
        parts.append(_label(lot, passport_url(public_url, lot.lot_id), x, y))
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _label(lot: LotView, url: str, x: float, y: float) -> str:
    record = lot.record or {}
    text_x = PADDING_MM + QR_SIZE_MM + 2
    lines = [
        (f"Lot {lot.lot_id}", 6.0, "bold"),
        (str(record.get("item_id", "")), 3.6, "normal"),
        (lot.category, 3.2, "normal"),
        (lot.building_reference or "", 3.2, "normal"),
    ]
    parts = [
        f'<g transform="translate({x:g} {y:g})">',
        f'<rect x="0.5" y="0.5" width="{LABEL_WIDTH_MM - 1:g}" '
        f'height="{LABEL_HEIGHT_MM - 1:g}" rx="2" fill="none" stroke="#bbb" '
        'stroke-width="0.2"/>',
        _qr_code(url, PADDING_MM, PADDING_MM - 1, QR_SIZE_MM),
    ]
    baseline = PADDING_MM + 6
    for text, size, weight in lines:
        parts.append(
            f'<text x="{text_x:g}" y="{baseline:g}" font-size="{size:g}" '
            f'font-weight="{weight}">{escape(text)}</text>'
        )
        baseline += size + 1.6
    url_width = LABEL_WIDTH_MM - 2 * PADDING_MM
    # Long URLs are squeezed to the label's width instead of running off it.
    fit = (
        f' textLength="{url_width:g}" lengthAdjust="spacingAndGlyphs"'
        if len(url) * URL_FONT_MM * 0.55 > url_width
        else ""
    )
    parts.append(
        f'<text x="{PADDING_MM:g}" y="{LABEL_HEIGHT_MM - PADDING_MM:g}" '
        f'font-size="{URL_FONT_MM:g}"{fit}>{escape(url)}</text>'
    )
    parts.append("</g>")
    return "".join(parts)


def _qr_code(data: str, x: float, y: float, size: float) -> str:
    """Return an SVG group drawing the QR code of ``data`` in a ``size`` mm square."""
    code = segno.make(data, error="m")
    matrix = [list(row) for row in code.matrix_iter(border=QR_BORDER_MODULES)]
    module = size / len(matrix)
    path = []
    for row_index, row in enumerate(matrix):
        column = 0
        while column < len(row):
            if not row[column]:
                column += 1
                continue
            start = column
            while column < len(row) and row[column]:
                column += 1
            path.append(f"M{start} {row_index}h{column - start}v1h-{column - start}z")
    return (
        f'<g transform="translate({x:g} {y:g}) scale({module:.6g})">'
        f'<rect width="{len(matrix)}" height="{len(matrix)}" fill="#fff"/>'
        f'<path d="{"".join(path)}" fill="#000" shape-rendering="crispEdges"/>'
        f"<desc>{escape(data)}</desc></g>"
    )
