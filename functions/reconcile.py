"""Every 15 minutes: settle, from Twilio's Calls API, the calls whose final report never came."""

import logging
from datetime import timedelta

import azure.functions as func

from functions._edge import services, timer_job

bp = func.Blueprint()
logger = logging.getLogger("ownnumber.reconcile")


@bp.timer_trigger(arg_name="timer", schedule="0 */15 * * * *", run_on_startup=False)
@timer_job
def reconcile(timer: func.TimerRequest) -> None:
    from shared.calling.reconciliation import reconcile as reconcile_calls

    deps = services()
    grace = timedelta(seconds=deps.settings.calling.reconcile_grace_seconds)
    summary = reconcile_calls(deps.calls, deps.twilio_calls_api, grace)
    logger.info(
        "Reconciliation: %s call(s) due, %s settled, %s waiting, %s failed, %s cleared%s",
        summary.due,
        summary.settled,
        summary.waiting,
        summary.failed,
        summary.cleared,
        " (run late)" if timer.past_due else "",
    )
