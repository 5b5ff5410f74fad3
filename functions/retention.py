"""Daily, on the schedule in the app setting RETENTION_SCHEDULE: delete what the privacy
registry's retention rules say is due (shared.privacy.retention)."""

import logging

import azure.functions as func

from functions._edge import services, timer_job

bp = func.Blueprint()
logger = logging.getLogger("ownnumber.retention")


# %RETENTION_SCHEDULE% is resolved by the Functions host from the app settings (as our local
# host does), so the schedule changes without a deployment. Never on start-up: every restart
# and scale-out would run it again.
@bp.timer_trigger(arg_name="timer", schedule="%RETENTION_SCHEDULE%", run_on_startup=False)
@timer_job
def retention(timer: func.TimerRequest) -> None:
    summary = services().retention.run()
    # Counts only: the summary holds no user id, number or email.
    logger.info("%s%s", summary.line(), " (run late)" if timer.past_due else "")
