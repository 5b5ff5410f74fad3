"""The app's Python logging, masked at the source.

A log record factory, not a handler filter: a filter sees only the records of the handler or
logger it is added to, while the factory makes every record of every logger (ownnumber.*,
the root, the SDKs), before any handler (stdout, the Functions worker's channel to the
host, OpenTelemetry's) formats it. The message is rendered and masked once; the traceback
text is masked into exc_text, which logging.Formatter prints instead of formatting
exc_info again.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

from shared.telemetry.masking import mask_text

_MARK = "_ownnumber_masks"


def install_log_masking() -> None:
    """Makes every log record from now on a masked one (idempotent)."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, _MARK, False):
        return

    def masked_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return mask_record(previous(*args, **kwargs))

    setattr(masked_record, _MARK, True)
    logging.setLogRecordFactory(masked_record)


def mask_record(record: logging.LogRecord) -> logging.LogRecord:
    try:
        message = record.getMessage()
    except (TypeError, ValueError):
        # Arguments that do not fit the format: logging would print a traceback of its own
        # and lose the line; keep both parts, masked, instead.
        message = f"{record.msg} {record.args}"
    record.msg = mask_text(message)
    record.args = None
    if record.exc_info and record.exc_info[1] is not None:
        record.exc_text = mask_text("".join(traceback.format_exception(*record.exc_info)))
        record.exc_text = record.exc_text.removesuffix("\n")
    if record.stack_info:
        record.stack_info = mask_text(record.stack_info)
    return record
