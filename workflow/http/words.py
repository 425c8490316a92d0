"""The web pages' words in Chinese (first) and English, and which a request gets: ``?lang=``
(remembered in a cookie), else the cookie, else the browser's ``Accept-Language``, else Chinese.

The contract supplies the words for its own states and promises (``labels = { zh, en }``); these
are the pages' own. A missing English word falls back to Chinese, never to a key.
"""

from __future__ import annotations

from collections.abc import Mapping

LANGUAGES = ("zh", "en")
DEFAULT = "zh"
COOKIE = "ff_lang"

WORDS: dict[str, tuple[str, str]] = {
    # the portal
    "portal.title": ("故障报修", "Report a fault"),
    "portal.intro": (
        "请填写下表报修故障或咨询问题。7x24 小时服务热线同样受理。",
        "Tell us what is wrong, or ask a question. The 7x24 hotline takes reports as well.",
    ),
    "unit": ("单位", "Unit"),
    "name": ("联系人", "Your name"),
    "phone": ("联系电话", "Phone"),
    "what": ("故障描述", "What is wrong"),
    "impact": ("业务是否中断？", "Is the business stopped?"),
    "impact.no": ("否，业务基本正常", "No, it mostly works"),
    "impact.partly": ("部分业务受限", "Partly"),
    "impact.stopped": ("是，业务完全中断", "Yes, completely"),
    "attachments": (
        "附件文件名（每行一个，可选）",
        "Attachment names (one per line, optional)",
    ),
    "send": ("提交", "Send"),
    "sent.title": ("报修已受理", "Your report is received"),
    "sent.id": ("工单号", "Ticket"),
    "sent.link": (
        "请保存以下私人跟踪链接，凭此链接查看处理进度：",
        "Keep this private tracking link; it shows how your report is handled:",
    ),
    "again": ("再报一个故障", "Report another fault"),
    # the tracking page
    "track.title": ("处理进度", "Progress"),
    "state": ("当前状态", "State"),
    "promises": ("服务承诺", "Our promises"),
    "promise": ("承诺", "Promise"),
    "due": ("期限", "Due"),
    "done": ("完成时间", "Done"),
    "kept": ("结果", "Kept?"),
    "kept.yes": ("已按时完成", "kept"),
    "kept.no": ("已超时", "missed"),
    "kept.open": ("进行中", "open"),
    "kept.paused": ("暂停", "paused"),
    "timeline": ("处理记录", "Timeline"),
    "report": ("处理报告", "Handling report"),
    "add": ("补充信息", "Add information"),
    "add.send": ("发送", "Send"),
    "add.done": ("已收到您的补充信息。", "Thank you: your information was added."),
    "event.intake": ("收到报修", "report received"),
    "event.note": ("您补充了信息", "you added information"),
    "event.reclassify": ("重新评估了故障等级", "the fault was re-assessed"),
    "event.hold": ("暂停计时（等待条件）", "clocks paused (waiting)"),
    "event.resume": ("恢复处理", "handling resumed"),
    # errors and messages
    "error.title": ("无法处理", "Not done"),
    "error.form": (
        "表单已过期或无效，请重新填写。",
        "The form is stale or not valid: fill it in again.",
    ),
    "error.replay": (
        "此表单已提交过，未重复受理。",
        "This form was sent already; nothing was added.",
    ),
    "error.rate": (
        "提交过于频繁，请稍后再试。",
        "Too many reports from here: try again later.",
    ),
    "error.size": ("内容过长。", "The form is too large."),
    "error.missing": ("请填写：", "Please fill in: "),
    "error.track": ("跟踪链接无效。", "This tracking link is not valid."),
    "back": ("返回", "Back"),
    # the duty board
    "login.title": ("值班登录", "Duty board login"),
    "login.token": ("访问令牌", "Token"),
    "login.hint": (
        "使用 faultflow token create --scope read（或 operate）生成的令牌。",
        "A token made with faultflow token create --scope read (or operate).",
    ),
    "login.send": ("登录", "Log in"),
    "login.unknown": ("令牌无效或已撤销。", "That token is not known, or was revoked."),
    "login.scope": ("此令牌没有 read 权限。", "This token lacks the scope read."),
    "logout": ("退出", "Log out"),
    "board.title": ("值班看板", "Duty board"),
    "board.open": ("未关闭工单", "open tickets"),
    "board.live": ("实时", "live"),
    "board.offline": ("连接中断，正在重连…", "connection lost, reconnecting…"),
    "board.filter": ("筛选", "Filter"),
    "board.all": ("全部", "all"),
    "board.tier": ("等级", "Tier"),
    "board.owner": ("负责人", "Owner"),
    "board.title_col": ("标题", "Title"),
    "board.clocks": ("承诺倒计时", "Promises"),
    "board.more": (
        "仅显示最紧急的 {shown} 个（共 {total} 个未关闭工单），请用筛选缩小范围。",
        "The {shown} most urgent of {total} open tickets: narrow with the filters.",
    ),
    "board.none": ("没有未关闭的工单。", "No open tickets."),
    "board.report": ("合规报告", "Compliance report"),
    "board.read_only": (
        "此令牌只能查看（需要 operate 权限）。",
        "This token may look, not act (it needs operate).",
    ),
    "board.stale": (
        "工单已被他人更新，请查看最新状态后再操作。",
        "The ticket changed meanwhile: here it is as it is now; look again before acting.",
    ),
    "ticket.actions": ("操作", "Actions"),
    "ticket.reason": ("原因", "Reason"),
    "ticket.note": ("备注", "Note"),
    "ticket.hold": ("暂停计时", "Hold"),
    "ticket.resume": ("恢复", "Resume"),
    "ticket.reclassify": ("调整等级", "Reclassify"),
    "ticket.notes": ("添加备注", "Add a note"),
    "ticket.ack": ("确认（停止呼叫）", "Acknowledge (stop the pages)"),
    "ticket.escalate": ("升级", "Escalate"),
    "ticket.assign": ("移交给", "Hand over to"),
    "ticket.clocks": ("时钟", "Clocks"),
    "ticket.history": ("完整记录", "History"),
    "ticket.final": ("工单已关闭。", "The ticket is closed."),
    "ticket.carries": ("关联告警", "Alerts it carries"),
    "ticket.firing": ("告警中", "firing"),
    "ticket.fired": ("触发次数", "fired"),
    "ticket.resolved": ("恢复次数", "resolved"),
    "ticket.refused": ("当前不满足：", "Refused as things stand: "),
    "report.period": ("统计区间", "Period"),
    "report.show": ("查看", "Show"),
    "language": ("English", "中文"),
}


def language(query: Mapping[str, str], cookies: Mapping[str, str], accept: str) -> str:
    """The language of a request (one of :data:`LANGUAGES`)."""
    for chosen in (query.get("lang"), cookies.get(COOKIE)):
        if chosen in LANGUAGES:
            return str(chosen)
    best, best_q = DEFAULT, -1.0
    for i, part in enumerate(accept.split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and q - i * 1e-6 > best_q:
            best, best_q = primary, q - i * 1e-6
    return best


class Words:
    """``words["key"]`` in one language; ``words.of(labels, fallback)`` for the contract's."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self._i = LANGUAGES.index(lang)

    def __getitem__(self, key: str) -> str:
        pair = WORDS[key]
        return pair[self._i] or pair[0]

    @property
    def known(self) -> Mapping[str, tuple[str, str]]:
        """Every key this table has (a template asks before it names a key of the contract's)."""
        return WORDS

    def of(self, labels: Mapping[str, str], fallback: str) -> str:
        return labels.get(self.lang) or labels.get(DEFAULT) or fallback

    def other(self) -> str:
        """The language the switch on the page leads to."""
        return LANGUAGES[1 - self._i]

    def __repr__(self) -> str:
        return f"Words({self.lang!r})"
