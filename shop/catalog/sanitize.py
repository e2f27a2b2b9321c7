"""Product descriptions: basic formatting kept, everything else stripped (nh3).

Cleaned when saved and again when shown (the ``clean_html`` filter): a description that
reached the database another way (an import, a SQL fix) still cannot run script in a page.
"""

import nh3
from markupsafe import Markup

ALLOWED_TAGS = {
    "p",
    "br",
    "strong",
    "b",
    "em",
    "i",
    "u",
    "ul",
    "ol",
    "li",
    "h3",
    "h4",
    "blockquote",
    "a",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}}


def clean_html(html: str | None) -> str:
    return nh3.clean(
        html or "",
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )


def clean_markup(html: str | None) -> Markup:
    """The ``clean_html`` template filter: cleaned HTML, safe to output."""
    return Markup(clean_html(html))
