"""The trading pipeline's Faust app: `fillstream worker` or `faust -A fillstream.app worker`."""

from fillstream.faust_app import create_app
from fillstream.settings import Settings

settings = Settings()
if settings.processing_guarantee == "exactly_once":
    # faust-streaming ties each transaction to one source partition; the market-data fan-out
    # writes to every partition, and those writes would sit in transactions never committed.
    raise ValueError(
        "the trading pipeline runs at_least_once (idempotent by order id and source offset); "
        "see docs/architecture.md, 'Delivery guarantees'"
    )
app = create_app(settings)

# Importing the agents registers them, with their topics and tables, on the app.
from fillstream.agents import execution, market_data, web  # noqa: E402, F401
from fillstream.api import views  # noqa: E402, F401
