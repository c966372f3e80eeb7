"""Customer message templates of the rules planner: plain, short, and within the book's checks.

They never name fraud, risk or a score, never quote an amount, and give the
ETA only as the applied plan's ETA. The customer's name is data from outside:
it goes in only as a plain first name (letters, with inner hyphens or
apostrophes), otherwise the greeting is "Hi there", so no name can carry
markup, a link or instructions into a message.
"""

from __future__ import annotations

import re
from datetime import datetime

TEMPLATES: dict[str, str] = {
    "delay": ("Hi {name}, your order {order} is running late. Its new estimated delivery is {eta}. "
              "We are sorry for the wait."),
    "backorder": ("Hi {name}, an item of your order {order} is temporarily out of stock. "
                  "We have reserved it from the next delivery and will ship it as soon as it arrives."),
    "cancellation": ("Hi {name}, we could not fulfil part or all of your order {order} and have cancelled it. "
                     "Any payment for it is being returned to you."),
    "verification": ("Hi {name}, before we ship your order {order} we need to confirm a few details. "
                     "Please reply to this message or contact our support team."),
    "info_request": ("Hi {name}, thank you for reporting a problem with your order {order}. "
                     "Could you send us photos of the item and its packaging so we can resolve it?"),
    "return_decision": ("Hi {name}, we have reviewed the return on your order {order}. "
                        "You can see the decision and any refund in your account."),
}


MAX_FIRST_NAME_CHARS = 40
_PLAIN_NAME = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")


def first_name(customer_name: str) -> str:
    """The first word of the name when it is a plain name, else "there"."""
    words = customer_name.split(maxsplit=1)
    first = words[0] if words else ""
    plain = len(first) <= MAX_FIRST_NAME_CHARS and _PLAIN_NAME.fullmatch(first) is not None
    return first if plain else "there"


def draft(topic: str, *, customer_name: str, order_id: str, eta: datetime | None = None) -> str:
    first = first_name(customer_name)
    when = f"{eta:%Y-%m-%d %H:%M} UTC" if eta is not None else ""
    return TEMPLATES[topic].format(name=first, order=order_id, eta=when)
