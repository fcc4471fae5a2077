#!/usr/bin/env python3
"""The peer of the render bench: the same 住民票 page drawn with ReportLab.

The compass for our renderer is a ReportLab rendering of the same 4-member 住民票: IPAex明朝
subset into the PDF, an anti-copy ground pattern, the mayor's seal and the verification QR.
This script takes the page our renderer made (its words and where they stand, read with
`pdftotext -bbox`), draws the same words at the same places in IPAex明朝 with ReportLab, adds
a ground pattern of the same pitch drawn the cheap way (one dashed line per row, as ours),
the seal as a 300 dpi image (as municipalities supply it) and the QR of the same URL, and
reports the size of the file and the time to make it.

    juminhyo_reportlab.py OURS.pdf VERIFY_URL [--runs N] [--out PEER.pdf]

Prints one line: `bytes median_ms max_ms`. Needs reportlab (pip) and poppler-utils.
"""

import argparse
import html.parser
import io
import statistics
import subprocess
import sys
import time

from reportlab.graphics import renderPDF
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

MINCHO = "/usr/share/fonts/opentype/ipaexfont-mincho/ipaexm.ttf"
TINT = (0.38, 0.52, 0.66)
SEAL_RED = (0.86, 0.13, 0.12)
FINE = 1.5  # pt, as paper/src/security.rs
FINE_DOT, COARSE_DOT = 0.27 * FINE, 0.76 * FINE


class Words(html.parser.HTMLParser):
    """The words of `pdftotext -bbox` output, with their boxes (points, y down)."""

    def __init__(self):
        super().__init__()
        self.words, self._box = [], None

    def handle_starttag(self, tag, attrs):
        if tag == "word":
            a = dict(attrs)
            self._box = tuple(float(a[k]) for k in ("xmin", "ymin", "xmax", "ymax"))

    def handle_data(self, data):
        if self._box and data.strip():
            self.words.append((self._box, data.strip()))

    def handle_endtag(self, tag):
        if tag == "word":
            self._box = None


def words_of(pdf):
    out = subprocess.run(["pdftotext", "-bbox", "-f", "1", "-l", "1", pdf, "-"], check=True, capture_output=True)
    p = Words()
    p.feed(out.stdout.decode("utf-8"))
    return p.words


def seal_png():
    """A 24 mm round seal at 300 dpi, as a municipality's scanned 公印 would be supplied."""
    from PIL import Image, ImageDraw, ImageFont

    px = round(24 / 25.4 * 300)
    img = Image.new("RGBA", (px, px), (255, 255, 255, 0))
    d = ImageDraw.Draw(img)
    red = tuple(round(c * 255) for c in SEAL_RED) + (255,)
    d.ellipse((6, 6, px - 6, px - 6), outline=red, width=14)
    font = ImageFont.truetype(MINCHO, px // 4)
    for i, row in enumerate(("窓口市", "長之印")):
        for j, ch in enumerate(row):
            d.text((px * (0.62 - 0.34 * i), px * (0.18 + 0.22 * j)), ch, font=font, fill=red)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def ground(c, w, h):
    """Fine dots over the page, coarse dots (same tone) where the latent 複写 stands."""
    c.saveState()
    c.setStrokeColorRGB(*TINT)
    c.setLineCap(1)
    x0, x1, y0, y1 = 9 * mm, w - 9 * mm, 9 * mm, h - 9 * mm
    latent = (w * 0.3, h * 0.35, w * 0.7, h * 0.55)  # the word's box, middle of the page
    rows = int((y1 - y0) / FINE)
    c.setLineWidth(FINE_DOT)
    c.setDash([0, FINE])
    for r in range(rows + 1):
        y = y1 - r * FINE
        off = FINE / 2 if r % 2 else 0
        if latent[1] <= y <= latent[3]:
            c.line(x0 + off, y, latent[0], y)
            c.line(latent[2], y, x1, y)
        else:
            c.line(x0 + off, y, x1, y)
    c.setLineWidth(COARSE_DOT)
    c.setDash([0, 3 * FINE])
    y = latent[3]
    while y >= latent[1]:
        c.line(latent[0], y, latent[2], y)
        y -= 3 * FINE
    c.restoreState()
    c.setStrokeColorRGB(*TINT)
    c.setLineWidth(1.2)
    c.rect(x0 - 2.5 * mm, y0 - 2.5 * mm, x1 - x0 + 5 * mm, y1 - y0 + 5 * mm)
    c.setLineWidth(0.4)
    c.rect(x0 - 1.5 * mm, y0 - 1.5 * mm, x1 - x0 + 3 * mm, y1 - y0 + 3 * mm)


def render(words, url, seal):
    buf = io.BytesIO()
    w, h = A4
    c = canvas.Canvas(buf, pagesize=A4, pageCompression=1)
    ground(c, w, h)
    c.setFillColorRGB(0, 0, 0)
    for (xmin, ymin, xmax, ymax), text in words:
        size = max(4.0, (ymax - ymin) * 0.86)
        c.setFont("IPAexMincho", size)
        c.drawString(xmin, h - ymax + (ymax - ymin) * 0.12, text)
    c.drawImage(ImageReader(io.BytesIO(seal)), 172 * mm, 38 * mm, 20 * mm, 20 * mm, mask="auto")
    qr = QrCodeWidget(url)
    x0, y0, x1, y1 = qr.getBounds()
    d = Drawing(20 * mm, 20 * mm, transform=[20 * mm / (x1 - x0), 0, 0, 20 * mm / (y1 - y0), 0, 0])
    d.add(qr)
    renderPDF.draw(d, c, 174 * mm, 12 * mm)
    c.showPage()
    c.save()
    return buf.getvalue()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ours")
    ap.add_argument("url")
    ap.add_argument("--runs", type=int, default=25)
    ap.add_argument("--out")
    a = ap.parse_args()
    pdfmetrics.registerFont(TTFont("IPAexMincho", MINCHO))  # subset on save
    words = words_of(a.ours)
    if not words:
        sys.exit("no words in " + a.ours)
    seal = seal_png()  # supplied once, as our seal is built once
    times, pdf = [], b""
    for _ in range(a.runs):
        t = time.perf_counter()
        pdf = render(words, a.url, seal)
        times.append((time.perf_counter() - t) * 1000)
    if a.out:
        with open(a.out, "wb") as f:
            f.write(pdf)
    print(f"{len(pdf)} {statistics.median(times):.1f} {max(times):.1f}")


if __name__ == "__main__":
    main()
