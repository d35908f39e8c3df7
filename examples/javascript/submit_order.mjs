// An upstream system written in JavaScript: it submits one market order to fillstream the way
// docs/topics.md asks (JSON, decimals as strings, key = account_id) and prints the order's
// terminal event from order-events as one JSON line.
//
//   node submit_order.mjs <account_id> <symbol> <buy|sell> <quantity> [order_id]
//
// Settings come from the same FILLSTREAM_* variables as fillstream's own clients.
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { Kafka, logLevel } from "kafkajs";

const TERMINAL = new Set(["filled", "rejected", "cancelled", "expired"]);
const env = process.env;
const [accountId, symbol, side, quantity, orderId = randomUUID()] = process.argv.slice(2);
const prefix = env.FILLSTREAM_TOPIC_PREFIX ?? "";
const protocol = env.FILLSTREAM_KAFKA_SECURITY_PROTOCOL ?? "PLAINTEXT";

const kafka = new Kafka({
  clientId: "fillstream-example-javascript",
  brokers: (env.FILLSTREAM_KAFKA_BOOTSTRAP ?? "127.0.0.1:9092").split(","),
  logLevel: logLevel.ERROR,
  ssl: protocol.endsWith("SSL")
    ? { ca: env.FILLSTREAM_KAFKA_SSL_CA_FILE ? [readFileSync(env.FILLSTREAM_KAFKA_SSL_CA_FILE)] : undefined }
    : false,
  sasl: protocol.startsWith("SASL_")
    ? {
        mechanism: (env.FILLSTREAM_KAFKA_SASL_MECHANISM ?? "SCRAM-SHA-512").toLowerCase(),
        username: env.FILLSTREAM_KAFKA_SASL_USERNAME,
        password: env.FILLSTREAM_KAFKA_SASL_PASSWORD,
      }
    : undefined,
});

const events = `${prefix}order-events`;
const admin = kafka.admin();
const group = `example-${orderId}`;
const consumer = kafka.consumer({ groupId: group, readUncommitted: false });
const producer = kafka.producer({ idempotent: true });
await Promise.all([admin.connect(), consumer.connect(), producer.connect()]);
try {
  // Read order-events from where they end now, so the answer cannot slip past.
  const ends = await admin.fetchTopicOffsets(events);
  await consumer.subscribe({ topic: events });
  const answer = new Promise((resolve) => {
    consumer.run({
      eachMessage: async ({ message }) => {
        const event = JSON.parse(message.value.toString());
        if (event.order_id === orderId && TERMINAL.has(event.status)) resolve(event);
      },
    });
  });
  for (const { partition, offset } of ends) consumer.seek({ topic: events, partition, offset });

  const order = { order_id: orderId, account_id: accountId, symbol, side, type: "market", quantity };
  await producer.send({
    topic: `${prefix}orders`,
    acks: -1,
    messages: [{ key: accountId, value: JSON.stringify(order) }],
  });
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no terminal event for ${orderId} in 60 s`)), 60_000);
  });
  try {
    console.log(JSON.stringify(await Promise.race([answer, timeout])));
  } finally {
    clearTimeout(timer);
  }
} finally {
  await Promise.all([consumer.disconnect(), producer.disconnect()]);
  await admin.deleteGroups([group]).catch(() => {}); // the one-off group leaves nothing behind
  await admin.disconnect();
}
