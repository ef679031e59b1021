"""The email a notification becomes: a plain-text and an HTML part, safe headers.

Every outside value (titles come from media servers and people) is escaped in the HTML part and
has its line breaks removed in headers, so nothing in a title can add a header or markup. The
link becomes a button only when it is an ``http(s)`` URL; the picture is shown only from an
``https`` URL.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formataddr, formatdate

from medianest.sdk import Notification
from medianest_notify.const import EVENT_HEADER, USER_AGENT

_SUBJECT_LIMIT = 200


def _one_line(text: str) -> str:
    return " ".join(text.split())


def message_id(delivery_id: str, sender: str) -> str:
    """The ``Message-ID``: the delivery id at the sender's domain, the same on every retry (so
    a mail system that saw it already can drop the copy)."""
    domain = sender.rpartition("@")[2] or "medianest.invalid"
    safe = "".join(c for c in delivery_id if c.isalnum() or c in "-._")[:64] or "delivery"
    return f"<{safe}@{domain}>"


def build_message(
    notification: Notification,
    *,
    sender: str,
    sender_name: str,
    to: Sequence[str],
    delivery_id: str,
) -> EmailMessage:
    """The message for ``to``: subject = title, a plain-text part and an HTML alternative."""
    message = EmailMessage()
    message["Subject"] = _one_line(notification.title)[:_SUBJECT_LIMIT]
    message["From"] = formataddr((_one_line(sender_name), sender))
    message["To"] = ", ".join(to)
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = message_id(delivery_id, sender)
    message["Auto-Submitted"] = "auto-generated"
    message["X-Mailer"] = USER_AGENT
    message[EVENT_HEADER] = notification.event_type
    message.set_content(text_body(notification))
    message.add_alternative(html_body(notification), subtype="html")
    return message


def _link(notification: Notification) -> str | None:
    link = notification.link
    return link if link and link.startswith(("http://", "https://")) else None


def text_body(notification: Notification) -> str:
    """The plain-text part: title, text, and the link on a line of its own."""
    lines = [notification.title, ""]
    if notification.body.strip():
        lines += [notification.body.strip(), ""]
    link = _link(notification)
    if link:
        lines += [f"Open: {link}", ""]
    lines.append("-- ")
    lines.append("Sent by MediaNest. Change what you receive in your notification settings.")
    return "\n".join(lines) + "\n"


def html_body(notification: Notification) -> str:
    """The HTML part: every outside value escaped; the link as a button."""
    title = html.escape(notification.title)
    paragraphs = "".join(
        f'<p style="margin:0 0 12px">{html.escape(p).replace(chr(10), "<br>")}</p>'
        for p in notification.body.strip().split("\n\n")
        if p.strip()
    )
    image = ""
    if notification.image and notification.image.startswith("https://"):
        image = (
            f'<p><img src="{html.escape(notification.image, quote=True)}" alt="" '
            'style="max-width:200px;border-radius:6px"></p>'
        )
    button = ""
    link = _link(notification)
    if link:
        button = (
            f'<p style="margin:20px 0"><a href="{html.escape(link, quote=True)}" '
            'style="background:#3451b2;color:#ffffff;padding:10px 18px;border-radius:6px;'
            'text-decoration:none;display:inline-block">Open in MediaNest</a></p>'
        )
    return (
        "<!DOCTYPE html>\n"
        '<html><head><meta charset="utf-8">'
        f"<title>{title}</title></head>"
        '<body style="font-family:sans-serif;color:#1b1b1f;line-height:1.5">'
        f'<h1 style="font-size:20px;margin:0 0 12px">{title}</h1>'
        f"{image}{paragraphs}{button}"
        '<p style="color:#666;font-size:12px;margin-top:24px">Sent by MediaNest. Change what '
        "you receive in your notification settings.</p>"
        "</body></html>\n"
    )
