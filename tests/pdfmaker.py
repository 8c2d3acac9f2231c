"""Small CJK PDFs for tests, written with reportlab's built-in STSong CID font (no font files)."""

from __future__ import annotations

import io


def cjk_pdf(paragraphs: list[str], width: int = 32) -> bytes:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf)
    y = 800
    for paragraph in paragraphs:
        # hard-wrapped lines, as a typeset bulletin comes out of a PDF
        lines = [paragraph[i:i + width] for i in range(0, len(paragraph), width)] or [""]
        for line in lines:
            if y < 60:
                pdf.showPage()
                y = 800
            pdf.setFont("STSong-Light", 11)
            pdf.drawString(40, y, line)
            y -= 16
        y -= 14  # paragraph gap
    pdf.save()
    return buf.getvalue()
