// A Node.js client of loyalty.v1 built from the repository's .proto files alone (protos/, include path -I protos):
// it runs a journey through the API (register, open a store, place, pay, refund, a dealer's queries, an
// auditor's) and decodes a google.rpc.ErrorInfo from grpc-status-details-bin with the vendored
// google/rpc protos. tests/test_node_client.py runs it against server.py and checks the JSON it prints.
"use strict";
const path = require("path");
const grpc = require("@grpc/grpc-js");
const loader = require("@grpc/proto-loader");
const protobuf = require("protobufjs");

const PROTOS = path.join(process.env.REPO_ROOT, "protos");
const address = process.env.LOYALTY_ADDRESS;
const tokens = JSON.parse(process.env.LOYALTY_TOKENS);  // role -> token
const run = process.env.RUN_ID;

const def = loader.loadSync(
  ["members", "orders", "stores", "attribution", "audit"].map((f) => `loyalty/v1/${f}.proto`),
  { keepCase: true, enums: String, longs: Number, defaults: true, includeDirs: [PROTOS] });
const v1 = grpc.loadPackageDefinition(def).loyalty.v1;
const creds = grpc.credentials.createInsecure();
const clients = {
  members: new v1.MemberService(address, creds), orders: new v1.OrderService(address, creds),
  stores: new v1.StoreService(address, creds), attribution: new v1.AttributionService(address, creds),
  audit: new v1.AuditService(address, creds),
};

// The error protos, from the repository's vendored copies (google/protobuf/* are protobufjs's own).
const root = new protobuf.Root();
root.resolvePath = (origin, target) => path.join(PROTOS, target);
root.loadSync(["google/rpc/status.proto", "google/rpc/error_details.proto", "loyalty/v1/errors.proto"]);
const Status = root.lookupType("google.rpc.Status");
const ErrorInfo = root.lookupType("google.rpc.ErrorInfo");
const ErrorReason = root.lookupEnum("loyalty.v1.ErrorReason");

function md(role) {
  const m = new grpc.Metadata();
  m.add("authorization", `Bearer ${tokens[role]}`);
  return m;
}

function unary(client, method, request, role) {
  return new Promise((resolve, reject) => {
    client[method](request, md(role), { deadline: Date.now() + 20000 }, (err, reply) => (err ? reject(err) : resolve(reply)));
  });
}

function stream(client, method, request, role) {
  return new Promise((resolve, reject) => {
    const rows = [];
    const call = client[method](request, md(role), { deadline: Date.now() + 20000 });
    call.on("data", (row) => rows.push(row));
    call.on("error", reject);
    call.on("end", () => resolve(rows));
  });
}

function errorInfo(err) {
  const [bin] = err.metadata.get("grpc-status-details-bin");
  const status = Status.decode(bin);
  const detail = status.details.find((d) => d.type_url === "type.googleapis.com/google.rpc.ErrorInfo");
  const info = ErrorInfo.decode(detail.value);
  return { code: status.code, reason: info.reason, domain: info.domain, metadata: info.metadata,
           catalogued: Object.prototype.hasOwnProperty.call(ErrorReason.values, `ERROR_REASON_${info.reason}`) };
}

function shanghaiDay(offsetDays) {
  const t = new Date(Date.now() + 8 * 3600 * 1000 + offsetDays * 86400 * 1000);
  return t.toISOString().slice(0, 10);
}

async function main() {
  const here = { latitude: 31.2305, longitude: 121.4738, system: "COORDINATE_SYSTEM_GCJ02" };
  const store = await unary(clients.stores, "OpenCloudStore", {
    request_id: `node-open-${run}`, brand: "acme", cloud_store: { spec: {
      code: `NODE-${run}`, display_name: "Node Square", dealer: "dealers/D001", location: here,
      service_radius_m: 5000, modes: ["FULFILMENT_MODE_DELIVERY", "FULFILMENT_MODE_PICKUP"],
      online_orders_enabled: true } } }, "operator");
  const member = await unary(clients.members, "RegisterMember",
    { request_id: `node-reg-${run}`, brand: "acme", member: { openid: `o-node-${run}` } }, "miniprogram");
  const order = await unary(clients.orders, "PlaceOrder", { request_id: `node-place-${run}`, order: {
    member: member.name, fulfilment: "FULFILMENT_MODE_DELIVERY", customer_location: here,
    lines: [{ sku: "LIP-01", quantity: 1, unit_price_fen: 12800 }] } }, "miniprogram");
  const paid = await unary(clients.orders, "PayOrder",
    { request_id: `node-pay-${run}`, name: order.name, paid_fen: order.total_fen }, "miniprogram");
  const refunded = await unary(clients.orders, "RefundOrder",
    { request_id: `node-refund-${run}`, name: order.name, amount_fen: 800, reason: "damaged box" }, "miniprogram");
  const attribution = await unary(clients.attribution, "GetOrderAttribution", { name: order.name }, "dealer");
  // The dealer ledger is a projection: poll (bounded) until the paid order and its refund both show in it
  // (the refund is a later event: the payment alone may be projected first).
  let revenue = [];
  for (const until = Date.now() + 15000; Date.now() < until;) {
    revenue = await stream(clients.attribution, "StreamStoreRevenue",
      { from_day: shanghaiDay(-1), to_day: shanghaiDay(1) }, "dealer");
    if (revenue.some((r) => r.store === store.name && r.revenue_fen >= 12800 && r.refunded_fen >= 800)) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const events = await stream(clients.audit, "StreamEvents", { aggregate: order.name }, "auditor");
  const state = await unary(clients.audit, "GetAggregateState", { name: order.name }, "auditor");
  let refusal = null;
  try {
    await unary(clients.members, "RedeemPoints",
      { request_id: `node-redeem-${run}`, name: member.name, points: 1000000, reference: "too-much" }, "miniprogram");
  } catch (err) {
    refusal = { grpc_code: err.code, ...errorInfo(err) };
  }
  console.log(JSON.stringify({
    store: store.name, store_status: store.status, member: member.name,
    order: { name: order.name, state: order.state, routing_store: order.routing.store, dealer: order.routing.dealer,
             steps: order.routing.attribution.map((s) => [s.source, s.outcome, s.reason]),
             place_time: order.place_time ? order.place_time.seconds : null },
    paid_state: paid.state, refunded_fen: refunded.refunded_fen, refunds: refunded.refunds.map((r) => r.reason),
    attribution: { dealer: attribution.dealer, paid_fen: attribution.paid_fen, store: attribution.store },
    revenue: revenue.filter((r) => r.store === store.name).map((r) => [r.revenue_fen, r.refunded_fen]),
    events: events.map((e) => e.topic), state_type: state.type, state_version: state.version,
    refusal,
  }));
  for (const c of Object.values(clients)) c.close();
}

main().catch((err) => { console.error(err && err.stack || err); process.exit(1); });
