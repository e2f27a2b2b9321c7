"""Product pictures for the demo shop, drawn with Pillow: a tea tin, a gift box, a cake of
Pu'er, a cup, a teapot, a tray, a scarf, a tote bag, a honey jar, a box of cookies, a box of
mooncakes. Nothing is downloaded; each picture is a studio shot of one object on a soft
backdrop with its shadow, drawn at twice the size and scaled down so the edges are smooth.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable

from PIL import Image, ImageDraw, ImageFilter

SIZE = 800
_SCALE = 2
_W = SIZE * _SCALE

Colour = tuple[int, int, int]


def _mix(a: Colour, b: Colour, t: float) -> Colour:
    return tuple(round(x + (y - x) * t) for x, y in zip(a, b, strict=True))


def _lighter(c: Colour, t: float = 0.35) -> Colour:
    return _mix(c, (255, 255, 255), t)


def _darker(c: Colour, t: float = 0.3) -> Colour:
    return _mix(c, (0, 0, 0), t)


def _backdrop(colour: Colour) -> Image.Image:
    """A pale backdrop tinted by the product's colour, lighter at the top."""
    top, bottom = _mix(colour, (255, 255, 255), 0.9), _mix(colour, (255, 255, 255), 0.75)
    gradient = Image.linear_gradient("L").resize((_W, _W))
    return Image.composite(
        Image.new("RGB", (_W, _W), bottom), Image.new("RGB", (_W, _W), top), gradient
    )


def _shadow(image: Image.Image, box: tuple[int, int, int, int]) -> None:
    mask = Image.new("L", image.size, 0)
    ImageDraw.Draw(mask).ellipse(box, fill=110)
    mask = mask.filter(ImageFilter.GaussianBlur(_W // 60))
    image.paste((60, 50, 40), (0, 0), mask)


def _s(*values: float) -> list[int]:
    """Coordinates given on an 800-pixel canvas, at drawing scale."""
    return [round(v * _SCALE) for v in values]


def _tin(d: ImageDraw.ImageDraw, c: Colour) -> None:
    d.rectangle(_s(250, 230, 550, 610), fill=c)
    d.ellipse(_s(250, 570, 550, 650), fill=c)
    d.rectangle(_s(250, 330, 550, 480), fill=(246, 238, 220))
    d.ellipse(_s(250, 190, 550, 270), fill=_lighter(c, 0.2))
    d.ellipse(_s(262, 198, 538, 262), fill=_darker(c, 0.15))
    d.rectangle(_s(262, 230, 300, 600), fill=_lighter(c, 0.25))
    for i, leaf in enumerate((340, 400, 460)):
        d.ellipse(_s(leaf, 375 + (i % 2) * 10, leaf + 50, 430 + (i % 2) * 10), fill=(88, 140, 70))


def _box(d: ImageDraw.ImageDraw, c: Colour) -> None:
    d.polygon(_s(170, 330, 470, 390, 630, 300, 330, 250), fill=_lighter(c, 0.25))
    d.polygon(_s(170, 330, 470, 390, 470, 620, 170, 550), fill=c)
    d.polygon(_s(470, 390, 630, 300, 630, 520, 470, 620), fill=_darker(c, 0.25))
    gold = (214, 170, 70)
    d.polygon(_s(300, 356, 340, 364, 340, 594, 300, 582), fill=gold)
    d.polygon(_s(250, 266, 290, 258, 590, 316, 550, 324), fill=gold)
    d.polygon(_s(300, 356, 340, 364, 520, 262, 480, 256), fill=gold)
    d.ellipse(_s(370, 250, 450, 310), outline=gold, width=14 * _SCALE)


def _cake(d: ImageDraw.ImageDraw, c: Colour) -> None:
    d.ellipse(_s(150, 330, 650, 600), fill=_darker(c, 0.2))
    d.ellipse(_s(150, 300, 650, 560), fill=(238, 226, 200))
    d.ellipse(_s(330, 390, 470, 470), fill=c)
    for angle in range(0, 360, 30):
        x = 400 + 210 * math.cos(math.radians(angle))
        y = 430 + 100 * math.sin(math.radians(angle))
        d.line(_s(400, 430, x, y), fill=(200, 180, 150), width=3 * _SCALE)
    d.ellipse(_s(330, 390, 470, 470), fill=c)
    d.rectangle(_s(375, 405, 425, 455), fill=(180, 40, 40))


def _cup(d: ImageDraw.ImageDraw, c: Colour) -> None:
    d.ellipse(_s(300, 560, 500, 610), fill=_darker(c, 0.2))
    d.chord(_s(180, 220, 620, 640), 0, 180, fill=c)
    d.ellipse(_s(180, 380, 620, 470), fill=_lighter(c, 0.3))
    d.ellipse(_s(200, 392, 600, 460), fill=(196, 160, 60))
    d.arc(_s(200, 240, 600, 620), 20, 70, fill=_lighter(c, 0.5), width=10 * _SCALE)


def _teapot(d: ImageDraw.ImageDraw, c: Colour) -> None:
    d.polygon(_s(520, 420, 660, 300, 680, 320, 560, 500), fill=c)
    d.arc(_s(150, 330, 300, 520), 90, 270, fill=_darker(c, 0.1), width=30 * _SCALE)
    d.ellipse(_s(220, 300, 580, 620), fill=c)
    d.ellipse(_s(300, 270, 500, 330), fill=_darker(c, 0.15))
    d.ellipse(_s(370, 235, 430, 285), fill=_darker(c, 0.15))
    d.arc(_s(250, 330, 550, 600), 200, 250, fill=_lighter(c, 0.5), width=12 * _SCALE)


def _glass_teapot(d: ImageDraw.ImageDraw, c: Colour) -> None:
    _teapot(d, c)
    d.chord(_s(235, 330, 565, 605), 10, 170, fill=(150, 100, 40))
    d.arc(_s(220, 300, 580, 620), 0, 360, fill=_darker(c, 0.3), width=6 * _SCALE)


def _tea_set(d: ImageDraw.ImageDraw, c: Colour) -> None:
    d.rounded_rectangle(_s(110, 420, 690, 640), 30 * _SCALE, fill=_darker(c, 0.1))
    d.rounded_rectangle(_s(130, 440, 670, 620), 24 * _SCALE, fill=(232, 226, 214))
    for x in (160, 540):
        d.chord(_s(x, 470, x + 100, 600), 0, 180, fill=c)
        d.ellipse(_s(x, 510, x + 100, 540), fill=_lighter(c, 0.4))
    d.ellipse(_s(300, 450, 500, 610), fill=c)
    d.ellipse(_s(360, 430, 440, 470), fill=_darker(c, 0.2))
    d.polygon(_s(490, 520, 540, 470, 550, 480, 500, 550), fill=c)


def _tray(d: ImageDraw.ImageDraw, c: Colour) -> None:
    d.polygon(_s(120, 440, 420, 580, 680, 430, 380, 310), fill=_darker(c, 0.3))
    d.polygon(_s(120, 420, 420, 560, 680, 410, 380, 290), fill=c)
    for i in range(1, 9):
        t = i / 9
        a = (120 + (380 - 120) * t, 420 + (290 - 420) * t)
        b = (420 + (680 - 420) * t, 560 + (410 - 560) * t)
        d.line(_s(*a, *b), fill=_darker(c, 0.2), width=5 * _SCALE)


def _scarf(d: ImageDraw.ImageDraw, c: Colour) -> None:
    d.polygon(_s(200, 200, 600, 200, 640, 600, 520, 560, 400, 620, 280, 560, 160, 600), fill=c)
    for x in range(230, 560, 60):
        d.ellipse(_s(x, 300, x + 30, 330), fill=_lighter(c, 0.5))
        d.ellipse(_s(x + 20, 420, x + 50, 450), fill=_lighter(c, 0.5))
    d.line(_s(300, 200, 260, 580), fill=_darker(c, 0.2), width=6 * _SCALE)
    d.line(_s(500, 200, 540, 580), fill=_darker(c, 0.2), width=6 * _SCALE)


def _bag(d: ImageDraw.ImageDraw, c: Colour) -> None:
    d.arc(_s(290, 160, 510, 420), 180, 360, fill=_darker(c, 0.25), width=22 * _SCALE)
    d.polygon(_s(220, 300, 580, 300, 610, 640, 190, 640), fill=c)
    d.rectangle(_s(330, 420, 470, 520), outline=_darker(c, 0.3), width=5 * _SCALE)
    d.ellipse(_s(375, 445, 425, 495), fill=_darker(c, 0.3))


def _jar(d: ImageDraw.ImageDraw, c: Colour) -> None:
    d.rounded_rectangle(_s(250, 290, 550, 630), 70 * _SCALE, fill=c)
    d.rounded_rectangle(_s(270, 420, 530, 540), 10 * _SCALE, fill=(246, 238, 220))
    d.rectangle(_s(280, 230, 520, 300), fill=(120, 70, 30))
    d.ellipse(_s(390, 455, 410, 505), fill=(230, 170, 40))
    d.arc(_s(260, 310, 540, 620), 200, 240, fill=_lighter(c, 0.5), width=12 * _SCALE)


def _cookies(d: ImageDraw.ImageDraw, c: Colour) -> None:
    d.rounded_rectangle(_s(140, 300, 660, 620), 20 * _SCALE, fill=(140, 30, 30))
    d.rounded_rectangle(_s(160, 320, 640, 600), 14 * _SCALE, fill=(246, 238, 220))
    for row in range(3):
        for col in range(4):
            x, y = 180 + col * 115, 335 + row * 88
            d.ellipse(_s(x, y, x + 95, y + 78), fill=c)
            d.ellipse(_s(x + 35, y + 27, x + 60, y + 50), fill=_darker(c, 0.25))


def _mooncakes(d: ImageDraw.ImageDraw, c: Colour) -> None:
    d.rounded_rectangle(_s(130, 290, 670, 630), 24 * _SCALE, fill=c)
    d.rounded_rectangle(_s(155, 315, 645, 605), 16 * _SCALE, fill=(214, 170, 70))
    for x, y in ((190, 340), (420, 340), (190, 470), (420, 470)):
        d.ellipse(_s(x, y, x + 190, y + 120), fill=(186, 120, 50))
        d.ellipse(_s(x + 25, y + 15, x + 165, y + 105), outline=(150, 90, 30), width=6 * _SCALE)
        d.ellipse(_s(x + 75, y + 45, x + 115, y + 75), fill=(150, 90, 30))


DRAWINGS: dict[str, Callable[[ImageDraw.ImageDraw, Colour], None]] = {
    "tin": _tin,
    "box": _box,
    "cake": _cake,
    "cup": _cup,
    "teapot": _teapot,
    "glass_teapot": _glass_teapot,
    "tea_set": _tea_set,
    "tray": _tray,
    "scarf": _scarf,
    "bag": _bag,
    "jar": _jar,
    "cookies": _cookies,
    "mooncakes": _mooncakes,
}


def product_picture(kind: str, colour: Colour, backdrop: Colour | None = None) -> bytes:
    """A JPEG of one ``kind`` of object (a key of ``DRAWINGS``) in ``colour``, on a backdrop
    tinted by ``backdrop`` (the object's colour when not given)."""
    image = _backdrop(backdrop or colour)
    _shadow(image, tuple(_s(170, 590, 630, 680)))
    DRAWINGS[kind](ImageDraw.Draw(image), colour)
    image = image.resize((SIZE, SIZE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=86)
    return out.getvalue()
