"""The trading pipeline's Faust app: `fillstream worker` or `faust -A fillstream.app worker`."""

from fillstream.faust_app import create_app
from fillstream.settings import Settings

settings = Settings()
app = create_app(settings)

# Importing the agents registers them, with their topics and tables, on the app.
from fillstream.agents import execution, market_data, web  # noqa: E402, F401
