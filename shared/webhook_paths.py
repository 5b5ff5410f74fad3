"""Where Twilio calls us: the routes that serve its webhooks, and the paths the TwiML and the
TwiML App name. One place, so that a renamed route cannot leave Twilio posting to nowhere."""

API_PREFIX = "/api/"

VOICE_ROUTE = "voice"
STATUS_CALLBACK_ROUTE = "call-status"
DIAL_ACTION_ROUTE = "call-status/dial-action"

VOICE_PATH = API_PREFIX + VOICE_ROUTE
STATUS_CALLBACK_PATH = API_PREFIX + STATUS_CALLBACK_ROUTE
DIAL_ACTION_PATH = API_PREFIX + DIAL_ACTION_ROUTE
