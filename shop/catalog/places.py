"""Known cities, in Chinese and English: what a product page may name as a buyer's place.

The "someone in <city> just bought" line never shows what a buyer typed (an ad, a WeChat id,
a formula): a typed city is only matched against this list, and an unknown one names nothing.
``known_city("杭州市")``, ``known_city(" hangzhou ")``, ``known_city("浙江省杭州市")`` and
``known_city("浙江省 杭州市 西湖区")`` are all Hangzhou; ``known_city("加微信 abc123")`` is None.

The list holds the municipalities, the provincial capitals and China's other large cities
(prefecture level), with Hong Kong and Macau.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache

from flask_babel import get_locale


@dataclass(frozen=True)
class City:
    zh: str
    en: str

    def name(self, locale: str | None = None) -> str:
        """The name in ``locale`` (default: the reader's)."""
        language = str(locale or get_locale() or "zh")
        return self.zh if language.startswith("zh") else self.en


CITIES: tuple[City, ...] = tuple(
    City(zh, en)
    for zh, en in (
        ("北京", "Beijing"),
        ("上海", "Shanghai"),
        ("天津", "Tianjin"),
        ("重庆", "Chongqing"),
        ("香港", "Hong Kong"),
        ("澳门", "Macau"),
        ("广州", "Guangzhou"),
        ("深圳", "Shenzhen"),
        ("珠海", "Zhuhai"),
        ("佛山", "Foshan"),
        ("东莞", "Dongguan"),
        ("中山", "Zhongshan"),
        ("惠州", "Huizhou"),
        ("江门", "Jiangmen"),
        ("汕头", "Shantou"),
        ("湛江", "Zhanjiang"),
        ("杭州", "Hangzhou"),
        ("宁波", "Ningbo"),
        ("温州", "Wenzhou"),
        ("绍兴", "Shaoxing"),
        ("嘉兴", "Jiaxing"),
        ("湖州", "Huzhou"),
        ("金华", "Jinhua"),
        ("台州", "Taizhou"),
        ("南京", "Nanjing"),
        ("苏州", "Suzhou"),
        ("无锡", "Wuxi"),
        ("常州", "Changzhou"),
        ("南通", "Nantong"),
        ("扬州", "Yangzhou"),
        ("徐州", "Xuzhou"),
        ("镇江", "Zhenjiang"),
        ("盐城", "Yancheng"),
        ("合肥", "Hefei"),
        ("芜湖", "Wuhu"),
        ("福州", "Fuzhou"),
        ("厦门", "Xiamen"),
        ("泉州", "Quanzhou"),
        ("南昌", "Nanchang"),
        ("赣州", "Ganzhou"),
        ("济南", "Jinan"),
        ("青岛", "Qingdao"),
        ("烟台", "Yantai"),
        ("潍坊", "Weifang"),
        ("威海", "Weihai"),
        ("临沂", "Linyi"),
        ("郑州", "Zhengzhou"),
        ("洛阳", "Luoyang"),
        ("开封", "Kaifeng"),
        ("武汉", "Wuhan"),
        ("宜昌", "Yichang"),
        ("襄阳", "Xiangyang"),
        ("长沙", "Changsha"),
        ("株洲", "Zhuzhou"),
        ("岳阳", "Yueyang"),
        ("南宁", "Nanning"),
        ("桂林", "Guilin"),
        ("柳州", "Liuzhou"),
        ("海口", "Haikou"),
        ("三亚", "Sanya"),
        ("成都", "Chengdu"),
        ("绵阳", "Mianyang"),
        ("贵阳", "Guiyang"),
        ("遵义", "Zunyi"),
        ("昆明", "Kunming"),
        ("大理", "Dali"),
        ("丽江", "Lijiang"),
        ("拉萨", "Lhasa"),
        ("西安", "Xi'an"),
        ("宝鸡", "Baoji"),
        ("兰州", "Lanzhou"),
        ("西宁", "Xining"),
        ("银川", "Yinchuan"),
        ("乌鲁木齐", "Urumqi"),
        ("呼和浩特", "Hohhot"),
        ("包头", "Baotou"),
        ("石家庄", "Shijiazhuang"),
        ("唐山", "Tangshan"),
        ("保定", "Baoding"),
        ("秦皇岛", "Qinhuangdao"),
        ("太原", "Taiyuan"),
        ("大同", "Datong"),
        ("沈阳", "Shenyang"),
        ("大连", "Dalian"),
        ("鞍山", "Anshan"),
        ("长春", "Changchun"),
        ("吉林", "Jilin"),
        ("哈尔滨", "Harbin"),
        ("大庆", "Daqing"),
    )
)

# A province, region or country said before the city ("浙江省杭州市", "中国上海").
_PREFIX = re.compile(r"^(?:中国)?(?:[\u4e00-\u9fff]{2,3}省|[\u4e00-\u9fff]{2,5}自治区)?")
_LATIN_SUFFIX = re.compile(r"(?:city|shi)$")


def _key(text: str) -> str:
    return re.sub(r"[\s\-'’·.,]", "", unicodedata.normalize("NFKC", text)).lower()


@cache
def _index() -> dict[str, City]:
    index: dict[str, City] = {}
    for city in CITIES:
        index[_key(city.zh)] = city
        index[_key(city.en)] = city
    index["xian"] = index[_key("Xi'an")]
    index["macao"] = index[_key("Macau")]
    index["urumchi"] = index[_key("Urumqi")]
    return index


def known_city(text: str | None) -> City | None:
    """The known city ``text`` names, or None: never the text itself."""
    key = _key(text or "")
    if not key or len(key) > 40:
        return None
    index = _index()
    for candidate in (key, _LATIN_SUFFIX.sub("", key)):
        if candidate in index:
            return index[candidate]
    local = _PREFIX.sub("", key)
    for candidate in (local, local.removesuffix("市")):
        if candidate in index:
            return index[candidate]
    city, said, _district = local.partition("市")  # "广州市天河区": a city and its district
    if said and city in index:
        return index[city]
    return None
