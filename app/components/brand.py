"""The app's favicon, drawn here: a material-icon favicon would be fetched from Google's CDN on
every page load, which an offline data machine cannot reach (and need not tell)."""

from __future__ import annotations

from functools import cache

from PIL import Image, ImageDraw

BRAND_COLOR = "#0f766e"  # streamlit_config.toml's primaryColor


@cache
def favicon() -> Image.Image:
    """A 64 px teal tile with a white open hand (palm, four fingers, thumb)."""
    image = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((0, 0, 63, 63), radius=14, fill=BRAND_COLOR)
    draw.rounded_rectangle((20, 30, 46, 56), radius=9, fill="white")
    for x, top in ((20, 14), (27, 9), (34, 10), (41, 15)):
        draw.rounded_rectangle((x, top, x + 5, 38), radius=3, fill="white")
    draw.line((23, 46, 11, 30), fill="white", width=6)  # the thumb
    return image
