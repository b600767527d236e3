"""The demo shop's reference data: channel mixes, product categories, cities, Chinese
names, mobile prefixes and e-mail domains, the hour-of-day rhythm, Spring Festival dates,
and the parameters of tickets, NPS answers and campaigns. Plain constants the generators
read."""

from __future__ import annotations

import datetime as dt

import numpy as np

from crm_core.store import models

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
BEST_SELLERS = 10
"""SKU numbers 1-10 of a category are its best sellers (what companions follow)."""
PRODUCT_NOUNS: tuple[tuple[str, ...], ...] = (
    ("每日坚果", "牛肉干", "海苔脆", "芒果干", "苏打饼干"),
    ("气泡水", "精酿啤酒", "乌龙茶", "果汁", "黄酒"),
    ("抽纸", "洗衣液", "收纳盒", "毛巾", "垃圾袋"),
    ("不粘锅", "保鲜盒", "菜刀", "砧板", "电饭煲内胆"),
    ("纸尿裤", "婴儿推车", "安抚奶嘴", "儿童餐椅", "浴盆"),
    ("婴儿奶粉", "米粉", "果泥", "磨牙饼干", "营养面条"),
    ("儿童T恤", "儿童运动鞋", "连体衣", "儿童外套", "袜子"),
    ("连衣裙", "针织衫", "牛仔裤", "衬衫", "半身裙"),
    ("POLO衫", "休闲裤", "夹克", "T恤", "运动鞋"),
)
"""What each category's SKUs are called (a SKU number picks one)."""
# (category of the best seller, companion category, companion SKU number, its name,
#  chance that an extra line of such an order is this companion)
COMPANIONS: tuple[tuple[str, str, int, str, float], ...] = (
    ("休闲零食", "休闲零食", 591, "坚果礼盒", 0.45),
    ("休闲零食", "家居日用", 592, "开果器", 0.25),
    ("奶粉辅食", "母婴用品", 593, "奶瓶", 0.40),
    ("奶粉辅食", "母婴用品", 594, "婴儿湿巾", 0.35),
    ("酒水饮料", "休闲零食", 595, "下酒卤味拼盘", 0.35),
    ("厨房用品", "家居日用", 596, "厨房湿巾", 0.30),
    ("女装", "女装", 597, "真丝丝巾", 0.30),
)
"""Cross-sell in the demo's baskets: what goes with a category's best sellers."""

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
                 "宝宝用着很合适", "零食很新鲜，家里人都爱吃", "发货速度快", "做工精致，面料舒服",
                 "会员活动很划算", "售后处理很及时"],
    "passive": ["还可以，价格再优惠点就好了", "一般般，和描述差不多", "物流有点慢",
                "款式不错，尺码偏小", "包装简单了点", "客服回复有点慢", "味道还行，有点甜"],
    "detractor": ["发货太慢了", "质量一般，有瑕疵", "退款处理太慢", "客服回复不及时",
                  "和图片差别很大", "包装破损", "快递员态度差", "尺码不准，退货麻烦",
                  "奶粉快过期了", "优惠券用不了"],
}  # fmt: skip
COMMENTS_EN = {
    "promoter": ["Fast delivery and great packaging", "Good quality, will buy again",
                 "Customer service was very helpful", "Great value for money",
                 "The snacks were fresh", "Fits my baby perfectly"],
    "passive": ["It's okay, a bit expensive", "Delivery was a little slow",
                "Nice style but the size runs small", "Average, as described"],
    "detractor": ["Delivery took far too long", "Poor quality, it broke after a week",
                  "The refund was slow", "Customer service never replied",
                  "Looks nothing like the pictures", "The parcel arrived damaged"],
}  # fmt: skip
COMMENT_CONTACTS = {
    "zh": ["有问题请打我电话 13800138000", "麻烦联系我：13912345678",
           "回复发到 wang.fang@example.com"],
    "en": ["call me on 13800138000", "please e-mail me at li.lei@example.com"],
}  # fmt: skip
"""Contact details some customers write into a comment (fake numbers and addresses):
masked on the Customer voice page for roles that may not see personal data."""
ENGLISH_COMMENT_SHARE = 0.25
SECOND_FRAGMENT_SHARE = 0.35
CONTACT_IN_COMMENT_SHARE = 0.03

AGENTS = ("王芳", "李静", "张伟", "刘洋", "陈晨", "Lily", "Kevin", "赵敏")
AGENT_SKILL = np.array([0.5, 0.2, 0.0, -0.1, 0.3, 0.1, -0.4, 0.0])
"""How strongly an agent's tickets lean to high CSAT (log-odds per CSAT point above 3)."""
REASONS_BY_TYPE = {
    "logistics": ["快递太慢", "包裹丢失", "派送员态度差", "Delivery was late"],
    "quality": ["有瑕疵", "质量问题", "与描述不符", "Item arrived damaged"],
    "return": ["尺码不合适", "不想要了", "颜色与图片不符", "七天无理由退货", "Wrong size"],
    "consultation": [],
}  # fmt: skip
CLOSED_SHARE = 0.8  # resolved tickets the service system marks closed (else resolved)

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
