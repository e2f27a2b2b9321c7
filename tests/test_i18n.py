"""English and Simplified Chinese: the browser's language picks, /lang/<code> overrides, and the
zh_Hans_CN catalogue translates every string the interface has, placeholders intact.

The pages are rendered with a catalogue compiled here from ``translations/*.po``, so a stale or
missing ``.mo`` in the working tree (``make translations`` builds it) cannot hide a broken
``.po``; Flask-Admin's own strings come from the catalogue Flask-Admin ships.
"""

from __future__ import annotations

import html
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from distribution.factories import make_guide
from shop.demo.factories import make_staff
from shop.extensions import babel, db
from shop.staff.models import Role
from tests.support.shop import checkout_form, small_catalog

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "translations" / "zh_Hans_CN" / "LC_MESSAGES" / "messages.po"
ZH = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}
PASSWORD = "siyu-i18n-password"
PLACEHOLDER = re.compile(r"%(?:\((\w+)\))?[-#0 +]*\d*(?:\.\d+)?([diouxXeEfFgGcrs%])")


def _catalog():
    with PO.open("rb") as fh:
        return read_po(fh, locale="zh_Hans_CN")


def _placeholders(text: str) -> list[tuple[str, str]]:
    """Named placeholders with their conversion, and each literal %% (sorted: order may change)."""
    return sorted((m.group(1) or "", m.group(2)) for m in PLACEHOLDER.finditer(text))


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("translations")
    target = directory / "zh_Hans_CN" / "LC_MESSAGES"
    target.mkdir(parents=True)
    with (target / "messages.mo").open("wb") as fh:
        write_mo(fh, _catalog())
    return directory


@pytest.fixture
def app_config(app_config, compiled):
    return {**app_config, "BABEL_TRANSLATION_DIRECTORIES": str(compiled)}


@pytest.fixture
def fresh_translations(app):
    """Flask-Babel caches loaded catalogues per process: load ours, and leave none behind."""
    with app.app_context():
        cache = babel.domain_instance.cache
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def shop(app, fresh_translations):
    """Ids only; no app context stays pushed (it would carry one request's locale to the next)."""
    with app.app_context():
        store, _category, product = small_catalog(stock_qty=5, price=9900)
        owner = make_staff("owner@i18n.example", PASSWORD, Role.OWNER)
        make_guide(store, "Li Na", email="li.na@i18n.example", password=PASSWORD)
        db.session.commit()
        return {
            "store": store.id,
            "product": product.slug,
            "variant": product.variants[0].id,
            "owner": owner.email,
        }


def _text(response) -> str:
    assert response.status_code == 200, response.status_code
    return html.unescape(response.get_data(as_text=True))


def test_the_storefront_speaks_the_browsers_chinese(client, shop):
    home = _text(client.get("/", headers=ZH))
    assert '<html lang="zh-CN">' in home
    for words in ("新品上架", "搜索商品", "购物车", "我的订单"):
        assert words in home

    product = _text(client.get(f"/p/{shop['product']}", headers=ZH))
    for words in ("立即购买", "加入购物车", "仅剩 5 件", "暂无评价。", "评价"):
        assert words in product
    assert "Buy now" not in product and "Add to basket" not in product

    checkout = _text(
        client.get("/checkout", query_string={"variant": shop["variant"], "qty": 1}, headers=ZH)
    )
    for words in ("结算", "手机号", "姓名", "门店自提", "快递配送", "提交订单", "合计"):
        assert words in checkout
    assert "（满 ¥99.00 包邮）" in checkout  # full-width brackets
    assert "Place order" not in checkout


def test_bad_input_is_refused_in_chinese(client, shop):
    form = checkout_form(shop["variant"], shop["store"], phone="12345")
    response = client.post("/checkout", data=form, headers=ZH)
    assert response.status_code == 422
    assert "请输入有效的手机号" in html.unescape(response.get_data(as_text=True))


def test_the_order_page_is_in_chinese(client, shop):
    response = client.post(
        "/checkout", data=checkout_form(shop["variant"], shop["store"]), headers=ZH
    )
    assert response.status_code == 303
    page = _text(client.get(response.headers["Location"], headers=ZH))
    assert "下单成功。请到店自提时付款" in page
    assert "待付款" in page


def test_the_admin_speaks_chinese_with_flask_admins_own_words(client, shop):
    login = _text(client.get("/admin/login", headers=ZH))
    for words in ("员工登录", "邮箱", "密码", "登录"):
        assert words in login

    response = client.post(
        "/admin/login", data={"email": shop["owner"], "password": PASSWORD}, headers=ZH
    )
    assert response.status_code == 302
    products = _text(client.get("/admin/products/", headers=ZH))
    # Siyu's menu and column labels, then Flask-Admin's built-in "List", "Create", "Export".
    for words in ("商品", "交易", "操作日志", "名称", "分类", "价格", "库存", "退出登录"):
        assert words in products
    for words in ("列表", "新建"):
        assert words in products


def test_the_guide_workbench_is_in_chinese(client, shop):
    page = _text(client.get("/guide/login", headers=ZH))
    for words in ("导购登录", "邮箱", "密码", "加入推广计划"):
        assert words in page
    response = client.post(
        "/guide/login", data={"email": "li.na@i18n.example", "password": PASSWORD}, headers=ZH
    )
    assert response.status_code == 302
    page = _text(client.get("/guide", headers=ZH))
    for words in ("工作台", "待结算", "已结算", "已打款", "我的推广链接", "我的客户", "生成链接"):
        assert words in page
    assert "微信群" in page and "朋友圈" in page


def test_the_switch_overrides_the_browser_language(client, shop):
    response = client.get("/lang/en", query_string={"next": "/"}, headers=ZH)
    assert response.status_code == 302
    home = _text(client.get("/", headers=ZH))
    assert '<html lang="en">' in home and "New in" in home and "新品上架" not in home

    client.get("/lang/zh_Hans_CN", headers={"Accept-Language": "en-US"})
    home = _text(client.get("/", headers={"Accept-Language": "en-US"}))
    assert "新品上架" in home and "New in" not in home


def test_an_english_browser_gets_english(client, shop):
    home = _text(client.get("/", headers={"Accept-Language": "en-GB,en;q=0.9"}))
    assert "New in" in home and "新品上架" not in home


def test_every_message_has_a_chinese_translation_with_the_same_placeholders():
    catalog = _catalog()
    assert catalog.num_plurals == 1
    problems = []
    for message in catalog:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy or not all(s.strip() for s in strings):
            problems.append(f"untranslated or fuzzy: {ids[0]!r}")
            continue
        if len(strings) != 1:
            problems.append(f"Chinese has one plural form: {ids[0]!r}")
        # One Chinese form serves every count, so it carries the plural's placeholders.
        expected = _placeholders(ids[-1])
        names = {name for name, _conv in expected}
        expected += [p for p in _placeholders(ids[0]) if p[0] not in names]
        if _placeholders(strings[0]) != sorted(expected):
            problems.append(f"placeholders differ: {ids[0]!r} -> {strings[0]!r}")
    # Babel's own checks, the ones `pybabel compile` reports as errors.
    problems += [
        f"{message.id!r}: {error}" for message, errors in catalog.check() for error in errors
    ]
    assert not problems, "\n".join(problems)


def test_the_catalogue_covers_every_string_in_the_code(tmp_path):
    """What `make messages` extracts today is all in the .po (run it and translate if not)."""
    makefile = (ROOT / "Makefile").read_text()
    line = next(row.strip() for row in makefile.splitlines() if "pybabel extract" in row.strip())
    args = shlex.split(line)[1:]
    args[args.index("-o") + 1] = str(tmp_path / "messages.pot")
    pybabel = Path(sys.executable).with_name("pybabel")
    subprocess.run([str(pybabel), *args], cwd=ROOT, check=True, capture_output=True)
    with (tmp_path / "messages.pot").open("rb") as fh:
        extracted = read_po(fh)
    translated = {(m.context, m.id) for m in _catalog() if m.id}
    missing = [m.id for m in extracted if m.id and (m.context, m.id) not in translated]
    assert not missing, f"not in {PO.relative_to(ROOT)} (run make messages): {missing}"
