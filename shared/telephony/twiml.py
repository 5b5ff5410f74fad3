"""The TwiML we answer Twilio with: dial one number for a bounded time, or say why not."""

from __future__ import annotations

from dataclasses import dataclass

from twilio.twiml.voice_response import Dial, VoiceResponse

TWIML_CONTENT_TYPE = "text/xml"
# Every status of the dialled leg, so that a call is tracked from the start, not only billed.
STATUS_EVENTS = "initiated ringing answered completed"


@dataclass(frozen=True)
class DialPlan:
    """What one <Dial> does: whom it calls, for how long at most, and where Twilio reports."""

    to_e164: str
    caller_id: str
    time_limit_seconds: int
    action_url: str
    status_callback_url: str

    def __post_init__(self) -> None:
        # Twilio rejects a timeLimit that is not a positive whole number of seconds; zero
        # would not mean "no call" but an error mid-call, so it never gets this far.
        if isinstance(self.time_limit_seconds, bool) or self.time_limit_seconds < 1:
            raise ValueError(f"timeLimit must be a positive integer, not {self.time_limit_seconds}")
        if not self.to_e164.startswith("+") or not self.to_e164[1:].isdigit():
            raise ValueError("the dialled number must be E.164")


def dial(plan: DialPlan) -> str:
    """<Dial answerOnBridge callerId timeLimit action><Number statusCallback…>+E164</Number>."""
    response = VoiceResponse()
    # answerOnBridge: the browser hears ringing, and its leg is answered only when the callee
    # answers, so the parent call's state matches what the user experiences.
    command = Dial(
        answer_on_bridge=True,
        caller_id=plan.caller_id,
        time_limit=plan.time_limit_seconds,
        action=plan.action_url,
        method="POST",
    )
    command.number(
        plan.to_e164,
        status_callback=plan.status_callback_url,
        status_callback_event=STATUS_EVENTS,
        status_callback_method="POST",
    )
    response.append(command)
    return str(response.to_xml())


def refuse(sentence: str) -> str:
    """Tell the caller why the call cannot be made, then hang up."""
    response = VoiceResponse()
    response.say(sentence)
    response.hangup()
    return str(response.to_xml())


def hang_up() -> str:
    response = VoiceResponse()
    response.hangup()
    return str(response.to_xml())


def empty() -> str:
    """An answer with nothing to do (status callbacks ignore the body anyway)."""
    return str(VoiceResponse().to_xml())
