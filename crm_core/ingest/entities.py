"""What can be uploaded: the entities, their fields, and the words their cells may hold.

A field is a column of the store (or, marked `virtual`, a value used to build rows, such
as an order line's time, which lands on its order). `kind` says how its cells are read
(see validate.py); `aliases` are the headers it is recognised by, English and Chinese,
compared after `header_key` (so "Customer ID", "customer_id" and "CustomerID" match).
Alias and word lists are written as space-separated strings (`A`, `W`).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from sqlalchemy import Table

from crm_core.store import models


def A(*words: str) -> tuple[str, ...]:
    """Aliases from space-separated strings."""
    return tuple(" ".join(words).split())


def W(table: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """{word: value} from {value: ("space-separated words", ...)}."""
    return {word: value for value, parts in table.items() for word in " ".join(parts).split()}


CUSTOMER_ALIASES = A(
    "customer_id customer customer_no customer_number cust_id",
    "client_id member_id member_no user_id buyer_id",
    "buyer_nick account_id 客户id 客户编号 客户号 客户编码",
    "会员id 会员编号 会员号 会员卡号 用户id 用户编号 买家id",
    "买家昵称 买家会员名 买家账号 顾客id 顾客编号",
)
ORDER_ID_ALIASES = A(
    "order_id order_no order_number order transaction_id",
    "invoice_no invoice invoice_number 订单号 订单编号 订单id",
    "主订单编号 子订单编号 交易号 交易编号 单号 小票号 流水号",
)
ORDER_TIME_ALIASES = A(
    "ordered_at order_date order_time created_at created order_created_at",
    "order_purchase_timestamp purchase_timestamp order_timestamp timestamp",
    "purchase_date purchase_time transaction_date",
    "invoice_date date datetime time 下单时间 创建时间",
    "订单创建时间 下单日期 订单日期 成交时间 交易时间",
    "购买时间 购买日期 付款时间 支付时间 日期 时间",
)
AMOUNT_ALIASES = A(
    "amount order_amount total total_amount paid_amount",
    "payment_amount payment_value payment revenue sales value dollar_value",
    "order_value gmv 实付金额 订单金额 支付金额 实付款",
    "买家实付金额 实收金额 付款金额 订单总金额 总金额",
    "应付金额 消费金额 销售额 成交金额 金额",
)
STATUS_ALIASES = A("status order_status state 订单状态 交易状态 状态")
SKU_ALIASES = A(
    "sku stock_code product_id product_code item_id item_code",
    "goods_id 商品编码 商品id 商品编号 商家编码 货号 sku编码",
)
CATEGORY_ALIASES = A("category product_category 品类 类目 商品类目 商品分类", "分类")

ORDER_STATUS_WORDS: dict[str, str] = W(
    {
        "paid": (
            "paid complete completed success successful succeeded",
            "done shipped delivered fulfilled closed_won settled",
            "captured invoiced approved processing",
            "已付款 已支付 付款成功 支付成功 已完成 完成 部分发货 已出库 待出库",
            "交易成功 交易完成 成功 已发货 待发货 卖家已发货",
            "买家已付款 等待卖家发货 等待买家确认收货 已签收 已收货",
            "待收货 待评价 已评价",
        ),
        "unpaid": (
            "unpaid pending pending_payment awaiting_payment not_paid created",
            "open 待付款 未付款 未支付 待支付 等待买家付款 等待付款",
        ),
        "cancelled": (
            "cancelled canceled cancel void voided closed failed unavailable",
            "已取消 取消 交易关闭 已关闭 关闭 订单关闭 交易取消 作废",
        ),
        "refunded": (
            "refunded refund returned return chargeback reversed",
            "已退款 退款成功 退款 退款完成 已退货 退货 退货退款",
            "全额退款",
        ),
    }
)
SALES_CHANNEL_WORDS: dict[str, str] = W(
    {
        "online": (
            "online web website app ecommerce e-commerce shop webshop",
            "mobile miniprogram tmall taobao jd pinduoduo douyin 线上",
            "网店 官网 商城 小程序 天猫 淘宝 京东 拼多多 抖音 电商",
            "网上 app端",
        ),
        "store": (
            "store offline pos retail in_store 门店 线下 实体店 专柜",
            "店铺",
        ),
        "wecom": ("wecom wechat wechat_work 企业微信 企微 微信 社群 私域",),
    }
)
CONTACT_CHANNEL_WORDS: dict[str, str] = W(
    {
        "sms": ("sms text text_message 短信 手机短信",),
        "email": ("email e-mail mail edm 邮件 电子邮件 邮箱",),
        "wecom": ("wecom wechat 企业微信 企微 微信",),
    }
)
EVENT_TYPE_WORDS: dict[str, str] = W(
    {
        "browse": ("browse view pv page_view visit 浏览 访问 查看",),
        "cart": ("cart add_to_cart addtocart 加购 加入购物车 购物车",),
        "favourite": ("favourite favorite fav collect wishlist like 收藏 关注",),
    }
)
TICKET_TYPE_WORDS: dict[str, str] = W(
    {
        "logistics": ("logistics shipping delivery 物流 快递 配送 物流问题",),
        "quality": ("quality defect product_quality 质量 质量问题 品质",),
        "return": ("return refund exchange 退货 退换货 退款 换货 售后",),
        "consultation": (
            "consultation inquiry enquiry question consult 咨询",
            "售前咨询 询问",
        ),
    }
)
PRIORITY_WORDS: dict[str, str] = W(
    {
        "low": ("low 低 p4",),
        "normal": ("normal medium 普通 中 一般 p3",),
        "high": ("high 高 重要 p2",),
        "urgent": ("urgent critical 紧急 加急 p1 p0",),
    }
)
TICKET_STATUS_WORDS: dict[str, str] = W(
    {
        "open": ("open new pending_assignment 待处理 新建 待分配 未处理",),
        "in_progress": ("in_progress processing pending on_hold 处理中 跟进中 进行中 挂起",),
        "resolved": ("resolved solved done 已解决 已处理 已完成",),
        "closed": ("closed 已关闭 关闭 已结案 结案",),
    }
)
GENDER_WORDS: dict[str, str] = W(
    {
        "male": ("male m man 男 男性 先生",),
        "female": ("female f woman 女 女性 女士",),
        "unknown": ("unknown other 保密 未知 其他 u",),
    }
)
CONTROL_WORDS = A("control holdout hold_out ctrl 对照组 对照 控制组 空白组")


@dataclass(frozen=True)
class Field:
    """One target of the mapping.

    kind: id, text, datetime, date, money, number, score, bool, phone, email or words.
    words: for kind 'words', the table of accepted words (see values.map_words).
    low/high: the accepted range of a score. length: the store's column length (text
    longer than that is cut; an id longer than that is rejected). multi: several source
    columns may map to it (campaign acceptance columns).
    """

    name: str
    kind: str
    required: bool = False
    aliases: tuple[str, ...] = ()
    pattern: str | None = None
    words: dict[str, str] | None = None
    low: int | None = None
    high: int | None = None
    length: int | None = None
    virtual: bool = False
    multi: bool = False


@dataclass(frozen=True)
class EntitySpec:
    """An uploadable entity.

    key: the natural key columns of `table`. derived_key: when the file has no column for
    the (single) key, it is derived from these fields plus the occurrence number of
    identical rows (see validate.derive_ids). main_time: the field checked against the
    as-of date. has_customer: rows name a customer (unknown ones get a placeholder).
    """

    name: str
    table: Table
    key: tuple[str, ...]
    fields: tuple[Field, ...]
    derived_key: tuple[str, ...] = ()
    main_time: str | None = None
    has_customer: bool = True
    field_index: dict[str, Field] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self.field_index.update({f.name: f for f in self.fields})

    def field(self, name: str) -> Field:
        return self.field_index[name]

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.required)


def _text(name: str, aliases: tuple[str, ...], length: int | None = None) -> Field:
    return Field(name, "text", aliases=aliases, length=length)


CUSTOMER_FIELD = Field("customer_id", "id", required=True, aliases=CUSTOMER_ALIASES, length=64)

CUSTOMERS = EntitySpec(
    name="customers",
    table=models.customers,
    key=("customer_id",),
    has_customer=False,
    fields=(
        Field("customer_id", "id", required=True, aliases=("id", *CUSTOMER_ALIASES), length=64),
        Field(
            "name",
            "text",
            aliases=A(
                "name customer_name full_name 姓名 客户姓名 会员姓名",
                "客户名称 收货人 收货人姓名 昵称",
            ),
            length=128,
        ),
        Field(
            "phone",
            "phone",
            aliases=A(
                "phone mobile tel telephone phone_number mobile_phone",
                "cellphone 手机号 手机 手机号码 联系电话 电话 联系方式",
                "收货人手机 联系手机",
            ),
            length=32,
        ),
        Field(
            "email",
            "email",
            aliases=A("email e_mail mail email_address 邮箱 电子邮箱 电子邮件", "邮件地址"),
            length=254,
        ),
        Field("gender", "words", aliases=A("gender sex 性别"), words=GENDER_WORDS),
        Field("birthday", "date", aliases=A("birthday birth_date date_of_birth dob 生日 出生日期")),
        Field(
            "province",
            "text",
            aliases=A("province state region 省份 省 收货省份 所在省份"),
            length=32,
        ),
        Field("city", "text", aliases=A("city town 城市 市 收货城市 所在城市"), length=32),
        Field(
            "channel",
            "words",
            aliases=A("channel source signup_channel 渠道 来源 注册渠道", "来源渠道"),
            words=SALES_CHANNEL_WORDS,
        ),
        Field(
            "signup_at",
            "datetime",
            aliases=A(
                "signup_at signup_date registered_at registration_date",
                "register_time join_date created_at dt_customer 注册时间",
                "注册日期 入会时间 入会日期 开卡时间 创建时间",
            ),
        ),
        Field(
            "opt_out_sms",
            "bool",
            aliases=A("opt_out_sms sms_opt_out sms_unsubscribed 短信退订", "拒收短信 退订短信"),
        ),
        Field(
            "opt_out_email",
            "bool",
            aliases=A(
                "opt_out_email email_opt_out unsubscribed", "email_unsubscribed 邮件退订 退订邮件"
            ),
        ),
        Field(
            "opt_out_wecom", "bool", aliases=A("opt_out_wecom wecom_opt_out 企微退订 企业微信退订")
        ),
        Field(
            "campaign_response",
            "bool",
            pattern=r"^(acceptedcmp\d+|response|campaign\d+response|活动\d+响应)$",
            virtual=True,
            multi=True,
        ),
        Field(
            "campaign_cost_per_contact",
            "money",
            aliases=A("z_costcontact cost_per_contact contact_cost 单次触达成本"),
            virtual=True,
        ),
        Field(
            "campaign_revenue_per_response",
            "money",
            aliases=A("z_revenue revenue_per_response response_revenue", "单次响应收入"),
            virtual=True,
        ),
    ),
)

ORDERS = EntitySpec(
    name="orders",
    table=models.orders,
    key=("order_id",),
    derived_key=("customer_id", "ordered_at", "amount"),
    main_time="ordered_at",
    fields=(
        Field("order_id", "id", aliases=ORDER_ID_ALIASES, length=64),
        CUSTOMER_FIELD,
        Field("ordered_at", "datetime", required=True, aliases=ORDER_TIME_ALIASES),
        Field("amount", "money", required=True, aliases=AMOUNT_ALIASES),
        Field("status", "words", aliases=STATUS_ALIASES, words=ORDER_STATUS_WORDS),
        Field(
            "channel",
            "words",
            aliases=A("channel sales_channel source platform 渠道 销售渠道 来源", "平台"),
            words=SALES_CHANNEL_WORDS,
        ),
        Field(
            "discount",
            "money",
            aliases=A("discount discount_amount coupon 优惠 优惠金额 折扣", "折扣金额 优惠券金额"),
        ),
        Field("category", "text", aliases=CATEGORY_ALIASES, length=64),
        Field("paid_at", "datetime", aliases=A("paid_at payment_time pay_time 付款时间 支付时间")),
        Field(
            "refund_of",
            "id",
            aliases=A(
                "refund_of original_order_id original_order 原订单号", "原订单编号 关联订单号"
            ),
            length=64,
        ),
        Field("campaign_id", "id", aliases=A("campaign_id 活动id 活动编号"), length=64),
    ),
)

ORDER_LINES = EntitySpec(
    name="order_lines",
    table=models.order_lines,
    key=("order_id", "line_no"),
    main_time="ordered_at",
    fields=(
        Field("order_id", "id", required=True, aliases=ORDER_ID_ALIASES, length=64),
        CUSTOMER_FIELD,
        Field("ordered_at", "datetime", required=True, aliases=ORDER_TIME_ALIASES, virtual=True),
        Field(
            "quantity",
            "number",
            required=True,
            aliases=A("quantity qty units 数量 购买数量 商品数量 件数"),
        ),
        Field(
            "unit_price",
            "money",
            required=True,
            aliases=A("unit_price price unitprice 单价 商品单价 价格 售价", "成交单价"),
        ),
        Field("sku", "id", aliases=SKU_ALIASES, length=64),
        Field(
            "description",
            "text",
            aliases=A(
                "description product_name item_name product title",
                "商品名称 商品标题 宝贝标题 品名 商品",
            ),
            length=255,
        ),
        Field("category", "text", aliases=CATEGORY_ALIASES, length=64),
        Field(
            "amount", "money", aliases=A("line_amount line_total subtotal 小计 商品金额 商品总价")
        ),
        Field("status", "words", aliases=STATUS_ALIASES, words=ORDER_STATUS_WORDS, virtual=True),
        Field(
            "channel",
            "words",
            aliases=A("channel 渠道 销售渠道 平台"),
            words=SALES_CHANNEL_WORDS,
            virtual=True,
        ),
    ),
)

EVENTS = EntitySpec(
    name="events",
    table=models.events,
    key=("event_id",),
    derived_key=("customer_id", "occurred_at", "event_type", "sku"),
    main_time="occurred_at",
    fields=(
        Field("event_id", "id", aliases=A("event_id 事件id 行为id 日志id"), length=64),
        CUSTOMER_FIELD,
        Field(
            "event_type",
            "words",
            required=True,
            aliases=A(
                "event_type event action behavior behaviour behavior_type",
                "type 行为 行为类型 事件类型 事件",
            ),
            words=EVENT_TYPE_WORDS,
        ),
        Field(
            "occurred_at",
            "datetime",
            required=True,
            aliases=A(
                "occurred_at event_time timestamp time datetime date", "行为时间 发生时间 时间 日期"
            ),
        ),
        Field("category", "text", aliases=CATEGORY_ALIASES, length=64),
        Field("sku", "id", aliases=SKU_ALIASES, length=64),
    ),
)

TICKETS = EntitySpec(
    name="tickets",
    table=models.tickets,
    key=("ticket_id",),
    main_time="created_at",
    fields=(
        Field(
            "ticket_id",
            "id",
            required=True,
            aliases=A("ticket_id ticket ticket_no case_id id 工单号 工单编号", "工单id 服务单号"),
            length=64,
        ),
        CUSTOMER_FIELD,
        Field(
            "ticket_type",
            "words",
            required=True,
            aliases=A("ticket_type type issue_type category 工单类型 问题类型", "类型"),
            words=TICKET_TYPE_WORDS,
        ),
        Field("priority", "words", aliases=A("priority 优先级 紧急程度"), words=PRIORITY_WORDS),
        Field("channel", "text", aliases=A("channel source 渠道 来源 受理渠道"), length=16),
        Field(
            "created_at",
            "datetime",
            required=True,
            aliases=A(
                "created_at created opened_at created_time 创建时间", "提交时间 建单时间 受理时间"
            ),
        ),
        Field(
            "first_response_at",
            "datetime",
            aliases=A(
                "first_response_at first_reply_at first_response_time",
                "首次响应时间 首次回复时间 首响时间",
            ),
        ),
        Field(
            "resolved_at",
            "datetime",
            aliases=A(
                "resolved_at closed_at solved_at resolved_time 解决时间",
                "完结时间 关闭时间 结案时间",
            ),
        ),
        Field(
            "csat",
            "score",
            aliases=A("csat satisfaction rating 满意度 评分 满意度评分"),
            low=1,
            high=5,
        ),
        Field("is_complaint", "bool", aliases=A("is_complaint complaint 投诉 是否投诉")),
        Field("order_id", "id", aliases=A("order_id order_no 订单号 订单编号"), length=64),
        Field(
            "status",
            "words",
            aliases=A("status ticket_status state 状态 工单状态 处理状态"),
            words=TICKET_STATUS_WORDS,
        ),
        Field(
            "agent",
            "text",
            aliases=A("agent assignee owner handler 客服 客服人员 处理人 负责人 坐席"),
            length=64,
        ),
        Field(
            "reason",
            "text",
            aliases=A("reason return_reason cause 原因 退货原因 问题原因 投诉原因"),
            length=255,
        ),
    ),
)

CAMPAIGNS = EntitySpec(
    name="campaigns",
    table=models.campaigns,
    key=("campaign_id",),
    has_customer=False,
    fields=(
        Field(
            "campaign_id",
            "id",
            required=True,
            aliases=A("campaign_id campaign id 活动id 活动编号 营销活动id"),
            length=64,
        ),
        Field(
            "name", "text", aliases=A("name campaign_name title 活动名称 名称 活动主题"), length=128
        ),
        Field(
            "channel",
            "words",
            required=True,
            aliases=A("channel 渠道 触达渠道 发送渠道"),
            words=CONTACT_CHANNEL_WORDS,
        ),
        Field(
            "started_at",
            "datetime",
            required=True,
            aliases=A(
                "started_at start_date start start_time launch_date",
                "开始时间 开始日期 发送时间 上线时间",
            ),
        ),
        Field(
            "ended_at", "datetime", aliases=A("ended_at end_date end end_time 结束时间 结束日期")
        ),
        Field(
            "cost", "money", aliases=A("cost spend total_cost budget 成本 费用 花费 总成本 投入")
        ),
        Field(
            "cost_per_contact",
            "money",
            aliases=A("cost_per_contact unit_cost 单条成本 单次触达成本"),
        ),
        Field("revenue_per_response", "money", aliases=A("revenue_per_response 单次响应收入")),
        Field("description", "text", aliases=A("description notes 描述 说明 备注")),
    ),
)

CAMPAIGN_TOUCHES = EntitySpec(
    name="campaign_touches",
    table=models.campaign_touches,
    key=("campaign_id", "customer_id"),
    main_time="sent_at",
    fields=(
        Field(
            "campaign_id",
            "id",
            required=True,
            aliases=A("campaign_id campaign 活动id 活动编号"),
            length=64,
        ),
        CUSTOMER_FIELD,
        Field(
            "variant",
            "text",
            aliases=A("variant group arm test_group ab_group 组别 分组 版本", "实验组"),
            length=16,
        ),
        Field("is_control", "bool", aliases=A("is_control control holdout 是否对照组")),
        Field("sent_at", "datetime", aliases=A("sent_at send_time sent_time 发送时间 触达时间")),
        Field("opened_at", "datetime", aliases=A("opened_at open_time 打开时间")),
        Field("clicked_at", "datetime", aliases=A("clicked_at click_time 点击时间")),
        Field("opened", "bool", aliases=A("opened is_opened open 是否打开 已打开"), virtual=True),
        Field(
            "clicked", "bool", aliases=A("clicked is_clicked click 是否点击 已点击"), virtual=True
        ),
        Field(
            "responded",
            "bool",
            aliases=A("responded response converted accepted 是否响应 是否转化", "是否购买"),
        ),
    ),
)

SURVEY_RESPONSES = EntitySpec(
    name="survey_responses",
    table=models.survey_responses,
    key=("response_id",),
    derived_key=("customer_id", "responded_at", "nps", "csat"),
    main_time="responded_at",
    fields=(
        Field(
            "response_id",
            "id",
            aliases=A(
                "response_id answer_id survey_response_id review_id 答卷id 答卷编号",
                "问卷编号 序号 评价id",
            ),
            length=64,
        ),
        CUSTOMER_FIELD,
        Field(
            "responded_at",
            "datetime",
            required=True,
            aliases=A(
                "responded_at submitted_at submit_time answered_at date",
                "review_creation_date review_answer_timestamp reviewed_at 评价时间",
                "time 提交时间 答题时间 填写时间 日期",
            ),
        ),
        Field(
            "nps",
            "score",
            aliases=A(
                "nps nps_score recommend likelihood_to_recommend 推荐意愿",
                "推荐度 净推荐值 推荐分 推荐指数",
            ),
            low=0,
            high=10,
        ),
        Field(
            "csat",
            "score",
            aliases=A(
                "csat satisfaction csat_score review_score rating 满意度 满意度评分 满意分 评分"
            ),
            low=1,
            high=5,
        ),
        Field(
            "comment",
            "text",
            aliases=A(
                "comment comments feedback remarks review_comment_message review_text",
                "评论 意见 反馈 建议 留言 备注 评价内容",
            ),
        ),
        Field(
            "order_id",
            "id",
            aliases=A("order_id order_no 订单号 订单编号"),
            length=64,
            virtual=True,
        ),
    ),
)

ENTITIES: dict[str, EntitySpec] = {
    spec.name: spec
    for spec in (
        CUSTOMERS,
        ORDERS,
        ORDER_LINES,
        EVENTS,
        TICKETS,
        CAMPAIGNS,
        CAMPAIGN_TOUCHES,
        SURVEY_RESPONSES,
    )
}
ENTITY_NAMES: tuple[str, ...] = tuple(ENTITIES)


def entity_spec(entity: str) -> EntitySpec:
    """The spec of `entity`; InputError for an unknown name."""
    from crm_core.errors import InputError

    if entity not in ENTITIES:
        raise InputError("data.error.unknown_entity", entity=entity, known=", ".join(ENTITIES))
    return ENTITIES[entity]


def header_key(header: str) -> str:
    """A header as compared with aliases: NFKC, lower case, units in brackets dropped
    ('实付金额(元)'), spaces, '_', '-', '.' and '/' removed."""
    text = unicodedata.normalize("NFKC", str(header)).lower().strip()
    text = re.sub(r"[(\[（【][^)\]）】]*[)\]）】]", "", text)
    return re.sub(r"[\s_\-./:：]+", "", text)
