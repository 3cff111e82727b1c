"""What each e-mail says, in English and Chinese: a subject, a headline and lines, each a ``str.format``
pattern over the notification's values (title, step, actor, requester, comment, error, reference, due, by,
reason). A value a pattern names but the notification lacks is left out with its line."""

from __future__ import annotations

PHRASES: dict[str, dict[str, dict[str, object]]] = {
    "task.created": {
        "en": {"subject": "Action needed: {step} of \u201c{title}\u201d",
               "headline": "{step} awaits you",
               "lines": ["{requester} asks for a decision on \u201c{title}\u201d."]},
        "zh": {"subject": "\u5f85\u529e\uff1a\u201c{title}\u201d\u7684{step}",
               "headline": "{step}\u7b49\u5f85\u60a8\u5904\u7406",
               "lines": ["{requester} \u8bf7\u60a8\u5ba1\u6279\u201c{title}\u201d\u3002"]},
    },
    "task.reminder": {
        "en": {"subject": "Reminder: {step} of \u201c{title}\u201d is due {due}",
               "headline": "{step} is due soon",
               "lines": ["\u201c{title}\u201d from {requester} waits for you; it is due {due}."]},
        "zh": {"subject": "\u63d0\u9192\uff1a\u201c{title}\u201d\u7684{step}\u5c06\u4e8e {due} \u5230\u671f",
               "headline": "{step}\u5373\u5c06\u5230\u671f",
               "lines": ["{requester} \u7684\u201c{title}\u201d\u7b49\u5f85\u60a8\u5904\u7406\uff0c\u622a\u6b62\u65f6\u95f4 {due}\u3002"]},
    },
    "task.overdue": {
        "en": {"subject": "Overdue: {step} of \u201c{title}\u201d",
               "headline": "{step} is overdue",
               "lines": ["\u201c{title}\u201d from {requester} was due {due} and still waits for you."]},
        "zh": {"subject": "\u5df2\u903e\u671f\uff1a\u201c{title}\u201d\u7684{step}",
               "headline": "{step}\u5df2\u903e\u671f",
               "lines": ["{requester} \u7684\u201c{title}\u201d\u5e94\u4e8e {due} \u524d\u5904\u7406\uff0c\u4ecd\u5728\u7b49\u5f85\u60a8\u3002"]},
    },
    "task.completed": {
        "en": {"subject": "{actor} completed {step} of \u201c{title}\u201d",
               "headline": "{step} is done",
               "lines": ["{actor} completed {step} of your ticket \u201c{title}\u201d.", "Comment: {comment}"]},
        "zh": {"subject": "{actor} \u5df2\u5b8c\u6210\u201c{title}\u201d\u7684{step}",
               "headline": "{step}\u5df2\u5b8c\u6210",
               "lines": ["{actor} \u5df2\u5b8c\u6210\u60a8\u7684\u5de5\u5355\u201c{title}\u201d\u7684{step}\u3002", "\u5907\u6ce8\uff1a{comment}"]},
    },
    "ticket.completed": {
        "en": {"subject": "Done: \u201c{title}\u201d",
               "headline": "Your ticket is done",
               "lines": ["\u201c{title}\u201d was approved and carried out.", "Fulfilment reference: {reference}"]},
        "zh": {"subject": "\u5df2\u5b8c\u6210\uff1a\u201c{title}\u201d",
               "headline": "\u60a8\u7684\u5de5\u5355\u5df2\u5b8c\u6210",
               "lines": ["\u201c{title}\u201d\u5df2\u83b7\u6279\u51c6\u5e76\u6267\u884c\u5b8c\u6bd5\u3002", "\u6267\u884c\u7f16\u53f7\uff1a{reference}"]},
    },
    "ticket.rejected": {
        "en": {"subject": "Rejected: \u201c{title}\u201d",
               "headline": "Your ticket was rejected",
               "lines": ["\u201c{title}\u201d was rejected by {actor}.", "Comment: {comment}"]},
        "zh": {"subject": "\u5df2\u9a73\u56de\uff1a\u201c{title}\u201d",
               "headline": "\u60a8\u7684\u5de5\u5355\u88ab\u9a73\u56de",
               "lines": ["\u201c{title}\u201d\u88ab {actor} \u9a73\u56de\u3002", "\u5907\u6ce8\uff1a{comment}"]},
    },
    "ticket.withdrawn": {
        "en": {"subject": "Withdrawn: \u201c{title}\u201d",
               "headline": "A ticket was withdrawn",
               "lines": ["{actor} withdrew \u201c{title}\u201d.", "Why: {comment}"]},
        "zh": {"subject": "\u5df2\u64a4\u56de\uff1a\u201c{title}\u201d",
               "headline": "\u5de5\u5355\u5df2\u64a4\u56de",
               "lines": ["{actor} \u64a4\u56de\u4e86\u201c{title}\u201d\u3002", "\u539f\u56e0\uff1a{comment}"]},
    },
    "ticket.needs_attention": {
        "en": {"subject": "Needs attention: \u201c{title}\u201d",
               "headline": "An automated step failed",
               "lines": ["\u201c{title}\u201d stopped at {step}.", "Error: {error}",
                         "An admin can retry it from the incidents page."]},
        "zh": {"subject": "\u9700\u8981\u5904\u7406\uff1a\u201c{title}\u201d",
               "headline": "\u81ea\u52a8\u6b65\u9aa4\u5931\u8d25",
               "lines": ["\u201c{title}\u201d\u505c\u5728\u4e86{step}\u3002", "\u9519\u8bef\uff1a{error}",
                         "\u7ba1\u7406\u5458\u53ef\u5728\u6545\u969c\u9875\u9762\u91cd\u8bd5\u3002"]},
    },
    "ticket.decision_refused": {
        "en": {"subject": "Refused decision on \u201c{title}\u201d",
               "headline": "A decision taken outside PFlow was refused",
               "lines": ["{step} of \u201c{title}\u201d was completed in the engine by {by}: {reason}.",
                         "It was not applied; the process started over."]},
        "zh": {"subject": "\u201c{title}\u201d\u7684\u5ba1\u6279\u88ab\u62d2\u7edd",
               "headline": "\u7ed5\u8fc7 PFlow \u7684\u5ba1\u6279\u88ab\u62d2\u7edd",
               "lines": ["{by} \u5728\u5f15\u64ce\u4e2d\u5b8c\u6210\u4e86\u201c{title}\u201d\u7684{step}\uff1a{reason}\u3002",
                         "\u8be5\u5ba1\u6279\u672a\u751f\u6548\uff0c\u6d41\u7a0b\u5df2\u91cd\u65b0\u5f00\u59cb\u3002"]},
    },
}

#: the words around the messages, per language
WORDS = {
    "en": {"greeting": "Hello {name},", "open_ticket": "Open the ticket", "open_task": "Open the task in PFlow",
           "approve": "Approve", "reject": "Reject",
           "decide": "Decide from this e-mail (you confirm on the next page):",
           "links_expire": "These links work once and expire in {days} days.",
           "footer": "You get this e-mail from PFlow. Choose what you receive: {url}",
           "digest_subject": "PFlow: your daily summary ({count})", "digest_headline": "What happened since yesterday",
           "untitled": "(untitled)", "someone": "someone", "a_step": "a step"},
    "zh": {"greeting": "{name}\uff0c\u60a8\u597d\uff1a", "open_ticket": "\u6253\u5f00\u5de5\u5355",
           "open_task": "\u5728 PFlow \u4e2d\u6253\u5f00\u4efb\u52a1",
           "approve": "\u6279\u51c6", "reject": "\u9a73\u56de",
           "decide": "\u76f4\u63a5\u5728\u90ae\u4ef6\u4e2d\u5ba1\u6279\uff08\u4e0b\u4e00\u9875\u786e\u8ba4\uff09\uff1a",
           "links_expire": "\u8fd9\u4e9b\u94fe\u63a5\u53ea\u80fd\u4f7f\u7528\u4e00\u6b21\uff0c{days} \u5929\u540e\u5931\u6548\u3002",
           "footer": "\u6b64\u90ae\u4ef6\u7531 PFlow \u53d1\u9001\u3002\u9009\u62e9\u60a8\u8981\u63a5\u6536\u7684\u901a\u77e5\uff1a{url}",
           "digest_subject": "PFlow\uff1a\u6bcf\u65e5\u6458\u8981\uff08{count}\uff09",
           "digest_headline": "\u6628\u5929\u4ee5\u6765\u7684\u52a8\u6001",
           "untitled": "\uff08\u65e0\u6807\u9898\uff09", "someone": "\u6709\u4eba", "a_step": "\u67d0\u4e2a\u6b65\u9aa4"},
}
