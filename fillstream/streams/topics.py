"""The pipeline's topics: all an account touches is keyed by account_id, market data by symbol."""

from fillstream.app import app, settings
from fillstream.streams.admin import pipeline_topics

app.topic_specs.extend(pipeline_topics(settings))

instruments = app.topic(settings.topic("instruments"))
ticks = app.topic(settings.topic("ticks"))
orders = app.topic(settings.topic("orders"))
accounts = app.topic(settings.topic("accounts"))
market_data = app.topic(settings.topic("market_data"))
fills = app.topic(settings.topic("fills"))
order_events = app.topic(settings.topic("order_events"))
risk_events = app.topic(settings.topic("risk_events"))
dead_letters = app.topic(settings.topic("dead_letters"))

# One subscription for the execution agent: co-partitioned, so partition p of each is one unit.
account_inputs = app.topic(
    orders.get_topic_name(), accounts.get_topic_name(), market_data.get_topic_name()
)
# The market router reads instruments and ticks together: both keyed by symbol.
symbol_inputs = app.topic(instruments.get_topic_name(), ticks.get_topic_name())
