"""A realistic generated demo shop: the app's first-start data and every benchmark's data.

`generate_shop(customers, seed, end_date)` returns one DataFrame per table (columns named
as in crm_core/models.py, ready for `db.bulk_insert`); the same arguments give identical
frames. `load_shop(engine, frames)` writes them in one transaction.

The shop sells snacks, drinks, household and kitchen goods, mother-and-baby products and
apparel to customers all over mainland China, online, in its stores and through WeCom.
Everything happens in the three years that end on `end_date`:

- customers sign up at a growing rate; each has a channel, a home province and city,
  a Chinese name, a mobile number, sometimes an e-mail address, a birthday, a gender
  ('F'/'M', sometimes unknown) and opt-outs per contact channel;
- orders follow `OrderCountModel`: a few customers never buy, many buy once, the rest
  keep buying at a heavy-tailed personal rate until they lapse. Order days follow the
  Chinese retail calendar (11.11, 618, 12.12, Women's Day, the New-Year-goods season
  before the Spring Festival and the quiet holiday itself) and hours follow the day's
  rhythm. amount is the money paid after `discount`; most orders are paid, some stay
  unpaid or are cancelled; refunds are separate rows (status 'refunded', amount = money
  returned, `refund_of` = the paid order) a few days after the purchase;
- browse/cart/favourite events cluster in the last months, also from customers who
  never bought; service tickets (logistics, quality, return, consultation) have a
  priority, first-response and resolution times (some late, some still open), CSAT 1-5
  and complaint flags that go with quality problems and low CSAT;
- campaigns on SMS, e-mail and WeCom target broad, win-back, new-customer, VIP and
  women's-day audiences with A/B variants and a holdout control group (never sent);
  treated customers buy a little more during the campaign (those orders carry the
  campaign_id), so campaign analyses find a real effect;
- NPS survey answers (0-10, some with CSAT and a comment) follow orders and tickets;
  customers who complained answer lower.

Generation is vectorised NumPy. Customer attributes are drawn for all customers at
once; orders and everything that depends on them are drawn per block of
`BLOCK_CUSTOMERS` customers (each block with its own random stream), so memory stays
bounded and the result does not depend on the machine.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
from sqlalchemy import Connection, Engine, select

from crm_core.errors import CrmError
from crm_core.store import bulk_insert, bulk_load, bulk_transaction, bump_data_version, models
from crm_core.store.settings import write_setting

DEFAULT_END_DATE = dt.date(2026, 10, 31)
HISTORY_YEARS = 3
BLOCK_CUSTOMERS = 50_000
DEMO_SHOP_SETTING = "demo_shop"

LOAD_ORDER = (
    "customers",
    "campaigns",
    "orders",
    "events",
    "tickets",
    "campaign_touches",
    "survey_responses",
)
"""Tables in foreign-key order (parents first)."""

STR_DTYPE = pd.StringDtype("pyarrow", na_value=np.nan)
SECONDS_PER_DAY = 86_400
_KEY_STRIDE = 8192.0  # > days of history: customer * stride + day is a sortable key


class StoreNotEmptyError(CrmError):
    """The demo shop is only loaded into a store without customers or orders."""


@dataclass(frozen=True)
class OrderCountModel:
    """How many orders (any status, refunds not counted) each customer places.

    never_buyer_share: share of customers who sign up (some browse) but never order.
    one_time_share: share who order exactly once by construction.
    The rest repeat: after the first order they keep ordering at a personal rate
    (orders per year, lognormal with log-sd `rate_sigma`, i.e. a heavy tail of very
    frequent buyers) for an active life after the first order that is exponential with
    mean `active_years_mean` years, or until the history ends. Rates are scaled so that
    the mean number of orders per customer is `mean_orders`. A repeat customer whose
    draw gives no further order also buys once, so the share of single-purchase
    customers ends up somewhat above `one_time_share / (1 - never_buyer_share)`;
    customers whose first order would fall after the end date never buy.
    max_orders caps one customer's orders.
    """

    mean_orders: float = 10.0
    never_buyer_share: float = 0.06
    one_time_share: float = 0.46
    rate_sigma: float = 1.0
    active_years_mean: float = 1.5
    max_orders: int = 600


# --- reference data ---------------------------------------------------------------

CHANNEL_WEIGHTS = np.array([0.55, 0.30, 0.15])  # models.CHANNELS: online, store, wecom
ORDER_CHANNEL_WEIGHTS = np.array([0.62, 0.24, 0.14])
STATUSES = models.ORDER_STATUSES  # paid, unpaid, cancelled, refunded
PAID, UNPAID, CANCELLED, REFUNDED = range(4)

# (name, share of orders, median list price in CNY, log-sd of price, refund probability,
#  SKU code prefix)
CATEGORIES: tuple[tuple[str, float, float, float, float, str], ...] = (
    ("休闲零食", 0.24, 49.0, 0.55, 0.02, "SN"),
    ("酒水饮料", 0.08, 79.0, 0.60, 0.02, "DR"),
    ("家居日用", 0.16, 89.0, 0.70, 0.04, "HH"),
    ("厨房用品", 0.08, 139.0, 0.75, 0.05, "KT"),
    ("母婴用品", 0.14, 169.0, 0.70, 0.04, "MB"),
    ("奶粉辅食", 0.08, 259.0, 0.45, 0.015, "BF"),
    ("童装童鞋", 0.08, 129.0, 0.55, 0.10, "KA"),
    ("女装", 0.10, 219.0, 0.65, 0.14, "WA"),
    ("男装", 0.04, 239.0, 0.60, 0.11, "MA"),
)
CATEGORY_NAMES = [c[0] for c in CATEGORIES]
CATEGORY_SHARES = np.array([c[1] for c in CATEGORIES])
CATEGORY_LOG_MEDIAN = np.log([c[2] for c in CATEGORIES])
CATEGORY_LOG_SD = np.array([c[3] for c in CATEGORIES])
CATEGORY_REFUND_P = np.array([c[4] for c in CATEGORIES])
CATEGORY_SKU_PREFIX = [c[5] for c in CATEGORIES]
SKUS_PER_CATEGORY = 600

# (province, city, weight): population in 100k, tier-1 cities weighted up for e-commerce
CITIES: tuple[tuple[str, str, float], ...] = (
    ("广东省", "广州市", 28.0),
    ("广东省", "深圳市", 26.5),
    ("广东省", "东莞市", 10.5),
    ("广东省", "佛山市", 9.5),
    ("广东省", "惠州市", 6.0),
    ("广东省", "汕头市", 5.5),
    ("广东省", "中山市", 4.4),
    ("广东省", "珠海市", 2.4),
    ("山东省", "青岛市", 10.1),
    ("山东省", "济南市", 9.2),
    ("山东省", "临沂市", 11.0),
    ("山东省", "潍坊市", 9.4),
    ("山东省", "烟台市", 7.1),
    ("河南省", "郑州市", 12.6),
    ("河南省", "南阳市", 9.7),
    ("河南省", "洛阳市", 7.1),
    ("河南省", "新乡市", 6.2),
    ("江苏省", "苏州市", 12.7),
    ("江苏省", "南京市", 9.3),
    ("江苏省", "徐州市", 9.0),
    ("江苏省", "南通市", 7.7),
    ("江苏省", "无锡市", 7.5),
    ("江苏省", "常州市", 5.3),
    ("四川省", "成都市", 21.0),
    ("四川省", "南充市", 5.6),
    ("四川省", "绵阳市", 4.9),
    ("四川省", "宜宾市", 4.6),
    ("河北省", "石家庄市", 11.2),
    ("河北省", "邯郸市", 9.4),
    ("河北省", "保定市", 9.2),
    ("河北省", "唐山市", 7.7),
    ("湖南省", "长沙市", 10.0),
    ("湖南省", "衡阳市", 6.6),
    ("湖南省", "岳阳市", 5.1),
    ("湖南省", "株洲市", 3.9),
    ("浙江省", "杭州市", 18.3),
    ("浙江省", "宁波市", 9.6),
    ("浙江省", "温州市", 9.6),
    ("浙江省", "金华市", 7.1),
    ("浙江省", "嘉兴市", 5.5),
    ("浙江省", "绍兴市", 5.3),
    ("安徽省", "合肥市", 9.4),
    ("安徽省", "阜阳市", 8.2),
    ("安徽省", "芜湖市", 3.6),
    ("湖北省", "武汉市", 12.3),
    ("湖北省", "襄阳市", 5.3),
    ("湖北省", "宜昌市", 4.0),
    ("广西壮族自治区", "南宁市", 8.7),
    ("广西壮族自治区", "桂林市", 4.9),
    ("广西壮族自治区", "柳州市", 4.2),
    ("云南省", "昆明市", 8.5),
    ("云南省", "曲靖市", 5.8),
    ("云南省", "大理白族自治州", 3.3),
    ("江西省", "赣州市", 9.0),
    ("江西省", "南昌市", 6.3),
    ("江西省", "九江市", 4.6),
    ("辽宁省", "沈阳市", 9.1),
    ("辽宁省", "大连市", 7.5),
    ("辽宁省", "鞍山市", 3.3),
    ("福建省", "泉州市", 8.8),
    ("福建省", "福州市", 8.3),
    ("福建省", "厦门市", 5.2),
    ("陕西省", "西安市", 12.9),
    ("陕西省", "咸阳市", 4.2),
    ("陕西省", "宝鸡市", 3.3),
    ("黑龙江省", "哈尔滨市", 10.0),
    ("黑龙江省", "齐齐哈尔市", 4.1),
    ("黑龙江省", "大庆市", 2.8),
    ("山西省", "太原市", 5.3),
    ("山西省", "运城市", 4.8),
    ("山西省", "大同市", 3.1),
    ("贵州省", "遵义市", 6.6),
    ("贵州省", "贵阳市", 6.0),
    ("重庆市", "重庆市", 32.1),
    ("吉林省", "长春市", 9.1),
    ("吉林省", "吉林市", 3.6),
    ("甘肃省", "兰州市", 4.4),
    ("甘肃省", "天水市", 3.0),
    ("内蒙古自治区", "呼和浩特市", 3.5),
    ("内蒙古自治区", "包头市", 2.7),
    ("内蒙古自治区", "鄂尔多斯市", 2.2),
    ("新疆维吾尔自治区", "乌鲁木齐市", 4.1),
    ("新疆维吾尔自治区", "昌吉回族自治州", 1.6),
    ("上海市", "上海市", 37.0),
    ("北京市", "北京市", 33.0),
    ("天津市", "天津市", 13.9),
    ("海南省", "海口市", 2.9),
    ("海南省", "三亚市", 1.0),
    ("宁夏回族自治区", "银川市", 2.9),
    ("青海省", "西宁市", 2.5),
    ("西藏自治区", "拉萨市", 0.9),
)

# (surname, pinyin, weight in % of the population)
SURNAMES: tuple[tuple[str, str, float], ...] = (
    ("王", "wang", 7.1), ("李", "li", 7.0), ("张", "zhang", 6.7), ("刘", "liu", 5.4),
    ("陈", "chen", 4.5), ("杨", "yang", 3.1), ("黄", "huang", 2.2), ("赵", "zhao", 2.0),
    ("吴", "wu", 1.9), ("周", "zhou", 1.9), ("徐", "xu", 1.3), ("孙", "sun", 1.3),
    ("马", "ma", 1.1), ("朱", "zhu", 1.1), ("胡", "hu", 1.0), ("郭", "guo", 1.0),
    ("何", "he", 0.9), ("林", "lin", 0.9), ("高", "gao", 0.9), ("罗", "luo", 0.8),
    ("郑", "zheng", 0.8), ("梁", "liang", 0.7), ("谢", "xie", 0.6), ("宋", "song", 0.6),
    ("唐", "tang", 0.6), ("许", "xu", 0.5), ("邓", "deng", 0.5), ("冯", "feng", 0.5),
    ("韩", "han", 0.5), ("曹", "cao", 0.5), ("曾", "zeng", 0.45), ("彭", "peng", 0.45),
    ("肖", "xiao", 0.4), ("蔡", "cai", 0.4), ("潘", "pan", 0.4), ("田", "tian", 0.4),
    ("董", "dong", 0.4), ("袁", "yuan", 0.4), ("于", "yu", 0.38), ("余", "yu", 0.36),
    ("叶", "ye", 0.35), ("蒋", "jiang", 0.35), ("杜", "du", 0.35), ("苏", "su", 0.33),
    ("魏", "wei", 0.32), ("程", "cheng", 0.32), ("吕", "lv", 0.3), ("丁", "ding", 0.3),
    ("沈", "shen", 0.28), ("任", "ren", 0.27), ("姚", "yao", 0.27), ("卢", "lu", 0.26),
    ("傅", "fu", 0.25), ("钟", "zhong", 0.25), ("姜", "jiang", 0.24), ("崔", "cui", 0.23),
    ("谭", "tan", 0.23), ("廖", "liao", 0.22), ("范", "fan", 0.21), ("汪", "wang", 0.21),
    ("陆", "lu", 0.2), ("金", "jin", 0.2), ("石", "shi", 0.2), ("戴", "dai", 0.18),
    ("贾", "jia", 0.18), ("韦", "wei", 0.17), ("夏", "xia", 0.17), ("邱", "qiu", 0.17),
    ("方", "fang", 0.17), ("侯", "hou", 0.16), ("邹", "zou", 0.16), ("熊", "xiong", 0.15),
    ("孟", "meng", 0.15), ("秦", "qin", 0.15), ("白", "bai", 0.15), ("江", "jiang", 0.15),
    ("薛", "xue", 0.14), ("尹", "yin", 0.14), ("段", "duan", 0.13), ("雷", "lei", 0.13),
    ("黎", "li", 0.12), ("史", "shi", 0.12), ("龙", "long", 0.12), ("陶", "tao", 0.12),
    ("贺", "he", 0.12), ("顾", "gu", 0.12), ("毛", "mao", 0.11), ("郝", "hao", 0.11),
    ("龚", "gong", 0.11), ("邵", "shao", 0.11), ("万", "wan", 0.1), ("钱", "qian", 0.1),
    ("严", "yan", 0.1), ("欧阳", "ouyang", 0.05), ("司马", "sima", 0.01),
)  # fmt: skip
FEMALE_GIVEN: tuple[tuple[str, str], ...] = (
    ("芳", "fang"), ("娜", "na"), ("敏", "min"), ("静", "jing"), ("丽", "li"), ("艳", "yan"),
    ("娟", "juan"), ("霞", "xia"), ("婷", "ting"), ("雪", "xue"), ("琳", "lin"), ("晶", "jing"),
    ("颖", "ying"), ("倩", "qian"), ("洁", "jie"), ("玲", "ling"), ("欣", "xin"), ("怡", "yi"),
    ("萍", "ping"), ("燕", "yan"), ("红", "hong"), ("梅", "mei"), ("莉", "li"), ("慧", "hui"),
    ("佳", "jia"), ("雨", "yu"), ("思", "si"), ("梦", "meng"), ("璐", "lu"), ("晓", "xiao"),
    ("诗", "shi"), ("涵", "han"), ("悦", "yue"), ("瑶", "yao"), ("蕾", "lei"), ("菲", "fei"),
    ("琪", "qi"), ("嘉", "jia"), ("楠", "nan"), ("彤", "tong"),
)  # fmt: skip
MALE_GIVEN: tuple[tuple[str, str], ...] = (
    ("伟", "wei"), ("强", "qiang"), ("磊", "lei"), ("军", "jun"), ("洋", "yang"), ("勇", "yong"),
    ("杰", "jie"), ("涛", "tao"), ("明", "ming"), ("超", "chao"), ("刚", "gang"), ("平", "ping"),
    ("辉", "hui"), ("鹏", "peng"), ("华", "hua"), ("飞", "fei"), ("鑫", "xin"), ("波", "bo"),
    ("斌", "bin"), ("宇", "yu"), ("浩", "hao"), ("凯", "kai"), ("健", "jian"), ("俊", "jun"),
    ("帆", "fan"), ("帅", "shuai"), ("旭", "xu"), ("宁", "ning"), ("龙", "long"), ("林", "lin"),
    ("博", "bo"), ("文", "wen"), ("志", "zhi"), ("海", "hai"), ("峰", "feng"), ("建", "jian"),
    ("国", "guo"), ("东", "dong"), ("晨", "chen"), ("轩", "xuan"),
)  # fmt: skip

# Mobile number prefixes of China Mobile, Unicom, Telecom and Broadnet.
PHONE_PREFIXES = np.array(
    [130, 131, 132, 133, 134, 135, 136, 137, 138, 139, 147, 150, 151, 152, 153, 155, 156,
     157, 158, 159, 166, 173, 175, 176, 177, 178, 180, 181, 182, 183, 184, 185, 186, 187,
     188, 189, 191, 192, 193, 195, 196, 197, 198, 199],
    dtype=np.int64,
)  # fmt: skip
EMAIL_DOMAINS = ("qq.com", "163.com", "126.com", "sina.com", "foxmail.com", "outlook.com",
                 "hotmail.com", "gmail.com")  # fmt: skip
EMAIL_DOMAIN_WEIGHTS = np.array([0.45, 0.22, 0.10, 0.05, 0.05, 0.05, 0.04, 0.04])

# Share of a day's orders in each hour (0-23): quiet nights, late-morning and evening peaks.
HOUR_WEIGHTS = np.array(
    [0.9, 0.5, 0.3, 0.2, 0.15, 0.2, 0.5, 1.2, 2.2, 3.2, 4.0, 4.2,
     3.8, 3.5, 3.6, 3.7, 3.6, 3.5, 3.8, 4.6, 5.6, 6.2, 5.2, 2.6]
)  # fmt: skip

# Spring Festival (Chinese New Year) dates.
SPRING_FESTIVALS = tuple(
    dt.date.fromisoformat(d)
    for d in (
        "2018-02-16", "2019-02-05", "2020-01-25", "2021-02-12", "2022-02-01", "2023-01-22",
        "2024-02-10", "2025-01-29", "2026-02-17", "2027-02-06", "2028-01-26", "2029-02-13",
        "2030-02-03", "2031-01-23", "2032-02-11", "2033-01-31", "2034-02-19", "2035-02-08",
    )
)  # fmt: skip

TICKET_TYPES = models.TICKET_TYPES  # logistics, quality, return, consultation
PRIORITIES = models.TICKET_PRIORITIES  # low, normal, high, urgent
# P(priority | ticket type), rows in TICKET_TYPES order.
PRIORITY_BY_TYPE = np.array(
    [[0.15, 0.55, 0.22, 0.08], [0.10, 0.45, 0.30, 0.15], [0.20, 0.60, 0.15, 0.05],
     [0.45, 0.50, 0.05, 0.00]]
)  # fmt: skip
FIRST_RESPONSE_MEDIAN_HOURS = np.array([6.0, 3.0, 1.0, 0.5])  # by priority
RESOLUTION_MEDIAN_HOURS = np.array([20.0, 48.0, 60.0, 1.5])  # by type, after first response
CSAT_BASE_BY_TYPE = np.array([4.7, 4.2, 4.5, 4.9])  # latent mean by type
ANGRY_BY_TYPE = np.array([0.05, 0.12, 0.07, 0.02])  # share who rate 1-2 whatever happens
COMPLAINT_BASE_BY_TYPE = np.array([0.10, 0.25, 0.12, 0.02])

NPS_PROBABILITIES = np.array(
    [0.02, 0.01, 0.01, 0.02, 0.02, 0.04, 0.05, 0.10, 0.19, 0.20, 0.34]
)  # about +37 among customers without a complaint
NPS_PROBABILITIES_AFTER_COMPLAINT = np.array(
    [0.12, 0.06, 0.08, 0.08, 0.08, 0.10, 0.10, 0.12, 0.10, 0.07, 0.09]
)
COMMENTS = {
    "promoter": ["物流很快，包装很好", "质量不错，会回购", "客服态度很好", "性价比高，推荐给朋友了",
                 "宝宝用着很合适", "零食很新鲜，家里人都爱吃"],
    "passive": ["还可以，价格再优惠点就好了", "一般般，和描述差不多", "物流有点慢",
                "款式不错，尺码偏小"],
    "detractor": ["发货太慢了", "质量一般，有瑕疵", "退款处理太慢", "客服回复不及时",
                  "和图片差别很大", "包装破损"],
}  # fmt: skip

CONTACT_CHANNEL_ZH = {"sms": "短信", "email": "邮件", "wecom": "企微"}
COST_PER_CONTACT = {"sms": 0.05, "email": 0.01, "wecom": 0.12}  # CNY per message sent
RESPONSE_RATE = {"sms": 0.03, "email": 0.015, "wecom": 0.05}  # extra purchase per treated
OPEN_RATE = {"sms": 0.0, "email": 0.22, "wecom": 0.55}  # SMS opens are not tracked
CLICK_RATE = {"sms": 0.03, "email": 0.15, "wecom": 0.20}  # SMS: of sent; else of opened
AUDIENCE_SHARE = {"broad": 0.35, "female": 0.6, "winback": 0.8, "new": 0.9, "vip": 0.9}
AUDIENCE_ZH = {
    "broad": "全体可触达客户抽样",
    "female": "女性客户",
    "winback": "最近60-365天未购买的老客户",
    "new": "近45天注册、至多购买一次的新客户",
    "vip": "活动前累计5单及以上的会员",
}
REGULAR_CAMPAIGNS = (
    ("winback", "sms", "沉睡客户唤醒", "满99减20"),
    ("new", "wecom", "新客复购券", "第二单立减15元"),
    ("vip", "email", "会员日专享", "会员价9折"),
    ("winback", "wecom", "老客回归礼", "无门槛10元券"),
    ("new", "sms", "新人二单礼", "满79减10"),
    ("vip", "wecom", "会员积分加倍", "积分双倍+赠品"),
)


# --- small vectorised helpers ------------------------------------------------------


def _rng(seed: int, *stream: int) -> np.random.Generator:
    """An independent random stream for (seed, stream...)."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=stream))


def _choice(rng: np.random.Generator, weights: np.ndarray, size: int) -> np.ndarray:
    """Indices drawn with probabilities proportional to `weights`."""
    cdf = np.cumsum(weights / np.sum(weights))
    return np.minimum(np.searchsorted(cdf, rng.random(size), side="right"), len(weights) - 1)


def _choice_rows(rng: np.random.Generator, table: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """For each entry of `rows`, an index drawn from that row of the probability `table`."""
    cdf = np.cumsum(table / table.sum(axis=1, keepdims=True), axis=1)
    u = rng.random(len(rows))[:, None]
    return np.minimum((u >= cdf[rows]).sum(axis=1), table.shape[1] - 1)


def _strings(codes: np.ndarray, labels: list[str]) -> pd.Series:
    """A string Series from integer codes into `labels`; negative codes are missing."""
    indices = pa.array(codes.astype(np.int32), mask=codes < 0)
    dictionary = pa.DictionaryArray.from_arrays(indices, pa.array(labels, type=pa.string()))
    return pd.Series(dictionary.cast(pa.string()), dtype=STR_DTYPE)


def _digits(numbers: np.ndarray, width: int, prefix: str = "") -> pd.Series:
    """Non-negative integers as zero-padded decimal strings, after `prefix`."""
    head = prefix.encode("ascii")
    out = np.empty((len(numbers), len(head) + width), dtype=np.uint8)
    out[:, : len(head)] = np.frombuffer(head, dtype=np.uint8)
    rest = numbers.astype(np.int64)
    for position in range(len(head) + width - 1, len(head) - 1, -1):
        out[:, position] = rest % 10 + 48
        rest = rest // 10
    binary = pa.array(out.view(f"S{out.shape[1]}").ravel())
    return pd.Series(binary.cast(pa.string()), dtype=STR_DTYPE)


def _concat(parts: list[np.ndarray], dtype: type | str) -> np.ndarray:
    return np.concatenate(parts).astype(dtype, copy=False) if parts else np.empty(0, dtype)


# --- calendar ----------------------------------------------------------------------


class _Calendar:
    """The history's days and the shop's rhythm.

    Times are drawn as `tau`: days since the first day's midnight, in a time scale in
    which a day's share of orders is spread evenly. `seconds(tau)` maps tau onto clock
    time monotonically (day by day, through the hour-of-day distribution), so anything
    drawn after something else in tau also happens after it on the clock.
    """

    def __init__(self, end_date: dt.date) -> None:
        same_day = (
            end_date.replace(day=28) if (end_date.month, end_date.day) == (2, 29) else end_date
        )
        start = same_day.replace(year=end_date.year - HISTORY_YEARS) + dt.timedelta(days=1)
        self.start_date = start
        self.end_date = end_date
        self.days = (end_date - start).days + 1
        self.start = np.datetime64(start, "us")
        dates = np.datetime64(start, "D") + np.arange(self.days)
        self.day_multiplier = self._order_multiplier(dates)
        self.promo_day = self.day_multiplier >= 1.9
        self.grid = np.arange(self.days + 1, dtype=float)
        self.order_cum = np.concatenate([[0.0], np.cumsum(self.day_multiplier)])
        growth = np.exp(np.log(1.6) * np.arange(self.days) / 365.0)  # signups +60 % a year
        signup_rate = growth * (1.0 + 0.3 * (self.day_multiplier - 1.0))
        self.signup_cum = np.concatenate([[0.0], np.cumsum(signup_rate)])
        self.hour_cdf = np.concatenate([[0.0], np.cumsum(HOUR_WEIGHTS / HOUR_WEIGHTS.sum())])
        self.hour_seconds = np.arange(25) * 3600.0

    @staticmethod
    def _order_multiplier(dates: np.ndarray) -> np.ndarray:
        """Relative order volume of each day (1 = an ordinary weekday)."""
        month = dates.astype("datetime64[M]").astype(int) % 12 + 1
        day = (dates - dates.astype("datetime64[M]")).astype(int) + 1
        weekday = (dates.astype(int) + 3) % 7  # 0 = Monday
        m = np.ones(len(dates))
        m *= np.where(weekday >= 5, 1.08, 1.0)
        m *= np.where((month >= 7) & (month <= 8), 0.92, 1.0)  # summer lull
        m = np.where((month == 10) & (day >= 20), m * 1.15, m)  # 11.11 warm-up
        m = np.where((month == 11) & (day <= 3), m * 2.0, m)  # 11.11 first wave
        m = np.where((month == 11) & (day > 3) & (day <= 10), m * 1.4, m)
        m = np.where((month == 11) & (day == 11), m * 7.0, m)  # Singles' Day
        m = np.where((month == 11) & (day == 12), m * 1.6, m)
        m = np.where((month == 11) & (day > 12) & (day <= 20), m * 0.8, m)
        m = np.where((month == 12) & (day == 12), m * 2.2, m)  # 12.12
        m = np.where((month == 5) & (day >= 25), m * 1.1, m)
        m = np.where((month == 6) & (day < 18), m * 1.35, m)  # 618 presale
        m = np.where((month == 6) & (day == 18), m * 4.5, m)  # 618
        m = np.where((month == 3) & (day == 8), m * 1.9, m)  # Women's Day
        festivals = np.array(SPRING_FESTIVALS, dtype="datetime64[D]")
        nearest = np.searchsorted(festivals, dates)
        next_festival = festivals[np.minimum(nearest, len(festivals) - 1)]
        prev_festival = festivals[np.maximum(nearest - 1, 0)]
        to_next = (next_festival - dates).astype(int)
        since_prev = (dates - prev_festival).astype(int)
        m = np.where((to_next > 10) & (to_next <= 30), m * 1.45, m)  # New-Year goods
        m = np.where((to_next > 0) & (to_next <= 10), m * 0.85, m)  # couriers stop
        m = np.where((since_prev >= 0) & (since_prev <= 7), m * 0.45, m)  # holiday
        m = np.where((since_prev > 7) & (since_prev <= 14), m * 0.8, m)
        return m

    def sample_orders(self, lo: np.ndarray, hi: np.ndarray, u: np.ndarray) -> np.ndarray:
        """tau in [lo, hi) with density proportional to the daily order volume."""
        c_lo = np.interp(lo, self.grid, self.order_cum)
        c_hi = np.interp(hi, self.grid, self.order_cum)
        return np.interp(c_lo + u * (c_hi - c_lo), self.order_cum, self.grid)

    def sample_signups(self, u: np.ndarray) -> np.ndarray:
        """Signup tau over the whole history, growing with the shop."""
        return np.interp(u * self.signup_cum[-1], self.signup_cum, self.grid)

    def day_of(self, tau: np.ndarray) -> np.ndarray:
        return np.clip(np.floor(tau).astype(np.int64), 0, self.days - 1)

    def seconds(self, tau: np.ndarray) -> np.ndarray:
        """Whole seconds since the first day's midnight for tau (NaN stays NaN)."""
        day = np.floor(tau)
        within = np.interp(tau - day, self.hour_cdf, self.hour_seconds)
        return np.floor(day * SECONDS_PER_DAY + np.minimum(within, SECONDS_PER_DAY - 1))

    @property
    def end_seconds(self) -> float:
        """Seconds from the start to the end of end_date (exclusive)."""
        return float(self.days * SECONDS_PER_DAY)

    def timestamps(self, seconds: np.ndarray) -> pd.Series:
        """Clock timestamps from seconds since the start; NaN becomes NaT."""
        missing = np.isnan(seconds)
        whole = np.where(missing, 0, seconds).astype(np.int64)
        values = self.start + whole.astype("timedelta64[s]")
        values[missing] = np.datetime64("NaT")
        return pd.Series(values, dtype="datetime64[us]")

    def tau_of_date(self, date: dt.date) -> float:
        return float((date - self.start_date).days)


# --- customers ---------------------------------------------------------------------


@dataclass
class _Customers:
    """Per-customer arrays (index = customer number - 1, in signup order)."""

    signup: np.ndarray  # tau
    channel: np.ndarray  # index into models.CHANNELS
    gender: np.ndarray  # 0 F, 1 M, -1 unknown
    favourite: np.ndarray  # index into CATEGORIES
    has_email: np.ndarray
    has_wecom: np.ndarray  # reachable on WeCom (added as a contact)
    opt_out: dict[str, np.ndarray]  # by contact channel
    first_order: np.ndarray  # tau, inf for customers who never order
    active_end: np.ndarray  # tau of the last possible order
    order_count: np.ndarray


def _draw_customers(n: int, seed: int, cal: _Calendar, model: OrderCountModel) -> _Customers:
    rng = _rng(seed, 1)
    signup = np.sort(cal.sample_signups(rng.random(n)))
    channel = _choice(rng, CHANNEL_WEIGHTS, n)
    gender = np.where(rng.random(n) < 0.62, 0, 1)
    gender[rng.random(n) < 0.04] = -1
    favourite = _choice(rng, CATEGORY_SHARES, n)
    # Mothers lean to mother-and-baby, men to menswear.
    baby = (gender == 0) & (rng.random(n) < 0.25)
    favourite[baby] = np.where(rng.random(int(baby.sum())) < 0.6, 4, 5)
    menswear = (gender == 1) & (rng.random(n) < 0.15)
    favourite[menswear] = 8
    has_email = rng.random(n) < 0.38
    has_wecom = (channel == 2) | (rng.random(n) < 0.3)
    opt_out = {
        "sms": rng.random(n) < 0.04,
        "email": has_email & (rng.random(n) < 0.03),
        "wecom": has_wecom & (rng.random(n) < 0.02),
    }
    buyer_type = _choice(
        rng,
        np.array(
            [
                model.never_buyer_share,
                model.one_time_share,
                1.0 - model.never_buyer_share - model.one_time_share,
            ]
        ),
        n,
    )
    delay = np.select(
        [channel == 1, channel == 2],
        [rng.uniform(0.002, 0.02, n), rng.exponential(2.0, n)],
        np.where(rng.random(n) < 0.35, rng.uniform(0.002, 0.03, n), rng.exponential(4.0, n)),
    )
    first_order = np.where(buyer_type > 0, signup + delay, np.inf)
    first_order[first_order >= cal.days] = np.inf
    buyer = np.isfinite(first_order)
    repeater = buyer & (buyer_type == 2)
    life = rng.exponential(model.active_years_mean * 365.0, n)
    active_end = np.where(repeater, np.minimum(first_order + life, cal.days), first_order)
    rate = rng.lognormal(0.0, model.rate_sigma, n)
    span_years = np.where(repeater, active_end - np.where(buyer, first_order, 0.0), 0.0) / 365.0
    weight = rate * span_years
    extra_target = max(model.mean_orders * n - buyer.sum(), 0.0)
    cap = model.max_orders - 1
    lo, hi = 0.0, 1.0
    while np.minimum(hi * weight, cap).sum() < extra_target and hi < 1e9:
        hi *= 2.0
    for _ in range(60):
        mid = (lo + hi) / 2.0
        if np.minimum(mid * weight, cap).sum() < extra_target:
            lo = mid
        else:
            hi = mid
    extra = np.minimum(rng.poisson(np.minimum(hi * weight, cap)), cap)
    order_count = np.where(buyer, 1 + extra, 0)
    return _Customers(
        signup=signup,
        channel=channel,
        gender=gender,
        favourite=favourite,
        has_email=has_email,
        has_wecom=has_wecom,
        opt_out=opt_out,
        first_order=first_order,
        active_end=active_end,
        order_count=order_count,
    )


def _customer_frame(
    people: _Customers, seed: int, cal: _Calendar, id_series: pd.Series
) -> pd.DataFrame:
    n = len(people.signup)
    rng = _rng(seed, 2)
    surname_weights = np.array([s[2] for s in SURNAMES])
    surname = _choice(rng, surname_weights, n)
    female = people.gender == 0
    male = people.gender == 1
    unknown_female = (people.gender == -1) & (rng.random(n) < 0.6)
    use_female = female | unknown_female
    given_pool = np.where(use_female, 0, 1)
    g1 = rng.integers(0, len(FEMALE_GIVEN), n)
    g2 = rng.integers(0, len(FEMALE_GIVEN), n)
    two_chars = rng.random(n) < 0.65
    given_chars = [[c for c, _ in FEMALE_GIVEN], [c for c, _ in MALE_GIVEN]]
    given_pinyin = [[p for _, p in FEMALE_GIVEN], [p for _, p in MALE_GIVEN]]
    table_chars = np.array(given_chars, dtype=object)
    table_pinyin = np.array(given_pinyin, dtype=object)
    empty = pd.Series("", index=range(n), dtype=STR_DTYPE)
    first = pd.Series(table_chars[given_pool, g1], dtype=STR_DTYPE)
    second = pd.Series(table_chars[given_pool, g2], dtype=STR_DTYPE).where(two_chars, empty)
    name = _strings(surname, [s[0] for s in SURNAMES]) + first + second

    prefix = PHONE_PREFIXES[rng.integers(0, len(PHONE_PREFIXES), n)]
    phone_number = prefix * 100_000_000 + rng.integers(0, 100_000_000, n)
    for _ in range(20):  # redraw the rare duplicates
        _, first_index = np.unique(phone_number, return_index=True)
        duplicate = np.ones(n, dtype=bool)
        duplicate[first_index] = False
        if not duplicate.any():
            break
        phone_number[duplicate] = prefix[duplicate] * 100_000_000 + rng.integers(
            0, 100_000_000, int(duplicate.sum())
        )
    phone = _digits(phone_number, 11)

    domain = _choice(rng, EMAIL_DOMAIN_WEIGHTS, n)
    qq_number = pd.Series(rng.integers(10_000, 3_999_999_999, n)).astype(STR_DTYPE)
    py_first = pd.Series(table_pinyin[given_pool, g1], dtype=STR_DTYPE)
    py_second = pd.Series(table_pinyin[given_pool, g2], dtype=STR_DTYPE).where(two_chars, empty)
    separator = _strings(_choice(rng, np.array([0.7, 0.2, 0.1]), n), ["", ".", "_"])
    suffix = pd.Series(rng.integers(1, 10_000, n)).astype(STR_DTYPE)
    suffix = suffix.where(rng.random(n) < 0.6, empty)
    pinyin_local = (
        _strings(surname, [s[1] for s in SURNAMES]) + separator + py_first + py_second + suffix
    )
    local = qq_number.where(domain == 0, pinyin_local)
    email = local + "@" + _strings(domain, list(EMAIL_DOMAINS))
    email = email.where(~email.duplicated(), local + id_series.str.slice(1) + "@" + "163.com")
    email = email.where(people.has_email, np.nan)

    age_years = rng.normal(np.where(male, 35.0, 33.0), 9.0)
    age_years = np.where(age_years < 18.0, rng.uniform(18.0, 25.0, n), age_years)
    age_years = np.where(age_years > 72.0, rng.uniform(60.0, 72.0, n), age_years)
    birth_day = np.datetime64(cal.end_date, "D") - np.round(age_years * 365.25).astype(
        "timedelta64[D]"
    )
    birthday = pd.Series(birth_day.astype("datetime64[us]"), dtype="datetime64[us]")
    birthday = birthday.where(rng.random(n) >= 0.1)

    city = _choice(rng, np.array([c[2] for c in CITIES]), n)
    signup_seconds = cal.seconds(people.signup)
    return pd.DataFrame(
        {
            "customer_id": id_series,
            "name": name,
            "phone": phone,
            "email": email,
            "gender": _strings(people.gender, ["F", "M"]),
            "birthday": birthday,
            "province": _strings(city, [c[0] for c in CITIES]),
            "city": _strings(city, [c[1] for c in CITIES]),
            "channel": _strings(people.channel, list(models.CHANNELS)),
            "signup_at": cal.timestamps(signup_seconds),
            "opt_out_sms": people.opt_out["sms"],
            "opt_out_email": people.opt_out["email"],
            "opt_out_wecom": people.opt_out["wecom"],
            "is_placeholder": np.zeros(n, dtype=bool),
            "merged_into": pd.Series(np.nan, index=range(n), dtype=STR_DTYPE),
        }
    )


# --- campaigns ---------------------------------------------------------------------


@dataclass
class _CampaignPlan:
    """The campaigns of the history (arrays indexed by campaign number)."""

    campaign_id: list[str]
    name: list[str]
    description: list[str]
    channel: list[str]
    audience: list[str]
    start: np.ndarray  # tau of the start (midnight)
    end: np.ndarray  # tau of the end (exclusive)
    has_b: np.ndarray  # A/B test (else only variant A)
    lift_b: np.ndarray  # response rate of B relative to A
    control_share: np.ndarray
    fixed_cost: np.ndarray  # CNY: creative work and set-up


def _plan_campaigns(seed: int, cal: _Calendar) -> _CampaignPlan:
    rng = _rng(seed, 3)
    rows: list[tuple[dt.date, int, str, str, str, str]] = []  # start, days, audience, ...
    year, month = cal.start_date.year, cal.start_date.month
    month_number = 0
    while (year, month) <= (cal.end_date.year, cal.end_date.month):
        audience, channel, theme, offer = REGULAR_CAMPAIGNS[month_number % len(REGULAR_CAMPAIGNS)]
        rows.append(
            (
                dt.date(year, month, 10),
                10,
                audience,
                channel,
                f"{year}年{month}月{theme}（{CONTACT_CHANNEL_ZH[channel]}）",
                offer,
            )
        )
        if month == 11:
            rows.append(
                (dt.date(year, 11, 1), 11, "broad", "sms", f"{year}双11预热短信", "满300减50")
            )
            rows.append(
                (dt.date(year, 11, 3), 9, "broad", "wecom", f"{year}双11企微社群福利", "社群专享券")
            )
        if month == 6:
            rows.append(
                (dt.date(year, 6, 8), 11, "broad", "sms", f"{year} 618年中大促短信", "满200减30")
            )
        if month == 3:
            rows.append(
                (dt.date(year, 3, 1), 8, "female", "email", f"{year}女王节邮件", "女装满199减40")
            )
        month_number += 1
        month = month % 12 + 1
        year += month == 1
    for festival in SPRING_FESTIVALS:
        rows.append(
            (festival - dt.timedelta(days=28), 18, "broad", "wecom",
             f"{festival.year}年货节企微专享", "年货满减")
        )  # fmt: skip
    first_allowed = cal.start_date + dt.timedelta(days=60)
    rows = sorted(
        (
            r
            for r in rows
            if r[0] >= first_allowed and r[0] + dt.timedelta(days=r[1]) <= cal.end_date
        ),
        key=lambda r: (r[0], r[3]),
    )
    count = len(rows)
    has_b = rng.random(count) < 0.5
    lift_b = rng.uniform(0.8, 1.5, count)
    control_share = np.where(rng.random(count) < 0.7, 0.10, 0.20)
    fixed_cost = np.round(rng.uniform(500.0, 3000.0, count), -1)
    ids, descriptions = [], []
    per_month: dict[tuple[int, int], int] = {}
    for number, (start, _, audience, _, _, offer) in enumerate(rows):
        key = (start.year, start.month)
        per_month[key] = per_month.get(key, 0) + 1
        ids.append(f"CMP{start.year}{start.month:02d}{per_month[key]:02d}")
        test = "A/B测试文案A与文案B" if has_b[number] else "单一文案"
        descriptions.append(
            f"目标：{AUDIENCE_ZH[audience]}；优惠：{offer}；{test}；"
            f"随机留出{int(control_share[number] * 100)}%对照组不发送"
        )
    return _CampaignPlan(
        campaign_id=ids,
        name=[r[4] for r in rows],
        description=descriptions,
        channel=[r[3] for r in rows],
        audience=[r[2] for r in rows],
        start=np.array([cal.tau_of_date(r[0]) for r in rows]),
        end=np.array([cal.tau_of_date(r[0]) + r[1] for r in rows]),
        has_b=has_b,
        lift_b=lift_b,
        control_share=control_share,
        fixed_cost=fixed_cost,
    )


# --- one block of customers: orders and everything that depends on them -------------


def _priced_orders(
    rng: np.random.Generator,
    tau: np.ndarray,
    favourite: np.ndarray,
    customer_channel: np.ndarray,
    discount_p: np.ndarray,
) -> dict[str, np.ndarray]:
    """Category, list price, discount, paid amount and channel for orders at `tau`."""
    n = len(tau)
    category = np.where(rng.random(n) < 0.55, favourite, _choice(rng, CATEGORY_SHARES, n))
    raw = np.exp(CATEGORY_LOG_MEDIAN[category] + CATEGORY_LOG_SD[category] * rng.normal(size=n))
    list_price = np.maximum(np.floor(raw), 9.0) + 0.9
    discounted = rng.random(n) < discount_p
    percent = np.array([0.05, 0.10, 0.15, 0.20, 0.30])[
        _choice(rng, np.array([0.2, 0.35, 0.2, 0.15, 0.1]), n)
    ]
    coupon = np.array([5.0, 10.0, 20.0, 30.0, 50.0, 100.0])[
        _choice(rng, np.array([0.2, 0.3, 0.25, 0.12, 0.1, 0.03]), n)
    ]
    off = np.where(rng.random(n) < 0.6, list_price * percent, np.minimum(coupon, 0.4 * list_price))
    discount = np.where(discounted, np.round(off, 2), 0.0)
    amount = np.round(list_price - discount, 2)
    channel = np.where(
        rng.random(n) < 0.7, customer_channel, _choice(rng, ORDER_CHANNEL_WEIGHTS, n)
    )
    return {"category": category, "amount": amount, "discount": discount, "channel": channel}


def _sorted_keys(customer: np.ndarray, tau: np.ndarray) -> np.ndarray:
    """One float per row that sorts by customer, then time (searchsorted finds a
    customer's rows before a moment)."""
    return customer * _KEY_STRIDE + tau


def _block_campaigns(
    rng: np.random.Generator,
    cal: _Calendar,
    plan: _CampaignPlan,
    people: _Customers,
    lo: int,
    hi: int,
    paid_keys: np.ndarray,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(touches, extra purchases) of the block's customers: each campaign's audience,
    its control group and variants, opens and clicks (hours after sending), and the
    purchases the campaign adds for treated customers. `paid_keys`: the block's sorted
    paid-order keys (customer * stride + tau)."""
    nb = hi - lo
    signup = people.signup[lo:hi]
    first_paid = np.searchsorted(paid_keys, np.arange(nb) * _KEY_STRIDE)
    touches: dict[str, list[np.ndarray]] = {k: [] for k in ("campaign", "customer", "variant")}
    touches.update({k: [] for k in ("sent", "opened", "clicked")})
    extra: dict[str, list[np.ndarray]] = {"customer": [], "tau": [], "campaign": []}
    gender = people.gender[lo:hi]
    reachable = {
        "sms": ~people.opt_out["sms"][lo:hi],
        "email": people.has_email[lo:hi] & ~people.opt_out["email"][lo:hi],
        "wecom": people.has_wecom[lo:hi] & ~people.opt_out["wecom"][lo:hi],
    }
    everyone = np.arange(nb)
    for number, channel in enumerate(plan.channel):
        start, end = plan.start[number], plan.end[number]
        before = np.searchsorted(paid_keys, everyone * _KEY_STRIDE + start)
        paid_before = before - first_paid
        last_paid = np.where(paid_before > 0, paid_keys[np.maximum(before - 1, 0)], np.nan)
        last_paid -= everyone * _KEY_STRIDE
        audience = plan.audience[number]
        if audience == "winback":
            rule = (start - last_paid >= 60) & (start - last_paid <= 365)
        elif audience == "new":
            rule = (start - signup <= 45) & (paid_before <= 1)
        elif audience == "vip":
            rule = paid_before >= 5
        elif audience == "female":
            rule = gender == 0
        else:
            rule = np.ones(nb, dtype=bool)
        chosen = np.flatnonzero(
            rule
            & reachable[channel]
            & (signup < start)
            & (rng.random(nb) < AUDIENCE_SHARE[audience])
        )
        k = len(chosen)
        control = rng.random(k) < plan.control_share[number]
        variant = np.where(control, 2, np.where(plan.has_b[number] & (rng.random(k) < 0.5), 1, 0))
        sent = np.where(control, np.nan, start + rng.uniform(0.35, 0.6, k))
        lift = np.where(variant == 1, plan.lift_b[number], 1.0)
        responds = ~control & (rng.random(k) < RESPONSE_RATE[channel] * lift)
        response_tau = sent + rng.exponential(2.0, k)
        responds &= response_tau < min(end, cal.days)
        opened = ~control & (rng.random(k) < OPEN_RATE[channel] * lift)
        if channel == "sms":
            clicked = ~control & (rng.random(k) < CLICK_RATE[channel] * lift)
        else:
            clicked = opened & (rng.random(k) < CLICK_RATE[channel] * lift)
        clicked |= responds & (rng.random(k) < 0.6)
        opened |= clicked & (OPEN_RATE[channel] > 0)
        open_hours = rng.exponential(3.0, k)
        click_hours = open_hours + rng.exponential(0.3, k)
        touches["campaign"].append(np.full(k, number))
        touches["customer"].append(chosen)
        touches["variant"].append(variant)
        touches["sent"].append(sent)
        touches["opened"].append(np.where(opened, open_hours, np.nan))
        touches["clicked"].append(np.where(clicked, click_hours, np.nan))
        extra["customer"].append(chosen[responds])
        extra["tau"].append(response_tau[responds])
        extra["campaign"].append(np.full(int(responds.sum()), number))

    touch_floats = ("sent", "opened", "clicked")
    return (
        {k: _concat(v, float if k in touch_floats else np.int64) for k, v in touches.items()},
        {k: _concat(v, float if k == "tau" else np.int64) for k, v in extra.items()},
    )


def _block(
    seed: int,
    block: int,
    people: _Customers,
    lo: int,
    hi: int,
    cal: _Calendar,
    plan: _CampaignPlan,
) -> dict[str, dict[str, np.ndarray]]:
    """Orders, touches, events, tickets and surveys of customers lo..hi-1 (local indexes:
    customer = position in the block, order references = position in the block's orders)."""
    rng = _rng(seed, 4, block)
    nb = hi - lo
    signup = people.signup[lo:hi]
    favourite = people.favourite[lo:hi]
    cust_channel = people.channel[lo:hi]
    counts = people.order_count[lo:hi]

    # Base orders: the first at first_order, the rest spread over the active life.
    customer = np.repeat(np.arange(nb), counts)
    starts = np.cumsum(counts) - counts
    position = np.arange(len(customer)) - np.repeat(starts, counts)
    first = people.first_order[lo:hi][customer]
    last = people.active_end[lo:hi][customer]
    tau = np.where(position == 0, first, cal.sample_orders(first, last, rng.random(len(customer))))
    promo = cal.promo_day[cal.day_of(tau)]
    priced = _priced_orders(
        rng, tau, favourite[customer], cust_channel[customer], np.where(promo, 0.75, 0.28)
    )
    recent = tau >= cal.days - 3
    status = np.where(
        rng.random(len(tau)) < np.where(recent, 0.12, 0.03),
        UNPAID,
        np.where(rng.random(len(tau)) < 0.055, CANCELLED, PAID),
    )
    campaign = np.full(len(tau), -1)

    order_sort = np.argsort(_sorted_keys(customer, tau), kind="stable")
    customer, tau, status = customer[order_sort], tau[order_sort], status[order_sort]
    priced = {k: v[order_sort] for k, v in priced.items()}
    paid_keys = _sorted_keys(customer, tau)[status == PAID]

    touch, extra = _block_campaigns(rng, cal, plan, people, lo, hi, paid_keys)
    extra_customer, extra_tau = extra["customer"], extra["tau"]
    extra_priced = _priced_orders(
        rng,
        extra_tau,
        favourite[extra_customer],
        cust_channel[extra_customer],
        np.full(len(extra_tau), 0.9),
    )
    customer = np.concatenate([customer, extra_customer])
    tau = np.concatenate([tau, extra_tau])
    status = np.concatenate([status, np.full(len(extra_tau), PAID)])
    campaign = np.concatenate([campaign, extra["campaign"]])
    priced = {k: np.concatenate([v, extra_priced[k]]) for k, v in priced.items()}
    order_sort = np.argsort(_sorted_keys(customer, tau), kind="stable")
    customer, tau, status, campaign = (
        customer[order_sort],
        tau[order_sort],
        status[order_sort],
        campaign[order_sort],
    )
    priced = {k: v[order_sort] for k, v in priced.items()}
    paid = status == PAID
    paid_keys = _sorted_keys(customer, tau)[paid]

    touch_customer = touch["customer"]
    window_lo = np.searchsorted(
        paid_keys, touch_customer * _KEY_STRIDE + plan.start[touch["campaign"]]
    )
    window_hi = np.searchsorted(
        paid_keys, touch_customer * _KEY_STRIDE + plan.end[touch["campaign"]]
    )
    touch["responded"] = window_hi > window_lo

    # Refunds of paid orders: full or partial, a few days later.
    n_orders = len(tau)
    paid_index = np.flatnonzero(paid)
    refunded = paid_index[
        rng.random(len(paid_index)) < CATEGORY_REFUND_P[priced["category"][paid_index]]
    ]
    refund_tau = tau[refunded] + 1.5 + rng.exponential(4.0, len(refunded))
    keep = refund_tau < cal.days
    refunded, refund_tau = refunded[keep], refund_tau[keep]
    share = np.where(rng.random(len(refunded)) < 0.65, 1.0, rng.uniform(0.1, 0.7, len(refunded)))
    refund_amount = np.maximum(np.round(priced["amount"][refunded] * share, 2), 0.01)
    refund_amount = np.minimum(refund_amount, priced["amount"][refunded])

    orders = {
        "customer": np.concatenate([customer, customer[refunded]]).astype(np.int32),
        "tau": np.concatenate([tau, refund_tau]),
        "status": np.concatenate([status, np.full(len(refunded), REFUNDED)]).astype(np.int8),
        "category": np.concatenate([priced["category"], priced["category"][refunded]]).astype(
            np.int8
        ),
        "amount": np.concatenate([priced["amount"], refund_amount]),
        "discount": np.concatenate([priced["discount"], np.zeros(len(refunded))]),
        "channel": np.concatenate([priced["channel"], priced["channel"][refunded]]).astype(np.int8),
        "campaign": np.concatenate([campaign, np.full(len(refunded), -1)]).astype(np.int16),
        "refund_of": np.concatenate([np.full(n_orders, -1), refunded]).astype(np.int32),
    }

    tickets = _block_tickets(rng, cal, customer, tau, paid, refunded, refund_tau, signup)
    surveys = _block_surveys(rng, cal, customer, tau, paid, tickets, nb)
    events = _block_events(rng, cal, people, lo, hi)
    return {
        "orders": orders,
        "touches": touch,
        "tickets": tickets,
        "surveys": surveys,
        "events": events,
    }


def _block_tickets(
    rng: np.random.Generator,
    cal: _Calendar,
    customer: np.ndarray,
    tau: np.ndarray,
    paid: np.ndarray,
    refunded: np.ndarray,
    refund_tau: np.ndarray,
    signup: np.ndarray,
) -> dict[str, np.ndarray]:
    """Service tickets: about refunds, about other paid orders, and pre-sale questions."""
    nb = len(signup)
    # Most refunds come with a return or quality ticket opened before the refund.
    with_ticket = rng.random(len(refunded)) < 0.55
    r_orders = refunded[with_ticket]
    r_type = np.where(rng.random(len(r_orders)) < 0.6, 2, 1)
    r_created = tau[r_orders] + rng.uniform(0.3, 1.0, len(r_orders)) * (
        refund_tau[with_ticket] - tau[r_orders]
    )
    # A few other paid orders: mostly parcels that are late or questions after buying.
    refunded_mask = np.zeros(len(tau), dtype=bool)
    refunded_mask[refunded] = True
    candidates = np.flatnonzero(paid & ~refunded_mask)
    o_orders = candidates[rng.random(len(candidates)) < 0.025]
    o_type = _choice(rng, np.array([0.55, 0.15, 0.05, 0.25]), len(o_orders))
    delay_days = np.select(
        [o_type == 0, o_type == 1, o_type == 2],
        [
            rng.uniform(1.0, 5.0, len(o_orders)),
            rng.uniform(3.0, 10.0, len(o_orders)),
            rng.uniform(2.0, 8.0, len(o_orders)),
        ],
        rng.uniform(0.05, 3.0, len(o_orders)),
    )
    o_created = tau[o_orders] + delay_days
    # Pre-sale consultations, from buyers and non-buyers alike.
    asks = rng.poisson(0.03, nb)
    p_customer = np.repeat(np.arange(nb), asks)
    p_created = signup[p_customer] + rng.random(len(p_customer)) * (cal.days - signup[p_customer])

    order_ref = np.concatenate([r_orders, o_orders, np.full(len(p_customer), -1)])
    ticket_customer = np.concatenate([customer[r_orders], customer[o_orders], p_customer])
    ticket_type = np.concatenate([r_type, o_type, np.full(len(p_customer), 3)])
    created = np.concatenate([r_created, o_created, p_created])
    keep = created < cal.days
    order_ref, ticket_customer, ticket_type, created = (
        order_ref[keep],
        ticket_customer[keep],
        ticket_type[keep],
        created[keep],
    )
    n = len(created)
    priority = _choice_rows(rng, PRIORITY_BY_TYPE, ticket_type)
    channel = _choice(rng, np.array([0.45, 0.10, 0.45]), n)
    first_response_hours = FIRST_RESPONSE_MEDIAN_HOURS[priority] * rng.lognormal(0.0, 1.0, n)
    never_answered = rng.random(n) < 0.02
    first_response_hours[never_answered] = np.nan
    resolve_hours = RESOLUTION_MEDIAN_HOURS[ticket_type] * rng.lognormal(0.0, 0.9, n)
    stuck = never_answered | (rng.random(n) < 0.03)
    resolution_hours = np.where(stuck, np.nan, first_response_hours + resolve_hours)
    slow = np.log2(np.maximum(np.nan_to_num(resolution_hours, nan=24.0), 24.0) / 24.0)
    latent = CSAT_BASE_BY_TYPE[ticket_type] - 0.35 * slow + rng.normal(0.0, 0.8, n)
    angry = rng.random(n) < ANGRY_BY_TYPE[ticket_type] * (1.0 + slow)
    csat = np.where(angry, rng.integers(1, 3, n), np.clip(np.round(latent), 1, 5))
    rated = ~np.isnan(resolution_hours) & (rng.random(n) < 0.65)
    csat = np.where(rated, csat, np.nan)
    complaint_p = (
        COMPLAINT_BASE_BY_TYPE[ticket_type]
        + np.where(rated & (csat <= 2), 0.45, 0.0)
        + np.where(priority == 3, 0.15, 0.0)
        + np.where(np.nan_to_num(first_response_hours, nan=48.0) > 24.0, 0.10, 0.0)
    )
    return {
        "customer": ticket_customer,
        "order_ref": order_ref,
        "type": ticket_type,
        "priority": priority,
        "channel": channel,
        "created": created,
        "first_response_hours": first_response_hours,
        "resolution_hours": resolution_hours,
        "csat": csat,
        "complaint": rng.random(n) < complaint_p,
    }


def _block_surveys(
    rng: np.random.Generator,
    cal: _Calendar,
    customer: np.ndarray,
    tau: np.ndarray,
    paid: np.ndarray,
    tickets: dict[str, np.ndarray],
    nb: int,
) -> dict[str, np.ndarray]:
    """NPS answers after some paid orders and after some resolved tickets."""
    paid_index = np.flatnonzero(paid)
    asked = paid_index[rng.random(len(paid_index)) < 0.012]
    o_customer = customer[asked]
    o_tau = tau[asked] + 3.0 + rng.exponential(3.0, len(asked))
    resolved = np.flatnonzero(~np.isnan(tickets["resolution_hours"]))
    answered = resolved[rng.random(len(resolved)) < 0.12]
    t_customer = tickets["customer"][answered]
    t_tau = (
        tickets["created"][answered]
        + tickets["resolution_hours"][answered] / 24.0
        + rng.exponential(1.0, len(answered))
    )
    complained = np.zeros(nb, dtype=bool)
    complained[tickets["customer"][tickets["complaint"]]] = True
    survey_customer = np.concatenate([o_customer, t_customer])
    survey_tau = np.concatenate([o_tau, t_tau])
    from_ticket = np.concatenate([np.zeros(len(asked), bool), np.ones(len(answered), bool)])
    ticket_csat = np.concatenate([np.full(len(asked), np.nan), tickets["csat"][answered]])
    about_complaint = np.concatenate([np.zeros(len(asked), bool), tickets["complaint"][answered]])
    keep = survey_tau < cal.days
    survey_customer, survey_tau = survey_customer[keep], survey_tau[keep]
    from_ticket, ticket_csat = from_ticket[keep], ticket_csat[keep]
    n = len(survey_tau)
    # Right after a complaint the answer is poor; later a complaint still drags some down.
    unhappy = about_complaint[keep] | (complained[survey_customer] & (rng.random(n) < 0.4))
    table = np.vstack([NPS_PROBABILITIES, NPS_PROBABILITIES_AFTER_COMPLAINT])
    nps = _choice_rows(rng, table, unhappy.astype(np.int64))
    drawn_csat = np.clip(np.round((nps + 1) / 2.2 + rng.normal(0.0, 0.6, n)), 1, 5)
    csat = np.where(~np.isnan(ticket_csat), ticket_csat, drawn_csat)
    csat = np.where(from_ticket | (rng.random(n) < 0.35), csat, np.nan)
    band = np.where(nps >= 9, 0, np.where(nps >= 7, 1, 2))
    pick = rng.random(n)
    commented = rng.random(n) < 0.2
    return {"customer": survey_customer, "tau": survey_tau, "nps": nps, "csat": csat,
            "band": np.where(commented, band, -1), "pick": pick}  # fmt: skip


def _block_events(
    rng: np.random.Generator, cal: _Calendar, people: _Customers, lo: int, hi: int
) -> dict[str, np.ndarray]:
    """Browse/cart/favourite events, most in the last months, also from non-buyers."""
    nb = hi - lo
    signup = people.signup[lo:hi]
    buyer = people.order_count[lo:hi] > 0
    active = buyer & (people.active_end[lo:hi] >= cal.days - 120)
    browser = ~buyer & (rng.random(nb) < 0.45)
    mean = np.select([active, buyer, browser], [9.0, 0.6, 5.0], 0.0)
    count = rng.poisson(rng.gamma(0.8, mean / 0.8 + 1e-12))
    customer = np.repeat(np.arange(nb), count)
    n = len(customer)
    age = rng.exponential(45.0, n)
    tau = cal.days - age
    too_early = tau < signup[customer]
    tau[too_early] = signup[customer][too_early] + rng.random(int(too_early.sum())) * (
        cal.days - signup[customer][too_early]
    )
    favourite = people.favourite[lo:hi][customer]
    category = np.where(rng.random(n) < 0.6, favourite, _choice(rng, CATEGORY_SHARES, n))
    sku_number = np.minimum(rng.zipf(1.4, n), SKUS_PER_CATEGORY)
    event_type = _choice(rng, np.array([0.72, 0.18, 0.10]), n)
    return {
        "customer": customer.astype(np.int32),
        "tau": tau,
        "type": event_type.astype(np.int8),
        "category": category.astype(np.int8),
        "sku": sku_number.astype(np.int16),
    }


# --- assembling the tables ---------------------------------------------------------


def generate_shop(
    customers: int,
    seed: int = 42,
    end_date: dt.date = DEFAULT_END_DATE,
    order_model: OrderCountModel | None = None,
) -> dict[str, pd.DataFrame]:
    """A demo shop of `customers` customers whose history ends on `end_date`.

    Returns one frame per table in LOAD_ORDER (order_lines are not generated), columns
    named as in crm_core/models.py (import_batch_id left out): timestamps datetime64,
    money as floats rounded to cents, flags as bools. The same arguments give identical
    frames. With the default `order_model` there are about 10 orders per customer.
    """
    if customers < 1:
        raise ValueError("customers must be at least 1")
    model = order_model or OrderCountModel()
    cal = _Calendar(end_date)
    people = _draw_customers(customers, seed, cal, model)
    plan = _plan_campaigns(seed, cal)
    customer_ids = _numbered("C", customers, 7)
    frames = {"customers": _customer_frame(people, seed, cal, customer_ids)}
    frames["customers"].attrs[DEMO_SHOP_SETTING] = {
        "customers": customers,
        "seed": seed,
        "end_date": end_date.isoformat(),
    }

    blocks = _Blocks(
        [
            _block(seed, number, people, lo, min(lo + BLOCK_CUSTOMERS, customers), cal, plan)
            for number, lo in enumerate(range(0, customers, BLOCK_CUSTOMERS))
        ],
        list(range(0, customers, BLOCK_CUSTOMERS)),
    )
    frames["orders"], order_rank = _orders_frame(cal, blocks, customer_ids, plan, _rng(seed, 5))
    frames["events"] = _events_frame(cal, blocks, customer_ids)
    frames["tickets"] = _tickets_frame(cal, blocks, customer_ids, order_rank)
    frames["campaign_touches"] = _touches_frame(cal, blocks, customer_ids, plan)
    frames["campaigns"] = _campaigns_frame(cal, plan, frames["campaign_touches"])
    frames["survey_responses"] = _surveys_frame(cal, blocks, customer_ids)
    return {name: frames[name] for name in LOAD_ORDER}


class _Blocks:
    """The blocks' tables, handed out one column at a time over all blocks (and then
    dropped from the blocks, which keeps memory down)."""

    def __init__(self, blocks: list[dict[str, dict[str, np.ndarray]]], starts: list[int]):
        self.blocks = blocks
        self.customer_offsets = starts
        sizes = [len(block["orders"]["tau"]) for block in blocks]
        self.order_offsets = list(np.cumsum([0, *sizes[:-1]]))

    def take(
        self,
        table: str,
        column: str,
        order: np.ndarray | None = None,
        offset_by: str | None = None,
    ) -> np.ndarray:
        """One column over all blocks, rows in `order` when given; offset_by "customer"
        or "order" turns block positions into global ones (-1 stays -1)."""
        parts = []
        for number, block in enumerate(self.blocks):
            values = block[table].pop(column)
            if offset_by == "customer":
                values = values + self.customer_offsets[number]
            elif offset_by == "order":
                values = np.where(values >= 0, values + self.order_offsets[number], -1)
            parts.append(values)
        joined = np.concatenate(parts)
        return joined if order is None else joined[order]


def _chronological(seconds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(permutation into time order, 1-based rank of each row in time order)."""
    permutation = np.argsort(seconds, kind="stable")
    rank = np.empty(len(seconds), dtype=np.int64)
    rank[permutation] = np.arange(1, len(seconds) + 1)
    return permutation, rank


def _numbered(prefix: str, count: int, min_width: int) -> pd.Series:
    """Ids prefix + 1..count in that order."""
    return _digits(np.arange(1, count + 1), max(min_width, len(str(count))), prefix)


def _references(prefix: str, numbers: np.ndarray, count: int, min_width: int) -> pd.Series:
    """Ids of rows numbered `numbers` (as made by `_numbered`); numbers <= 0 are missing."""
    ids = _digits(np.maximum(numbers, 0), max(min_width, len(str(count))), prefix)
    return ids.where(numbers > 0)


def _customers_of(customer_ids: pd.Series, positions: np.ndarray) -> pd.Series:
    return customer_ids.take(positions).reset_index(drop=True)


def _orders_frame(
    cal: _Calendar,
    blocks: _Blocks,
    customer_ids: pd.Series,
    plan: _CampaignPlan,
    rng: np.random.Generator,
) -> tuple[pd.DataFrame, np.ndarray]:
    """The orders in time order (ids O000000001... in that order), and each gathered
    order's number, for references."""
    seconds = cal.seconds(blocks.take("orders", "tau"))
    order, rank = _chronological(seconds)
    seconds = seconds[order]
    count = len(seconds)
    refund_of = blocks.take("orders", "refund_of", order, "order")
    status = blocks.take("orders", "status", order)
    pay_delay = np.minimum(np.round(rng.lognormal(np.log(90.0), 1.0, count)), 3 * 3600.0)
    paid_seconds = np.where(
        status == PAID, np.minimum(seconds + pay_delay, cal.end_seconds - 1), np.nan
    )
    frame = pd.DataFrame(
        {
            "order_id": _numbered("O", count, 9),
            "customer_id": _customers_of(
                customer_ids, blocks.take("orders", "customer", order, "customer")
            ),
            "ordered_at": cal.timestamps(seconds),
            "amount": blocks.take("orders", "amount", order),
            "status": _strings(status, list(STATUSES)),
            "channel": _strings(blocks.take("orders", "channel", order), list(models.CHANNELS)),
            "discount": blocks.take("orders", "discount", order),
            "category": _strings(blocks.take("orders", "category", order), CATEGORY_NAMES),
            "paid_at": cal.timestamps(paid_seconds),
            "refund_of": _references("O", np.where(refund_of >= 0, rank[refund_of], 0), count, 9),
            "campaign_id": _strings(blocks.take("orders", "campaign", order), plan.campaign_id),
        }
    )
    return frame, rank


def _events_frame(cal: _Calendar, blocks: _Blocks, customer_ids: pd.Series) -> pd.DataFrame:
    seconds = cal.seconds(blocks.take("events", "tau"))
    order, _ = _chronological(seconds)
    category = blocks.take("events", "category", order)
    return pd.DataFrame(
        {
            "event_id": _numbered("E", len(order), 10),
            "customer_id": _customers_of(
                customer_ids, blocks.take("events", "customer", order, "customer")
            ),
            "event_type": _strings(blocks.take("events", "type", order), list(models.EVENT_TYPES)),
            "occurred_at": cal.timestamps(seconds[order]),
            "category": _strings(category, CATEGORY_NAMES),
            "sku": _strings(category, CATEGORY_SKU_PREFIX)
            + _digits(blocks.take("events", "sku", order), 4, "-"),
        }
    )


def _tickets_frame(
    cal: _Calendar, blocks: _Blocks, customer_ids: pd.Series, order_rank: np.ndarray
) -> pd.DataFrame:
    created = cal.seconds(blocks.take("tickets", "created"))
    order, _ = _chronological(created)
    created = created[order]
    end = cal.end_seconds

    def later(hours: np.ndarray) -> np.ndarray:
        at = created + np.round(hours * 3600.0)
        return np.where(at < end, at, np.nan)  # not yet answered/resolved by end_date

    resolved = later(blocks.take("tickets", "resolution_hours", order))
    csat = np.where(np.isnan(resolved), np.nan, blocks.take("tickets", "csat", order))
    order_ref = blocks.take("tickets", "order_ref", order, "order")
    return pd.DataFrame(
        {
            "ticket_id": _numbered("T", len(order), 8),
            "customer_id": _customers_of(
                customer_ids, blocks.take("tickets", "customer", order, "customer")
            ),
            "ticket_type": _strings(blocks.take("tickets", "type", order), list(TICKET_TYPES)),
            "priority": _strings(blocks.take("tickets", "priority", order), list(PRIORITIES)),
            "channel": _strings(blocks.take("tickets", "channel", order), list(models.CHANNELS)),
            "created_at": cal.timestamps(created),
            "first_response_at": cal.timestamps(
                later(blocks.take("tickets", "first_response_hours", order))
            ),
            "resolved_at": cal.timestamps(resolved),
            "csat": pd.array(csat, dtype="Int16"),
            "is_complaint": blocks.take("tickets", "complaint", order).astype(bool),
            "order_id": _references(
                "O",
                np.where(order_ref >= 0, order_rank[order_ref], 0),
                len(order_rank),
                9,
            ),
        }
    )


def _touches_frame(
    cal: _Calendar, blocks: _Blocks, customer_ids: pd.Series, plan: _CampaignPlan
) -> pd.DataFrame:
    """Touches in (campaign, customer) order, the primary key's."""
    campaign = blocks.take("touches", "campaign")
    customer = blocks.take("touches", "customer", offset_by="customer")
    order = np.lexsort((customer, campaign))
    sent = cal.seconds(blocks.take("touches", "sent", order))
    end = cal.end_seconds

    def after_send(hours: np.ndarray) -> np.ndarray:
        at = sent + np.round(hours * 3600.0)
        return np.where(at < end, at, np.nan)

    variant = blocks.take("touches", "variant", order)
    return pd.DataFrame(
        {
            "campaign_id": _strings(campaign[order], plan.campaign_id),
            "customer_id": _customers_of(customer_ids, customer[order]),
            "variant": _strings(variant, ["A", "B", "control"]),
            "is_control": variant == 2,
            "sent_at": cal.timestamps(sent),
            "opened_at": cal.timestamps(after_send(blocks.take("touches", "opened", order))),
            "clicked_at": cal.timestamps(after_send(blocks.take("touches", "clicked", order))),
            "responded": blocks.take("touches", "responded", order).astype(bool),
        }
    )


def _campaigns_frame(cal: _Calendar, plan: _CampaignPlan, touches: pd.DataFrame) -> pd.DataFrame:
    """Campaigns with their total cost: set-up plus cost per contact for every message sent."""
    sent = touches.loc[touches["sent_at"].notna(), "campaign_id"].value_counts()
    sent_count = sent.reindex(plan.campaign_id, fill_value=0).to_numpy()
    cost_per_contact = np.array([COST_PER_CONTACT[c] for c in plan.channel])
    return pd.DataFrame(
        {
            "campaign_id": pd.Series(plan.campaign_id, dtype=STR_DTYPE),
            "name": pd.Series(plan.name, dtype=STR_DTYPE),
            "channel": pd.Series(plan.channel, dtype=STR_DTYPE),
            "started_at": cal.timestamps(plan.start * SECONDS_PER_DAY),
            "ended_at": cal.timestamps(plan.end * SECONDS_PER_DAY - 1),
            "cost": np.round(plan.fixed_cost + cost_per_contact * sent_count, 2),
            "cost_per_contact": cost_per_contact,
            "revenue_per_response": np.full(len(plan.campaign_id), np.nan),
            "description": pd.Series(plan.description, dtype=STR_DTYPE),
        }
    )


def _surveys_frame(cal: _Calendar, blocks: _Blocks, customer_ids: pd.Series) -> pd.DataFrame:
    seconds = cal.seconds(blocks.take("surveys", "tau"))
    order, _ = _chronological(seconds)
    band = blocks.take("surveys", "band", order)
    pick = blocks.take("surveys", "pick", order)
    labels: list[str] = []
    codes = np.full(len(band), -1)
    for number, key in enumerate(("promoter", "passive", "detractor")):
        choices = COMMENTS[key]
        in_band = band == number
        codes[in_band] = len(labels) + np.minimum(
            (pick[in_band] * len(choices)).astype(np.int64), len(choices) - 1
        )
        labels.extend(choices)
    return pd.DataFrame(
        {
            "response_id": _numbered("R", len(order), 8),
            "customer_id": _customers_of(
                customer_ids, blocks.take("surveys", "customer", order, "customer")
            ),
            "responded_at": cal.timestamps(seconds[order]),
            "nps": pd.array(blocks.take("surveys", "nps", order), dtype="Int16"),
            "csat": pd.array(blocks.take("surveys", "csat", order), dtype="Int16"),
            "comment": _strings(codes, labels),
        }
    )


# --- loading -----------------------------------------------------------------------

TABLES = {
    "customers": models.customers,
    "campaigns": models.campaigns,
    "orders": models.orders,
    "order_lines": models.order_lines,
    "events": models.events,
    "tickets": models.tickets,
    "campaign_touches": models.campaign_touches,
    "survey_responses": models.survey_responses,
}
"""Every table a demo shop may hold, parents before children (foreign-key order)."""


def _store_counts(conn: Connection) -> tuple[bool, bool]:
    """(the store has a customer, the store has an order)."""
    customer = conn.execute(select(models.customers.c.customer_id).limit(1)).first()
    order = conn.execute(select(models.orders.c.order_id).limit(1)).first()
    return customer is not None, order is not None


def store_is_empty(engine: Engine) -> bool:
    """True when the store holds no customers and no orders (a demo may be loaded)."""
    with engine.connect() as conn:
        return _store_counts(conn) == (False, False)


def load_shop(engine: Engine, tables: dict[str, pd.DataFrame]) -> dict[str, int]:
    """Write a generated shop into an empty store in one transaction.

    Tables go in foreign-key order through `db.bulk_insert`; the data version is bumped
    and the setting 'demo_shop' records {customers, seed, end_date, loaded_at} (seed and
    end_date from what `generate_shop` noted in the customers frame's attrs).
    Returns the rows written per table. Raises StoreNotEmptyError when the store already
    holds customers or orders (a demo is never mixed into real data).
    """
    unknown = set(tables) - set(TABLES)
    if unknown:
        raise ValueError(f"not demo tables: {sorted(unknown)}")
    written: dict[str, int] = {}
    generated = (
        tables["customers"].attrs.get(DEMO_SHOP_SETTING, {}) if "customers" in tables else {}
    )
    with bulk_transaction(engine, [TABLES[name] for name in tables]) as conn:
        if _store_counts(conn) != (False, False):
            raise StoreNotEmptyError("demo.error.store_not_empty")
        bump_data_version(conn)
        info = {
            "customers": len(tables["customers"]) if "customers" in tables else 0,
            "seed": generated.get("seed"),
            "end_date": generated.get("end_date"),
            "loaded_at": dt.datetime.now().isoformat(timespec="seconds"),
        }
        write_setting(conn, DEMO_SHOP_SETTING, info)
        names = [name for name in TABLES if name in tables]
        with bulk_load(conn, [TABLES[name] for name in names]):
            for name in names:
                written[name] = bulk_insert(conn, TABLES[name], tables[name])
    return written


def load_demo_shop(
    engine: Engine,
    customers: int = 20_000,
    seed: int = 42,
    end_date: dt.date = DEFAULT_END_DATE,
) -> dict[str, int]:
    """Generate a demo shop and load it into the (empty) store; rows written per table."""
    frames = generate_shop(customers, seed=seed, end_date=end_date)
    return load_shop(engine, frames)
