"""Greetings, thanks, goodbyes and questions about the assistant itself: answered from the configured identity.

They need no search, so they never get the "I don't know" message. Only a message that is
small talk as a whole matches ("hi", "thanks!", "who are you?", "hello, what's your name and
which company do you work for?"); "hi, my Arc won't charge" is a support question and goes
to the search as usual.
"""

from __future__ import annotations

import re

from .config import ChatConfig

GREETING = r"(hi|hello|hey|hiya|howdy|good (morning|afternoon|evening)|greetings)( there)?"
THANKS = r"((ok(ay)?|great|perfect|brilliant|awesome|cool|lovely|nice)\W+)?(thanks|thank you|thx|ty|cheers|many thanks)" \
         r"( (so|very) much| a lot| for (your|the) help| for helping)?"
GOODBYE = r"(bye|goodbye|see you|see ya|that'?s all|that is all|have a (good|nice) (day|one))"
IDENTITY = (
    r"(who|what) are you|what'?s your name|what is your name|who am i (talking|speaking|chatting) (to|with)"
    r"|are you (a |an )?(bot|robot|human|person|real person|ai|machine|chatbot)"
    r"|(which|what) company (do you (work for|represent)|are you (from|with)|is this)|who do you work for"
    r"|introduce yourself|tell me about yourself|what can you (do|help( me)? with)|how can you help( me)?"
)
SEPARATOR = r"[\s,.!?;:]*"
OPENING = re.compile(rf"^\W*{GREETING}\b{SEPARATOR}", re.IGNORECASE)
KINDS = {
    "identity": re.compile(rf"^({IDENTITY})({SEPARATOR}(and|&){SEPARATOR}({IDENTITY}))*( please)?\W*$", re.IGNORECASE),
    "thanks": re.compile(rf"^({THANKS})({SEPARATOR}{GOODBYE})?\W*$", re.IGNORECASE),
    "goodbye": re.compile(rf"^{GOODBYE}\W*$", re.IGNORECASE),
}
REPLIES = {
    "identity": "I'm {assistant_name}, the customer-support assistant of {company_name}. I answer questions from our "
                "help center, with the articles I used, and I can connect you with a person from our support team. "
                "What can I help you with?",
    "greeting": "Hello! I'm {assistant_name}, the customer-support assistant of {company_name}. What can I help you with?",
    "thanks": "You're welcome! Is there anything else I can help you with?",
    "goodbye": "Thanks for contacting {company_name}. Have a good day!",
}


def small_talk_kind(message: str) -> str | None:
    """'identity', 'greeting', 'thanks' or 'goodbye' when the whole message is that; None for anything else."""
    text = message.strip()
    opened = OPENING.match(text)
    rest = text[opened.end():] if opened else text
    if opened and (not rest.strip(" \t\n.!?,;:-") or re.fullmatch(r"\w+\W*", rest.strip())):
        return "greeting"  # "hi", "hello!", "hey Kess"
    for kind, pattern in KINDS.items():
        if pattern.match(rest.strip()):
            return kind
    return None


def small_talk_reply(message: str, chat: ChatConfig) -> str | None:
    """The reply from the configured identity, or None when the message is not small talk."""
    kind = small_talk_kind(message)
    return REPLIES[kind].format(assistant_name=chat.assistant_name, company_name=chat.company_name) if kind else None
