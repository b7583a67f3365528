"""`python -m lora_trainer`: runs one worker until SIGTERM or SIGINT. On either it stops training at
the end of the current step, gives the job back (the attempt does not count) and exits 0.
Exits 2 when a setting is missing or wrong, with a message that says what to set."""

import logging
import os
import signal
import sys
import threading

from .config import ConfigError, load_config


def main() -> int:
    logging.basicConfig(
        level=os.environ.get("TRAINER_LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    try:
        config = load_config()
    except ConfigError as error:
        print(f"lora-trainer: {error}", file=sys.stderr)
        return 2
    # Imported after the settings are checked: a wrong setting is reported at once, not after the
    # seconds torch and transformers take to import.
    from .worker import Worker

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    Worker(config, stop).run_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
