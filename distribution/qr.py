"""QR codes and posters for share links: what a guide shows in store or posts in a chat.

Every image encodes the link's absolute URL (``PUBLIC_BASE_URL`` + ``/s/<code>``), so scanning
it records a visit like a tap on the link. Posters are drawn with Pillow in a font that has
Chinese glyphs and "¥" (Noto Sans CJK from Debian's fonts-noto-cjk, which ``make install``
installs through ``.ci/ensure-fonts``; or WenQuanYi), found with ``fc-list`` and checked by
drawing: a face that draws a probe character as its missing-glyph box is not used. Without
one, a Latin font with "¥" (DejaVu Sans) draws Latin text and the QR code still scans. What a
poster says comes from ``distribution.posters``.
"""

from __future__ import annotations

import functools
import io
import os
import re
import shutil
import subprocess
import time

import qrcode
import qrcode.image.svg
from flask import current_app
from flask_babel import gettext as _
from PIL import Image, ImageDraw, ImageFont

from distribution.models import ShareLink
from distribution.posters import subject_of

POSTER_SIZE = (750, 1334)
MARGIN = 48
QR_SIDE = 300
INK = (29, 29, 31)
MUTED = (110, 110, 115)
ACCENT = (192, 57, 43)
SOFT = (245, 245, 247)

# Font families by preference: a sans-serif with Simplified Chinese first.
_FAMILY_RANK = ("Noto Sans CJK SC", "WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "Noto Sans CJK")
_LATIN_RANK = ("DejaVu Sans", "Liberation Sans", "Noto Sans")


def link_url(link: ShareLink) -> str:
    """The absolute URL a QR code carries."""
    return f"{current_app.config['PUBLIC_BASE_URL'].rstrip('/')}/s/{link.code}"


def _qr(url: str, **options) -> qrcode.QRCode:
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4, **options)
    code.add_data(url)
    code.make(fit=True)
    return code


def qr_image(url: str, box_size: int = 10) -> Image.Image:
    return (
        _qr(url, box_size=box_size).make_image(fill_color="black", back_color="white").get_image()
    )


def qr_fitting(url: str, side: int) -> Image.Image:
    """The QR code at the largest whole number of pixels per module that fits ``side``,
    centred on a white square: scaling by a fraction would blur the modules' edges."""
    code = _qr(url, box_size=1)
    box = max(1, side // (code.modules_count + 2 * code.border))
    picture = qr_image(url, box_size=box)
    square = Image.new("RGB", (side, side), "white")
    offset = (side - picture.width) // 2
    square.paste(picture.convert("RGB"), (offset, offset))
    return square


def qr_png(url: str) -> bytes:
    out = io.BytesIO()
    qr_image(url).save(out, "PNG", optimize=True)
    return out.getvalue()


def qr_svg(url: str) -> bytes:
    """A scalable QR code on a white background (dark chat themes would hide a bare one)."""
    return _qr(url, image_factory=qrcode.image.svg.SvgPathFillImage).make_image().to_string()


#: A character no font has (unassigned in Unicode): every font draws its missing-glyph box.
MISSING = "\u0378"
#: What a poster font must draw: Chinese, the yuan sign and Latin letters.
PROBE = "中文¥A"
#: Where Debian's fonts-noto-cjk puts its fonts, for a machine without fontconfig's fc-list.
_KNOWN_FILES = (
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", "regular"),
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc", "bold"),
)
_RECHECK_SECONDS = 60


def draws(face, text: str) -> bool:
    """Whether ``face`` has a real glyph for every character of ``text``, not the box it
    draws for a character it lacks."""
    box = face.getmask(MISSING)
    missing = (box.size, bytes(box))
    for char in set(text) - set(" \t\n"):
        mask = face.getmask(char)
        if (mask.size, bytes(mask)) == missing:
            return False
    return True


def _listed(pattern: str) -> list[tuple[str, int, str, str]]:
    """``fc-list``'s fonts matching ``pattern``: (file, index in the file, family, style)."""
    if shutil.which("fc-list") is None:
        return []
    try:
        listing = subprocess.run(
            ["fc-list", pattern, "-f", "%{file}|%{index}|%{family}|%{style}\n"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    found = []
    for row in listing.splitlines():
        parts = row.split("|")
        if len(parts) == 4 and parts[1].isdigit() and os.path.exists(parts[0]):
            found.append((parts[0], int(parts[1]), parts[2], parts[3]))
    return found


def _weight(style: str) -> str:
    """ "regular", "bold" or "" (a weight a poster does not use) from a font's style names."""
    names = set(style.replace(",", " ").split())
    if names & {"Italic", "Oblique"}:
        return ""
    if "Bold" in names:
        return "bold"
    return "regular" if names & {"Regular", "Book", "Normal"} else ""


def _pick(candidates, probe: str) -> dict[str, tuple[str, int]]:
    """The first candidate (file, index, weight) of each weight whose face draws ``probe``:
    a collection's index as listed may not be the face wanted, so each one is tried."""
    chosen: dict[str, tuple[str, int]] = {}
    for path, index, weight in candidates:
        if weight in chosen:
            continue
        try:
            face = ImageFont.truetype(path, 24, index=index)
        except OSError:
            continue
        if draws(face, probe):
            chosen[weight] = (path, index)
    if "regular" in chosen and "bold" not in chosen:
        chosen["bold"] = chosen["regular"]
    return chosen if "regular" in chosen else {}


def _ranked(rows, families: tuple[str, ...]) -> list[tuple[str, int, str]]:
    ranked = []
    for path, index, family, style in rows:
        weight = _weight(style)
        if not weight or "Mono" in family or "Serif" in family:
            continue
        rank = next((n for n, name in enumerate(families) if name in family), len(families))
        ranked.append((rank, path, index, weight))
    return [(path, index, weight) for _rank, path, index, weight in sorted(ranked)]


def _find_cjk_fonts() -> dict[str, tuple[str, int]]:
    candidates = _ranked(_listed(":lang=zh-cn"), _FAMILY_RANK)
    candidates += [(path, 2, weight) for path, weight in _KNOWN_FILES if os.path.exists(path)]
    candidates += [(path, i, weight) for path, weight in _KNOWN_FILES for i in range(10)]
    return _pick([c for c in candidates if os.path.exists(c[0])], PROBE)


def _find_latin_fonts() -> dict[str, tuple[str, int]]:
    """Without a Chinese font: a sans-serif with "¥" (DejaVu Sans on Debian)."""
    return _pick(_ranked(_listed(":charset=a5"), _LATIN_RANK), "¥A")


def _kept(find):
    """``find()``, remembered once it found something; an empty answer is asked again after
    a minute (a font installed while the shop runs is used without a restart)."""
    state: dict = {"value": {}, "at": None}

    @functools.wraps(find)
    def cached() -> dict[str, tuple[str, int]]:
        now = time.monotonic()
        if not state["value"] and (state["at"] is None or now - state["at"] > _RECHECK_SECONDS):
            state["value"], state["at"] = find(), now
        return state["value"]

    cached.cache_clear = lambda: state.update(value={}, at=None)
    return cached


#: Installed fonts with Chinese glyphs and "¥": {"regular": (path, index), "bold": ...}.
cjk_fonts = _kept(_find_cjk_fonts)
latin_fonts = _kept(_find_latin_fonts)


def font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """The poster's font at ``size``: Chinese when installed, else a Latin one with "¥",
    else Pillow's own."""
    weight = "bold" if bold else "regular"
    choice = cjk_fonts().get(weight) or latin_fonts().get(weight)
    if choice is not None:
        return ImageFont.truetype(choice[0], size, index=choice[1])
    return ImageFont.load_default(size=size)


_TOKENS = re.compile(
    r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]|[^\s\u2e80-\u9fff]+|\s+"
)


def wrap(draw: ImageDraw.ImageDraw, text: str, face, width: int, max_lines: int) -> list[str]:
    """Break ``text`` into at most ``max_lines`` lines no wider than ``width``: between words,
    between Chinese characters, inside a word only when it alone is too wide. The last line
    ends with an ellipsis when text was left out."""
    lines: list[str] = []
    line = ""
    for token in _TOKENS.findall(text.strip()):
        if draw.textlength(line + token, font=face) <= width:
            line += token
            continue
        if line.strip():
            lines.append(line.strip())
        line = "" if token.isspace() else token
        while draw.textlength(line, font=face) > width:
            cut = len(line) - 1
            while cut > 1 and draw.textlength(line[:cut], font=face) > width:
                cut -= 1
            lines.append(line[:cut])
            line = line[cut:]
    if line.strip():
        lines.append(line.strip())
    if len(lines) > max_lines:
        last = lines[max_lines - 1]
        while last and draw.textlength(last + "…", font=face) > width:
            last = last[:-1]
        lines = lines[: max_lines - 1] + [last.rstrip() + "…"]
    return lines


def _headline(draw: ImageDraw.ImageDraw, text: str, box: tuple[int, int, int, int]) -> None:
    """``text`` written large in the middle of ``box``: as big as fits in three lines."""
    left, top, right, bottom = box
    width = right - left - 80
    for size in (72, 60, 48, 40):
        face = font(size, bold=True)
        lines = wrap(draw, text, face, width, 3)
        if not lines[-1].endswith("…"):
            break
    step = int(size * 1.25)
    y = (top + bottom) // 2 - step * len(lines) // 2
    for line in lines:
        draw.text(((left + right) // 2, y), line, font=face, fill=ACCENT, anchor="ma")
        y += step


def poster_png(link: ShareLink) -> bytes:
    """A phone-sized poster of what the link leads to (``posters.subject_of``): picture, name,
    price or value, who shares it, and the QR code."""
    subject = subject_of(link)
    width, height = POSTER_SIZE
    poster = Image.new("RGB", POSTER_SIZE, "white")
    draw = ImageDraw.Draw(poster)
    picture_side = width - 2 * MARGIN
    picture = subject.picture_image(picture_side)
    top = MARGIN
    if picture is not None:
        poster.paste(picture, (MARGIN, top))
    else:
        box = (MARGIN, top, width - MARGIN, top + picture_side)
        draw.rounded_rectangle(box, radius=24, fill=SOFT)
        _headline(draw, subject.headline or current_app.config["SHOP_NAME"], box)
    y = top + picture_side + 28
    heading = font(40, bold=True)
    for text in wrap(draw, subject.title, heading, width - 2 * MARGIN, 2):
        draw.text((MARGIN, y), text, font=heading, fill=INK)
        y += 54
    qr_top = height - MARGIN - QR_SIDE
    if subject.line:
        line_font = font(46 if not subject.headline else 34, bold=True)
        line = wrap(draw, subject.line, line_font, width - 2 * MARGIN, 1)[0]
        draw.text((MARGIN, y + 4), line, font=line_font, fill=ACCENT)
        if subject.struck:
            x = MARGIN + draw.textlength(line, font=line_font) + 18
            small = font(28)
            draw.text((x, y + 20), subject.struck, font=small, fill=MUTED)
            strike_y = y + 20 + small.size // 2 + 4
            draw.line(
                (x, strike_y, x + draw.textlength(subject.struck, font=small), strike_y),
                fill=MUTED,
                width=2,
            )
    poster.paste(qr_fitting(link_url(link), QR_SIDE), (width - MARGIN - QR_SIDE, qr_top))
    text_width = width - 3 * MARGIN - QR_SIDE
    label = font(30)
    y = qr_top + 60
    for text in wrap(draw, _("Shared by %(name)s", name=link.sharer.name), label, text_width, 2):
        draw.text((MARGIN, y), text, font=label, fill=INK)
        y += 42
    y += 12
    hint = font(26)
    for text in wrap(draw, subject.call, hint, text_width, 2):
        draw.text((MARGIN, y), text, font=hint, fill=MUTED)
        y += 36
    out = io.BytesIO()
    poster.save(out, "PNG", optimize=True)
    return out.getvalue()
