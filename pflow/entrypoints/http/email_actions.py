"""Deciding from the e-mail: the pages a task e-mail's approve and reject links open (outside /api and its
OpenAPI document).

``GET /email-actions/<token>`` shows what the link would do (ticket, step, requester, the decision) and a form
to confirm it; it never acts, so a mail scanner following links decides nothing. ``POST`` to the same address
(form field ``comment``: required to reject) takes the decision as the link's recipient, through the same use
case as the API. The signed token is the credential: no login, no session, no CSRF token (a forged form
would need the token, which only the recipient's mailbox has). The token sits in the address, so these pages
are never stored (``Cache-Control: no-store``) and never passed on as a referrer (``Referrer-Policy:
no-referrer``). Pages are in the recipient's language (``?lang=en|zh`` overrides).
"""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Blueprint, Response, render_template, request, send_from_directory

from pflow.domain.errors import DomainError
from pflow.domain.model import COMMENT_MAX
from pflow.entrypoints.http import audit
from pflow.entrypoints.http.context import container
from pflow.service import email_actions as ea

blp = Blueprint("email_actions", __name__, url_prefix="/email-actions", template_folder="templates")
ASSETS = Path(__file__).parent / "templates" / "email_actions"
LANGUAGES = ("en", "zh")

#: each problem code's HTTP status
STATUS = {ea.INVALID: 404, ea.EXPIRED: 410, ea.USED: 410, ea.CLOSED: 410, ea.NOT_ALLOWED: 403, ea.NO_USER: 403,
          ea.NO_SIMPLE_DECISION: 409}

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "html_lang": "en",
        "other_language": "中文",
        "brand": "PFlow",
        "confirm.approve": "Approve this step?",
        "confirm.reject": "Reject this step?",
        "ticket": "Ticket",
        "step": "Step",
        "requester": "Requester",
        "decision": "Decision",
        "approve": "Approve",
        "reject": "Reject",
        "comment.required": "Comment (required: say why)",
        "comment.optional": "Comment (optional)",
        "button.approve": "Confirm: approve",
        "button.reject": "Confirm: reject",
        "nothing_yet": "Nothing is decided until you confirm.",
        "as": "You decide as {name}.",
        "open_ticket": "Open the ticket in PFlow",
        "open_task": "Open the step in PFlow",
        "open_pflow": "Open PFlow",
        "done.approve": "Approved",
        "done.reject": "Rejected",
        "done.text.approve": "You approved {step} of \u201c{title}\u201d.",
        "done.text.reject": "You rejected {step} of \u201c{title}\u201d.",
        "done.next": "Next: {steps}.",
        "error.title": "The decision was not taken",
        "error.comment_required": "A rejection needs a comment: say why.",
        "error.comment": "The comment is not valid: {reason}",
        "problem.invalid": "This link is not valid",
        "problem.invalid.text": "It may have been changed or copied only in part. Open the ticket in PFlow "
                                "instead.",
        "problem.expired": "This link has expired",
        "problem.expired.text": "Decision links work for a limited time. Open the step in PFlow to decide it there.",
        "problem.used": "This link was used already",
        "problem.used.text": "The decision of this e-mail has been taken (its approve and reject links work once "
                             "between them).",
        "problem.closed": "This step is no longer open",
        "problem.closed.text": "Someone has decided it already, or the ticket was withdrawn or removed.",
        "problem.not_allowed": "You cannot decide this step",
        "problem.not_allowed.text": "You may no longer act on this step.",
        "refusal.own_ticket": "It is your own ticket: separation of duties leaves the decision to someone else.",
        "refusal.last_editor": "You changed this ticket's details: separation of duties leaves the decision to "
                               "someone else.",
        "refusal.second_decision": "You decided another step of this ticket: the four-eyes rule leaves this one "
                                   "to someone else.",
        "refusal.not_a_candidate": "The step is no longer offered to you (it went to someone else, or you are no "
                                   "longer in the group it is for).",
        "problem.no_user": "This link's recipient is no longer a PFlow user",
        "problem.no_user.text": "Ask an administrator if you should still have access.",
        "problem.form": "This step needs more than a decision",
        "problem.form.text": "Its form asks for more: open it in PFlow to fill it in.",
        "problem.unavailable": "PFlow cannot check this link right now",
        "problem.unavailable.text": "Try again in a moment.",
    },
    "zh": {
        "html_lang": "zh-CN",
        "other_language": "English",
        "brand": "PFlow",
        "confirm.approve": "批准此步骤？",
        "confirm.reject": "驳回此步骤？",
        "ticket": "工单",
        "step": "步骤",
        "requester": "申请人",
        "decision": "决定",
        "approve": "批准",
        "reject": "驳回",
        "comment.required": "意见（必填：请说明原因）",
        "comment.optional": "意见（选填）",
        "button.approve": "确认批准",
        "button.reject": "确认驳回",
        "nothing_yet": "确认之前不会做出任何决定。",
        "as": "您以 {name} 的身份做出决定。",
        "open_ticket": "在 PFlow 中打开工单",
        "open_task": "在 PFlow 中打开此步骤",
        "open_pflow": "打开 PFlow",
        "done.approve": "已批准",
        "done.reject": "已驳回",
        "done.text.approve": "您已批准工单“{title}”的{step}。",
        "done.text.reject": "您已驳回工单“{title}”的{step}。",
        "done.next": "下一步：{steps}。",
        "error.title": "未能做出决定",
        "error.comment_required": "驳回时必须填写意见，说明原因。",
        "error.comment": "意见无效：{reason}",
        "problem.invalid": "此链接无效",
        "problem.invalid.text": "链接可能被改动或未完整复制。请改为在 PFlow 中打开工单。",
        "problem.expired": "此链接已过期",
        "problem.expired.text": "决定链接仅在有限时间内有效。请在 PFlow 中打开此步骤进行处理。",
        "problem.used": "此链接已被使用",
        "problem.used.text": "此邮件的决定已经做出（同一封邮件中的批准和驳回链接合计只能使用一次）。",
        "problem.closed": "此步骤已不再待处理",
        "problem.closed.text": "已有他人处理，或工单已被撤回或删除。",
        "problem.not_allowed": "您不能处理此步骤",
        "problem.not_allowed.text": "您已无权处理此步骤。",
        "refusal.own_ticket": "这是您自己的工单：按照职责分离，须由他人做出决定。",
        "refusal.last_editor": "您修改过此工单的内容：按照职责分离，须由他人做出决定。",
        "refusal.second_decision": "您已处理过此工单的另一个步骤：按照四眼原则，此步骤须由他人处理。",
        "refusal.not_a_candidate": "此步骤已不再分配给您（已交给他人，或您已不在其对应的组中）。",
        "problem.no_user": "此链接的收件人已不是 PFlow 用户",
        "problem.no_user.text": "如仍需访问，请联系管理员。",
        "problem.form": "此步骤需要的不只是一个决定",
        "problem.form.text": "其表单还需填写其他内容：请在 PFlow 中打开并填写。",
        "problem.unavailable": "PFlow 暂时无法检查此链接",
        "problem.unavailable.text": "请稍后再试。",
    },
}


def _language(view: ea.LinkView | None) -> str:
    """?lang= first, then the recipient's language, then the browser's, else English."""
    asked = (request.args.get("lang") or "").lower()
    if asked.startswith("zh"):
        return "zh"
    if asked.startswith("en"):
        return "en"
    if view is not None and view.user is not None and view.user.language in LANGUAGES:
        return view.user.language
    best = request.accept_languages.best_match(["en", "zh", "zh-CN"], default="en")
    return "zh" if best.startswith("zh") else "en"


def _links(view: ea.LinkView, done: bool = False) -> list[tuple[str, str]]:
    """(label key, address) of where to go in PFlow instead: the step while it is open, the ticket, else PFlow."""
    links = container().links()
    ticket_id = view.ticket.id if view.ticket is not None else view.ticket_id
    task_id = view.step.task_id if view.step is not None else view.task_id
    out = []
    if task_id and not done and view.problem in (ea.EXPIRED, ea.NOT_ALLOWED, ea.NO_SIMPLE_DECISION, None):
        out.append(("open_task", links.task(task_id)))
    if ticket_id and view.problem != ea.NO_USER:
        out.append(("open_ticket", links.ticket(ticket_id)))
    if not out:
        out.append(("open_pflow", links.base + "/"))
    return out


def _requester_name(view: ea.LinkView) -> str | None:
    if view.ticket is None:
        return None
    user = container().users().get(view.ticket.requester)
    return user.display_name if user is not None and user.display_name else view.ticket.requester


def _page(template_state: str, view: ea.LinkView, status: int = 200, **context) -> Response:
    lang = _language(view)
    t = TEXT[lang]
    other = "zh" if lang == "en" else "en"
    body = render_template("email_actions/page.html", state=template_state, view=view, t=t, lang=lang,
                           switch_url=f"{request.path}?lang={other}",
                           action_url=request.path + (f"?lang={lang}" if request.args.get("lang") else ""),
                           links=_links(view, done=template_state == "done"), requester=_requester_name(view),
                           stylesheet=f"{blp.url_prefix}/page.css", comment_max=COMMENT_MAX, **context)
    response = Response(body, status=status, mimetype="text/html")
    return response


def _problem(view: ea.LinkView) -> Response:
    return _page("problem", view, STATUS.get(view.problem or "", 400))


def _inspect(token: str) -> ea.LinkView | Response:
    try:
        return container().email_actions().inspect(token)
    except DomainError:  # the engine or database does not answer
        logging.getLogger(__name__).warning("an e-mail decision link could not be checked", exc_info=True)
        return _page("unavailable", ea.LinkView("unavailable"), 503)


def _error_text(t: dict[str, str], error: DomainError) -> str:
    reasons = error.details.get("comment") if isinstance(error.details, dict) else None
    if reasons:
        if any("empty" in r or "required" in r for r in reasons):
            return t["error.comment_required"]
        return t["error.comment"].format(reason=" ".join(reasons))
    return error.public_message


@blp.route("/<token>", methods=["GET", "POST"], endpoint="page")
def page(token: str):
    return _act(token) if request.method == "POST" else _show(token)


def _show(token: str) -> Response:
    view = _inspect(token)
    if isinstance(view, Response):
        return view
    if view.problem is not None:
        return _problem(view)
    return _page("confirm", view, comment="")


def _act(token: str) -> Response:
    comment = request.form.get("comment", "")
    try:
        view, ticket, error = container().email_actions().act(token, comment)
    except DomainError:
        logging.getLogger(__name__).warning("an e-mail decision could not be taken", exc_info=True)
        return _page("unavailable", ea.LinkView("unavailable"), 503)
    who = view.user.username if view.user is not None else None
    fields = {"username": who, "ticket_id": view.ticket.id if view.ticket else view.ticket_id,
              "task_id": view.step.task_id if view.step else view.task_id, "decision": view.decision}
    if view.problem is not None:
        audit.event("email_action.refused", logging.WARNING, problem=view.problem, refusal=view.refusal, **fields)
        return _problem(view)
    if error is not None:
        audit.event("email_action.failed", logging.WARNING, error=error.code, **fields)
        fresh = _inspect(token)
        if isinstance(fresh, Response):
            return fresh
        if fresh.problem is not None:  # decided meanwhile by someone else, or no longer theirs
            return _problem(fresh)
        t = TEXT[_language(view)]
        return _page("confirm", view, 422 if error.code == "validation_error" else 409, comment=comment,
                     error=_error_text(t, error))
    audit.event("email_action.decided", **fields)
    next_steps = ", ".join(s.name for s in ticket.steps) if ticket is not None and ticket.steps else ""
    return _page("done", view, next_steps=next_steps)


@blp.get("/page.css", endpoint="stylesheet")
def stylesheet():
    return send_from_directory(ASSETS, "page.css", max_age=3600)


@blp.after_request
def never_stored(response: Response) -> Response:
    """The token is in the address: no cache keeps these pages and no other site learns the address."""
    if request.endpoint == "email_actions.page":
        response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response
