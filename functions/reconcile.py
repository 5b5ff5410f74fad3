"""Every 15 minutes: settle, from Twilio's Calls API, the calls whose final report never came."""

import logging

import azure.functions as func

from functions._edge import services

bp = func.Blueprint()
logger = logging.getLogger("ownnumber.reconcile")


@bp.timer_trigger(arg_name="timer", schedule="0 */15 * * * *", run_on_startup=False)
def reconcile(timer: func.TimerRequest) -> None:
    deps = services()
    summary = deps.calls.reconcile(deps.twilio_calls_api)
    logger.info(
        "Reconciliation: %s overdue call(s), %s settled, %s waiting, %s failed%s",
        summary.overdue,
        summary.settled,
        summary.waiting,
        summary.failed,
        " (run late)" if timer.past_due else "",
    )
