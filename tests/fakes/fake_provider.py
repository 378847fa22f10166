#!/usr/bin/env python3
"""A local fake of the providers fulfill's connectors talk to, for tests and benchmarks.

One HTTP server speaks the request and response shapes of:
  Stripe      POST /v1/customers/{cus}/balance_transactions, GET the same (the customer's,
              newest first; limit 1-100, starting_after, has_more), POST /v1/coupons,
              POST /v1/promotion_codes, GET /v1/promotion_codes?coupon=,
              GET|POST /v1/promotion_codes/{id} (Bearer sk_ key, form-encoded; amount a
              non-zero integer, coupon percent_off in (0, 100] with duration
              once|repeating|forever, a promotion code's coupon must exist; Idempotency-Key replays the first response; the same key with
              other parameters -> 400 idempotency_error, as Stripe answers)
  Tremendous  POST /api/v2/orders (external_id makes it idempotent; products or campaign_id
              needed), GET /api/v2/rewards/{id}
  Recurly v3  POST /accounts/code-{a}/line_items, GET the same (the account's, newest first
              unless order=asc; type, limit 1-200; has_more and "next", the next page's path
              with a cursor), POST /coupons,
              POST /accounts/code-{a}/coupon_redemptions/active (coupon_id = the coupon's id),
              GET /coupons/code-{c}, GET /accounts/code-{a}/coupon_redemptions?ids=... or
              ?sort=created_at&begin_time=... (the account's redemptions, newest first)
              (mode redeem: "discounted" > 0, as after an invoice); a maxed-out coupon's
              redemption -> 422; every request needs the v2021-02-25 Accept header and
              Basic auth (406 / 401 otherwise, as Recurly answers)
  Braintree   PUT /merchants/{m}/subscriptions/{s} (XML; a second identical discount -> 422
              with validation code 91911)
  receivers   POST /hooks/{name} (outbound webhooks and the webhook connector: answers
              {"reference": ...}; verifies Standard Webhooks signatures when a secret is set)

Control (JSON): GET /_stats, POST /_mode {...}, POST /_reset. Mode keys:
  delay_ms        answer every request after this delay
  fail_rate       answer `fail_status` (default 500) before doing anything, with this probability
  fail_after_rate do the work, then answer `fail_status` anyway (the caller must retry
                  with the same key and get the same object back)
  drop_rate       do the work, then close the connection without an answer
  fail_status     500, 429, 410, 400, ...
  fail_type, fail_code  the error's type (default api_error) and code in an injected failure
  should_retry    "true" / "false": a Stripe-Should-Retry header on every error answer
  fail_next       the next N requests fail with fail_status
  no_replay       forget idempotency keys (a retry after the provider's 24-hour key window)
  max_failures_per_id  fail_rate spares a request whose webhook-id (or Idempotency-Key)
                  has failed this many times already: retries end in a success for sure
  secret          whsec_... used to verify signatures on /hooks
  redeem          mark every promotion code / gift card as redeemed/claimed on status reads
  page_size       list pages hold at most this many objects, whatever the limit asked
Stats: requests, methods (requests by HTTP method), effects (objects created, by kind),
keys (distinct idempotency keys that
created an object), duplicates (objects created twice for one key: must stay 0), hooks
(received bodies with their webhook-id), bad_signatures.

Usage: fake_provider.py [--port N]; prints the port on stdout, then serves until killed.
"""
import base64
import hashlib
import hmac
import json
import random
import socket
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()


def fresh_state():
    return {
        "requests": 0, "methods": {}, "keys": {}, "effects": {}, "duplicates": 0, "objects": {},
        "replays": {}, "hooks": [], "hook_ids": {}, "bad_signatures": 0, "orders": {},
        "coupons": {}, "discounts": {}, "mode": {}, "failures": {}, "redeemed": {},
    }


STATE = fresh_state()
SEQ = [0]


def now_iso():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def new_id(prefix):
    with LOCK:
        SEQ[0] += 1
        return f"{prefix}_{SEQ[0]:08d}"


def verify(secret, msg_id, ts, body, sigs):
    # Standard Webhooks receivers refuse a timestamp more than 5 minutes off (replays)
    if not ts.isdigit() or abs(time.time() - int(ts)) > 300:
        return False
    key = base64.b64decode(secret[len("whsec_"):])
    mac = base64.b64encode(hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()).decode()
    return any(s.split(",", 1)[1] == mac for s in sigs.split() if s.startswith("v1,"))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes

    def log_message(self, *a):
        pass

    def send(self, status, body, ctype="application/json"):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        if status == 429:
            self.send_header("Retry-After", "1")
        with LOCK:
            should_retry = STATE["mode"].get("should_retry")
        if should_retry and status >= 400:  # Stripe's verdict on an error (docs.stripe.com/error-low-level)
            self.send_header("Stripe-Should-Retry", should_retry)
        self.end_headers()
        self.wfile.write(data)

    def drop(self):
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.close_connection = True

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_PUT(self):
        self.handle_any("PUT")

    def handle_any(self, method):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        path = urllib.parse.urlparse(self.path).path
        if path.startswith("/_"):
            return self.control(method, path, raw)
        with LOCK:
            STATE["requests"] += 1
            STATE["methods"][method] = STATE["methods"].get(method, 0) + 1
            mode = dict(STATE["mode"])
        if mode.get("delay_ms"):
            time.sleep(mode["delay_ms"] / 1000.0)
        fail_status = mode.get("fail_status", 500)
        with LOCK:
            if STATE["mode"].get("fail_next", 0) > 0:
                STATE["mode"]["fail_next"] -= 1
                forced = True
            else:
                forced = False
        ident = self.headers.get("webhook-id") or self.headers.get("Idempotency-Key")
        cap = mode.get("max_failures_per_id")
        with LOCK:
            spared = cap is not None and ident and STATE["failures"].get(ident, 0) >= cap
        if forced or (not spared and random.random() < mode.get("fail_rate", 0)):
            if ident:
                with LOCK:
                    STATE["failures"][ident] = STATE["failures"].get(ident, 0) + 1
            err = {"type": mode.get("fail_type", "api_error"), "message": "injected failure"}
            if mode.get("fail_code"):
                err["code"] = mode["fail_code"]
            return self.send(fail_status, {"error": err})
        key = self.headers.get("Idempotency-Key")
        # Stripe compares a replayed key's request with the first one's
        fingerprint = (method, path, raw) if path.startswith("/v1/") else None
        if key and not mode.get("no_replay"):
            with LOCK:
                replay = STATE["replays"].get(key)
            if replay and replay[3] != fingerprint:
                return self.send(400, {"error": {"type": "idempotency_error", "message": (
                    "Keys for idempotent requests can only be used with the same parameters they were "
                    "first used with.")}})
            if replay:
                return self.send(*replay[:3])
        status, body, ctype = self.route(method, path, raw)
        if key and 200 <= status < 300:
            with LOCK:
                STATE["replays"][key] = (status, body, ctype, fingerprint)
        if random.random() < mode.get("drop_rate", 0):
            return self.drop()
        if random.random() < mode.get("fail_after_rate", 0):
            return self.send(fail_status, {"error": {"type": "api_error", "message": "injected failure after the effect"}})
        self.send(status, body, ctype)

    def effect(self, kind, key, obj):
        with LOCK:
            STATE["effects"][kind] = STATE["effects"].get(kind, 0) + 1
            if key:
                if key in STATE["keys"]:
                    STATE["duplicates"] += 1
                STATE["keys"][key] = STATE["keys"].get(key, 0) + 1
            STATE["objects"][obj["id"]] = obj

    def route(self, method, path, raw):
        parts = [p for p in path.split("/") if p]
        form = {k: v[0] for k, v in urllib.parse.parse_qs(raw.decode(errors="replace")).items()}
        key = self.headers.get("Idempotency-Key")
        J = "application/json"
        # ---- Stripe ----
        def invalid(param, message):
            return 400, {"error": {"type": "invalid_request_error", "param": param, "message": message}}, J
        if parts[:1] == ["v1"]:
            if not self.headers.get("Authorization", "").startswith("Bearer sk_"):
                return 401, {"error": {"type": "authentication_error", "message": "bad key"}}, J
            if method == "POST" and self.headers.get("Content-Type") != "application/x-www-form-urlencoded":
                return invalid(None, "the body must be form-encoded")
        if parts[:2] == ["v1", "customers"] and len(parts) == 4 and parts[3] == "balance_transactions" and method == "POST":
            # an integer amount in minor units, not 0, and an ISO currency
            if not form.get("amount", "").lstrip("-").isdigit() or int(form["amount"]) == 0:
                return invalid("amount", "amount must be a non-zero integer")
            if len(form.get("currency", "")) != 3:
                return invalid("currency", "Invalid currency")
            if not parts[2].startswith("cus_"):
                return 404, {"error": {"type": "invalid_request_error", "code": "resource_missing", "message": "No such customer"}}, J
            obj = {"id": new_id("cbtxn"), "object": "customer_balance_transaction", "customer": parts[2],
                   "amount": int(form.get("amount", 0)), "currency": form.get("currency"),
                   "created": int(time.time()), "metadata": {"reward_id": form.get("metadata[reward_id]")}}
            self.effect("balance_transaction", key, obj)
            return 200, obj, J
        if parts[:2] == ["v1", "customers"] and len(parts) == 4 and parts[3] == "balance_transactions" and method == "GET":
            # the customer's balance transactions, newest first, a page after starting_after
            q = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
            limit = q.get("limit", ["10"])[0]
            if not limit.isdigit() or not 1 <= int(limit) <= 100:
                return invalid("limit", "limit must be an integer from 1 to 100")
            with LOCK:
                mode = STATE["mode"]
                mine = [o for o in STATE["objects"].values()
                        if o.get("object") == "customer_balance_transaction" and o["customer"] == parts[2]][::-1]
            size = min(int(limit), mode.get("page_size") or 100)
            if "starting_after" in q:
                ids = [o["id"] for o in mine]
                if q["starting_after"][0] not in ids:
                    return 400, {"error": {"type": "invalid_request_error", "code": "resource_missing",
                                           "param": "starting_after", "message": "No such object"}}, J
                mine = mine[ids.index(q["starting_after"][0]) + 1:]
            return 200, {"object": "list", "url": path, "has_more": len(mine) > size, "data": mine[:size]}, J
        if parts == ["v1", "coupons"] and method == "POST":
            if not 0 < float(form.get("percent_off", "0")) <= 100:
                return invalid("percent_off", "percent_off must be above 0 and at most 100")
            if form.get("duration") not in ("once", "repeating", "forever"):
                return invalid("duration", "Invalid duration")
            if (form.get("duration") == "repeating") != ("duration_in_months" in form):
                return invalid("duration_in_months", "duration_in_months goes with duration=repeating")
            cid = form.get("id") or new_id("coupon")
            with LOCK:
                exists = cid in STATE["coupons"]
            if exists:
                return 400, {"error": {"type": "invalid_request_error", "code": "resource_already_exists", "message": "Coupon already exists"}}, J
            obj = {"id": cid, "object": "coupon", "percent_off": float(form.get("percent_off", 0)), "duration": form.get("duration")}
            with LOCK:
                STATE["coupons"][cid] = obj
            self.effect("coupon", key, obj)
            return 200, obj, J
        if parts == ["v1", "promotion_codes"] and method == "POST":
            with LOCK:
                known = form.get("coupon") in STATE["coupons"]
            if not known:
                return 400, {"error": {"type": "invalid_request_error", "code": "resource_missing", "param": "coupon",
                                       "message": "No such coupon: '%s'" % form.get("coupon")}}, J
            obj = {"id": new_id("promo"), "object": "promotion_code", "coupon": form.get("coupon"),
                   "customer": form.get("customer"), "code": "REF" + new_id("c")[2:], "active": True, "times_redeemed": 0}
            self.effect("promotion_code", key, obj)
            return 200, obj, J
        if parts == ["v1", "promotion_codes"] and method == "GET":
            q = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
            with LOCK:
                data = [o for o in STATE["objects"].values() if o.get("object") == "promotion_code"
                        and o.get("coupon") == q.get("coupon", [None])[0]]
            return 200, {"object": "list", "url": "/v1/promotion_codes", "has_more": False,
                         "data": data[:int(q.get("limit", ["10"])[0])]}, J
        if parts[:2] == ["v1", "promotion_codes"] and len(parts) == 3:
            with LOCK:
                obj = STATE["objects"].get(parts[2])
                if obj and STATE["mode"].get("redeem"):
                    obj["times_redeemed"] = 1
                if obj and method == "POST" and form.get("active") == "false":
                    obj["active"] = False
            if not obj:
                return 404, {"error": {"type": "invalid_request_error", "message": "No such promotion code"}}, J
            return 200, obj, J
        # ---- Tremendous ----
        if parts == ["api", "v2", "orders"] and method == "POST":
            if not self.headers.get("Authorization", "").startswith("Bearer "):
                return 401, {"errors": {"message": "unauthorized"}}, J
            body = json.loads(raw or b"{}")
            rwd = body.get("reward") or {}
            if (not (body.get("payment") or {}).get("funding_source_id") or not (rwd.get("products") or rwd.get("campaign_id"))
                    or not isinstance((rwd.get("value") or {}).get("denomination"), (int, float))
                    or not (rwd.get("recipient") or {}).get("email")):
                return 400, {"errors": {"message": "Invalid order: funding source, products or campaign_id, "
                                        "value.denomination and recipient.email are needed", "payload": body}}, J
            ext = body.get("external_id")
            with LOCK:
                prev = STATE["orders"].get(ext)
            if prev:
                return 201, {"order": prev}, J
            rw = {"id": new_id("RWD"), "value": body["reward"]["value"], "recipient": body["reward"]["recipient"],
                  "delivery": {"method": "EMAIL", "status": "SCHEDULED"}}
            order = {"id": new_id("ORD"), "external_id": ext, "status": "EXECUTED", "rewards": [rw]}
            with LOCK:
                STATE["orders"][ext] = order
            self.effect("order", ext, rw)
            return 201, {"order": order}, J
        if parts[:3] == ["api", "v2", "rewards"] and len(parts) == 4:
            with LOCK:
                rw = STATE["objects"].get(parts[3])
                if rw:
                    rw["delivery"]["status"] = "SUCCEEDED"
                    if STATE["mode"].get("redeem"):
                        rw["redemption"] = {"status": "REDEEMED"}
            if not rw:
                return 404, {"errors": {"message": "not found"}}, J
            return 200, {"reward": rw}, J
        # ---- Recurly ----
        if parts[:1] in (["accounts"], ["coupons"]):
            accept = self.headers.get("Accept", "")
            if accept not in ("application/vnd.recurly.v2021-02-25", "application/vnd.recurly.v2021-02-25+json"):
                return 406, {"error": {"type": "invalid_api_version", "message": "Accept: " + accept}}, J
            if not self.headers.get("Authorization", "").startswith("Basic "):
                return 401, {"error": {"type": "unauthorized", "message": "no API key"}}, J
        if parts[:1] == ["accounts"] and len(parts) == 3 and parts[2] == "line_items" and method == "POST":
            body = json.loads(raw or b"{}")
            # LineItemCreate: currency, unit_amount (a decimal number), type; a reason
            # code only on credits
            if (len(body.get("currency") or "") != 3 or not isinstance(body.get("unit_amount"), (int, float))
                    or body.get("type") not in ("charge", "credit")
                    or ("credit_reason_code" in body and body["type"] != "credit")):
                return 422, {"error": {"type": "validation", "message": "Invalid line item",
                                       "params": [{"param": "unit_amount", "message": "is invalid"}]}}, J
            obj = dict(body, id=new_id("li"), object="line_item", account=parts[1], created_at=now_iso())
            self.effect("line_item", key, obj)
            return 201, obj, J
        if parts[:1] == ["accounts"] and len(parts) == 3 and parts[2] == "line_items" and method == "GET":
            # list_account_line_items: newest first (order=asc: oldest), type filter; a page
            # ends with has_more and "next", the path of the page after (a cursor in it)
            q = {k: v[0] for k, v in urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query).items()}
            limit = q.get("limit", "20")
            if not limit.isdigit() or not 1 <= int(limit) <= 200:
                return 400, {"error": {"type": "invalid_request", "message": "limit must be from 1 to 200"}}, J
            with LOCK:
                mode = STATE["mode"]
                mine = [o for o in STATE["objects"].values() if o.get("object") == "line_item"
                        and o["account"] == parts[1] and q.get("type") in (None, o.get("type"))]
            if q.get("order", "desc") == "desc":
                mine.reverse()
            size = min(int(limit), mode.get("page_size") or 200)
            at = int(q.get("cursor", "0"))
            more = at + size < len(mine)
            nxt = None
            if more:
                nxt = path + "?" + urllib.parse.urlencode(dict(q, cursor=str(at + size)))
            return 200, {"object": "list", "has_more": more, "next": nxt, "data": mine[at:at + size]}, J
        if parts == ["coupons"] and method == "POST":
            body = json.loads(raw or b"{}")
            if (not body.get("code") or not body.get("name") or body.get("discount_type") != "percent"
                    or not isinstance(body.get("discount_percent"), int)
                    or body.get("duration") not in ("forever", "single_use", "temporal")
                    or (body.get("duration") == "temporal") != ("temporal_unit" in body and "temporal_amount" in body)):
                return 422, {"error": {"type": "validation", "message": "Invalid coupon"}}, J
            with LOCK:
                exists = body.get("code") in STATE["coupons"]
            if exists:
                return 422, {"error": {"type": "validation", "message": "Code has already been taken"}}, J
            obj = dict(body, id=new_id("cpn"), object="coupon", state="redeemable", created_at=now_iso())
            with LOCK:
                STATE["coupons"][body.get("code")] = obj
            self.effect("recurly_coupon", key, obj)
            return 201, obj, J
        if parts[:1] == ["accounts"] and parts[2:] == ["coupon_redemptions", "active"] and method == "POST":
            body = json.loads(raw or b"{}")
            # v3 names the coupon by its id in the body (a path takes "code-<code>")
            with LOCK:
                cpn = next((c for c in STATE["coupons"].values() if "code" in c and c["id"] == body.get("coupon_id")),
                           None)
            if not cpn:
                return 404, {"error": {"type": "not_found", "message": "Couldn't find Coupon with id = %s" % body.get("coupon_id")}}, J
            if cpn.get("state") == "maxed_out":  # a single-use coupon redeemed already
                return 422, {"error": {"type": "validation", "message": "Coupon is not redeemable",
                                       "params": [{"param": "coupon_id", "message": "has reached max redemptions"}]}}, J
            obj = {"id": new_id("rdm"), "object": "coupon_redemption", "coupon": dict(cpn),
                   "account": {"code": parts[1][5:]}, "state": "active", "currency": body.get("currency"),
                   "discounted": 0, "created_at": now_iso()}
            with LOCK:
                n = STATE["redeemed"][cpn["id"]] = STATE["redeemed"].get(cpn["id"], 0) + 1
                if n >= (cpn.get("max_redemptions") or 1 << 60):
                    cpn["state"] = "maxed_out"  # as Recurly does at max_redemptions
            self.effect("coupon_redemption", key, obj)
            return 201, obj, J
        if parts[:1] == ["accounts"] and parts[2:] == ["coupon_redemptions"] and method == "GET":
            q = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
            data = []
            with LOCK:
                mine = [o for o in STATE["objects"].values()
                        if o.get("object") == "coupon_redemption" and o["account"]["code"] == parts[1][5:]]
                if "ids" in q:
                    ids = q["ids"][0].split(",")
                    mine = [o for o in mine if o["id"] in ids]
                else:  # the account's redemptions, newest first; begin_time is inclusive
                    since = q.get("begin_time", [""])[0]
                    mine = sorted((o for o in mine if o["created_at"] >= since), key=lambda o: o["created_at"],
                                  reverse=True)
                for obj in mine:
                    if STATE["mode"].get("redeem"):  # the next invoice used it
                        obj.update(discounted=4.99, state="inactive")
                    data.append(obj)
            return 200, {"object": "list", "has_more": False, "next": None, "data": data}, J
        if parts[:1] == ["coupons"] and len(parts) == 2 and method == "GET":
            code = parts[1][5:] if parts[1].startswith("code-") else parts[1]
            with LOCK:
                obj = STATE["coupons"].get(code)
            if not obj:
                return 404, {"error": {"type": "not_found", "message": "not found"}}, J
            return 200, obj, J
        # ---- Braintree ----
        if parts[:1] == ["merchants"] and len(parts) == 4 and parts[2] == "subscriptions" and method == "PUT":
            if not self.headers.get("Authorization", "").startswith("Basic "):
                return 401, b"", "application/xml"
            if self.headers.get("X-ApiVersion") != "6" or "xml" not in self.headers.get("Content-Type", ""):
                return 426, b"", "application/xml"  # Braintree: upgrade required
            text = raw.decode()
            if not text.startswith("<subscription>") or "<inherited-from-id>" not in text:
                return 422, b"<api-error-response><message>Invalid subscription</message></api-error-response>", "application/xml"
            did = text.split("<inherited-from-id>")[1].split("<")[0] if "<inherited-from-id>" in text else ""
            dkey = f"{parts[3]}/{did}"
            with LOCK:
                dup = dkey in STATE["discounts"]
                STATE["discounts"][dkey] = text
            if dup:
                # Braintree's validation error 91911 (Subscription::CannotAddDuplicateAddonOrDiscount)
                return 422, (b'<?xml version="1.0" encoding="UTF-8"?>\n<api-error-response>\n  <errors>\n'
                             b'    <subscription>\n      <errors type="array">\n        <error>\n'
                             b'          <code>91911</code>\n          <attribute type="symbol">base</attribute>\n'
                             b'          <message>Cannot add duplicate add-on or discount.</message>\n'
                             b'        </error>\n      </errors>\n    </subscription>\n  </errors>\n'
                             b'  <message>Cannot add duplicate add-on or discount.</message>\n</api-error-response>\n'), "application/xml"
            self.effect("discount", dkey, {"id": dkey})
            return 200, f"<subscription><id>{parts[3]}</id></subscription>".encode(), "application/xml"
        # ---- receivers ----
        if parts[:1] == ["hooks"] and method == "POST":
            mid = self.headers.get("webhook-id", "")
            ok = True
            secret = STATE["mode"].get("secret")
            if secret:
                ok = verify(secret, mid, self.headers.get("webhook-timestamp", ""), raw, self.headers.get("webhook-signature", ""))
            with LOCK:
                if not ok:
                    STATE["bad_signatures"] += 1
                STATE["hooks"].append({"id": mid, "path": path, "body": json.loads(raw or b"null")})
                first = mid not in STATE["hook_ids"]
                STATE["hook_ids"][mid] = STATE["hook_ids"].get(mid, 0) + 1
            if not ok:
                return 400, {"error": "bad signature"}, J
            if first:
                self.effect("hook", mid, {"id": "hook_" + mid})
            return 200, {"reference": "ext_" + mid}, J
        return 404, {"error": {"type": "invalid_request_error", "message": f"no route {method} {path}"}}, J

    def control(self, method, path, raw):
        if path == "/_stats":
            with LOCK:
                s = {k: v for k, v in STATE.items() if k not in ("replays", "objects", "orders", "coupons", "discounts", "redeemed")}
                s["distinct_keys"] = len(STATE["keys"])
            return self.send(200, s)
        if path == "/_mode":
            with LOCK:
                STATE["mode"] = json.loads(raw or b"{}")
            return self.send(200, STATE["mode"])
        if path == "/_reset":
            with LOCK:
                STATE.clear()
                STATE.update(fresh_state())
            return self.send(200, {"ok": True})
        return self.send(404, {"error": "no such control"})


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def handle_error(self, request, client_address):
        pass  # a caller killed mid-request (the kill -9 test) is expected


def main():
    port = int(sys.argv[sys.argv.index("--port") + 1]) if "--port" in sys.argv else 0
    srv = Server(("127.0.0.1", port), Handler)
    print(srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
