#!/usr/bin/python3
"""Assertions for the Django shop e2e tests (scripts/lib/django_shop.sh): each request's
server span and its database client spans, from the OTLP receiver's decoded lines, plus the
slowest-statements section of ldtap's summary."""
import argparse
import re
import sys

from check_spans import Checker, load_spans

# What each database reports for the two failing statements.
ERROR_CODES = {
    "sqlite": {"duplicate": "19", "bad-sql": "1"},  # SQLITE_CONSTRAINT, SQLITE_ERROR
    "postgresql": {"duplicate": "23505", "bad-sql": "42601"},  # unique_violation, syntax_error
}


# A VALUES list of placeholders only, each maybe cast (psycopg2 inlines '...'::timestamptz).
PLACEHOLDER_VALUES = r"VALUES \(\?(::\w+)?(, \?(::\w+)?)*\)( RETURNING .*)?$"


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--system", required=True, choices=sorted(ERROR_CODES))
    parser.add_argument("--spans", required=True, help="the receiver's JSON lines")
    parser.add_argument("--summary", required=True, help="ldtap run's output (the summary)")
    parser.add_argument("--orders", type=int, required=True, help="orders the test created")
    parser.add_argument("--secret", required=True, help="literal that must never be exported")
    parser.add_argument("--namespace", required=True, help="expected db.namespace")
    parser.add_argument("--server-port", type=int, help="expected server.port (client-server databases)")
    parser.add_argument("--unparented", action="append", default=[],
                        help="db.query.text of a span expected without a parent (repeatable)")
    return parser.parse_args()


def queries(children, operation, collection=None):
    return [s for s in children if s.attr("db.operation.name") == operation
            and (collection is None or s.attr("db.collection.name") == collection)]


class ShopChecks:
    def __init__(self, args, c, spans):
        self.args = args
        self.c = c
        self.spans = spans
        self.servers = [s for s in spans if s.kind == "server"]
        self.db_spans = [s for s in spans if s.attr("db.system.name") is not None]

    def request(self, name):
        """The server span of the request sent with user agent e2e/NAME and its DB children,
        after the checks every request shares."""
        c = self.c
        server = c.one(self.servers, f"server span of {name}", attrs={"user_agent.original": f"e2e/{name}"})
        if server is None:
            return None, []
        children = [s for s in self.db_spans if s.parent_span_id == server.span_id]
        c.check(children, f"{name}: has database child spans", "none")
        c.equal({s.trace_id for s in children}, {server.trace_id}, f"{name}: children's trace id")
        c.equal({s.kind for s in children}, {"client"}, f"{name}: children's kind")
        c.equal({s.attr("db.system.name") for s in children}, {self.args.system}, f"{name}: db.system.name")
        c.equal({s.attr("db.namespace") for s in children}, {self.args.namespace}, f"{name}: db.namespace")
        if self.args.server_port:
            c.equal({(s.attr("server.address"), s.attr("server.port")) for s in children},
                    {("127.0.0.1", self.args.server_port)}, f"{name}: server.address and server.port")
        else:
            c.equal({s.attr("server.port") for s in children}, {None}, f"{name}: no server.port")
        c.check(all(server.start <= s.start <= s.end <= server.end for s in children),
                f"{name}: every child lies within the server span")
        # The trace holds no other database span: nothing was attributed to another parent.
        c.equal(len([s for s in self.db_spans if s.trace_id == server.trace_id]), len(children),
                f"{name}: database spans in the trace are all children of the server span")
        # Rollups: the count is exactly the children; the time is their sum.
        c.equal(server.attr("ldtap.db.query_count"), len(children), f"{name}: ldtap.db.query_count")
        total = sum(s.end - s.start for s in children) / 1e9
        duration = server.attr("ldtap.db.duration")
        c.check(isinstance(duration, float) and duration > 0, f"{name}: ldtap.db.duration > 0", duration)
        if isinstance(duration, float):
            c.check(abs(duration - total) <= 1e-6 * (len(children) + 1),
                    f"{name}: ldtap.db.duration is the children's total time", f"{duration} vs {total}")
            c.check(duration <= (server.end - server.start) / 1e9, f"{name}: ldtap.db.duration within the request")
        return server, children

    def create(self, index):
        c = self.c
        name = f"create{index}"
        server, children = self.request(name)
        if server is None:
            return
        c.attributes(server, {"http.request.method": "POST", "http.response.status_code": 201,
                              "url.path": "/orders/create/"}, name)
        orders = queries(children, "INSERT", "orders_order")
        items = queries(children, "INSERT", "orders_item")
        c.equal(len(orders), 1, f"{name}: one INSERT into orders_order")
        c.equal(len(items), 2, f"{name}: two INSERTs into orders_item")
        for span in orders + items:
            c.equal(span.name, f"INSERT {span.attr('db.collection.name')}", f"{name}: span name")
            c.check(re.search(PLACEHOLDER_VALUES, span.attr("db.query.text", "")),
                    f"{name}: INSERT values are placeholders", span.attr("db.query.text"))
        # transaction.atomic(): the inserts sit between a BEGIN and a COMMIT.
        operations = [s.attr("db.operation.name") for s in sorted(children, key=lambda s: s.start)]
        inserts = [i for i, op in enumerate(operations) if op == "INSERT"]
        c.check("BEGIN" in operations and "COMMIT" in operations and inserts
                and operations.index("BEGIN") < inserts[0] and inserts[-1] < operations.index("COMMIT"),
                f"{name}: BEGIN, the INSERTs, COMMIT in that order", operations)
        c.equal({s.status for s in children}, {"unset"}, f"{name}: no error")

    def list_view(self):
        c = self.c
        server, children = self.request("list")
        if server is None:
            return
        c.attributes(server, {"http.response.status_code": 200, "url.path": "/orders/"}, "list")
        c.equal(len(queries(children, "SELECT", "orders_order")), 1, "list: one SELECT of the orders")
        items = queries(children, "SELECT", "orders_item")
        # N+1: one items query per order, all visible under one span.
        c.equal(len(items), self.args.orders, "list: one SELECT of orders_item per order (N+1)")
        c.check(server.attr("ldtap.db.query_count", 0) >= self.args.orders + 1,
                "list: ldtap.db.query_count shows the N+1 pattern", server.attr("ldtap.db.query_count"))
        for span in items:
            c.check(span.attr("db.query.text", "").endswith('WHERE "orders_item"."order_id" = ?'),
                    "list: items query keys on a placeholder", span.attr("db.query.text"))
        c.equal(sorted(s.attr("db.response.returned_rows") for s in items), [2] * len(items),
                "list: each items query returned 2 rows")

    def detail(self):
        c = self.c
        server, children = self.request("detail")
        if server is None:
            return
        c.attributes(server, {"http.response.status_code": 200}, "detail")
        orders = queries(children, "SELECT", "orders_order")
        c.equal(len(orders), 1, "detail: one SELECT of the order")
        for span in orders:
            c.check(span.attr("db.query.text", "").endswith('WHERE "orders_order"."id" = ? LIMIT ?'),
                    "detail: order looked up by a placeholder", span.attr("db.query.text"))
            c.equal(span.attr("db.response.returned_rows"), 1, "detail: the order was found")
        c.equal(len(queries(children, "SELECT", "orders_item")), 1, "detail: one SELECT of its items")

    def missing(self):
        c = self.c
        server, children = self.request("missing")
        if server is None:
            return
        c.attributes(server, {"http.response.status_code": 404, "url.path": "/orders/999999/"}, "missing")
        orders = queries(children, "SELECT", "orders_order")
        c.equal([s.attr("db.response.returned_rows") for s in orders], [0], "missing: the SELECT found no row")
        c.equal(queries(children, "SELECT", "orders_item"), [], "missing: no items query")

    def failing(self, name, operation, expected_text):
        c = self.c
        server, children = self.request(name)
        if server is None:
            return
        code = ERROR_CODES[self.args.system][name]
        errors = [s for s in children if s.status == "error"]
        c.equal(len(errors), 1, f"{name}: exactly one database span with ERROR status")
        for span in errors:
            c.equal(span.attr("db.operation.name"), operation, f"{name}: the failing operation")
            c.check(re.fullmatch(expected_text, span.attr("db.query.text", "")),
                    f"{name}: db.query.text matches {expected_text}", span.attr("db.query.text"))
            c.equal(span.attr("db.response.status_code"), code, f"{name}: db.response.status_code")
            c.equal(span.attr("error.type"), code, f"{name}: error.type")
        # The request itself handled the error: its span is not an error (4xx on a server).
        c.equal(server.status, "unset", f"{name}: server span status")

    def slow(self):
        c = self.c
        server, children = self.request("report")
        if server is None:
            return
        slow = [s for s in children if s.attr("ldtap.db.slow") is True]
        c.equal([s.attr("db.operation.name") for s in slow], ["SELECT"], "report: the slow statement is marked")

    def whole_export(self):
        c = self.c
        c.check(len(self.db_spans) > 0, "the export has database spans", 0)
        server_ids = {s.span_id for s in self.servers}
        # Django checks a connection that raised a DatabaseError (other than an integrity
        # error) with `SELECT 1` from its request_finished handler, after gunicorn has sent
        # the response: that query belongs to no request.
        orphans = sorted(s.attr("db.query.text") for s in self.db_spans if s.parent_span_id not in server_ids)
        c.equal(orphans, sorted(self.args.unparented), "database spans without a server-span parent")
        c.equal(sum(s.attr("ldtap.db.query_count", 0) for s in self.servers), len(self.db_spans) - len(orphans),
                "query counts of the server spans add up to the parented database spans")
        # No statement keeps a literal: only placeholders, identifiers and keywords.
        literals = [s.attr("db.query.text") for s in self.db_spans
                    if re.search(r"'|\b\d+\b", s.attr("db.query.text", ""))]
        c.equal(literals, [], "no db.query.text has a string or number literal")


def check_summary(c, path, args):
    text = open(path, encoding="utf-8", errors="replace").read()
    c.check("ldtap: slowest statements" in text, "summary has the slowest-statements section")
    section = text.split("ldtap: slowest statements", 1)[-1]
    rows = {}
    for line in section.splitlines()[2:]:
        match = re.match(r"^  (.{45}) *(\d+) +([\d.]+) +([\d.]+)( \*)?$", line)
        if match:
            rows[match.group(1).rstrip()] = (int(match.group(2)), match.group(5) is not None)
    c.check(rows, "summary lists statements", section[:400])

    def row(prefix):
        found = [value for key, value in rows.items() if key.startswith(prefix)]
        return found[0] if len(found) == 1 else None

    # The list's N item queries and the detail's one share one normalised statement.
    items = row('SELECT "orders_item"')
    c.equal(items and items[0], args.orders + 1, "summary: count of the items SELECT")
    inserts = row('INSERT INTO "orders_order"')
    c.equal(inserts and inserts[0], args.orders + 1, "summary: count of the orders INSERT (with the duplicate)")
    slow = [key for key, (count, marked) in rows.items() if marked]
    c.equal(len(slow), 1, "summary: one statement marked slow (*)")
    c.check(slow and slow[0].startswith(("SELECT pg_sleep", "WITH RECURSIVE")),
            "summary: the marked statement is the report's", slow)


def main():
    args = parse_arguments()
    c = Checker(f"{args.system}: spans in {args.spans}")
    spans = load_spans(args.spans)
    c.check(len(spans) > 0, "the receiver got spans", 0)
    checks = ShopChecks(args, c, spans)
    for index in range(1, args.orders + 1):
        checks.create(index)
    checks.list_view()
    checks.detail()
    checks.missing()
    checks.failing("duplicate", "INSERT", r'INSERT INTO "orders_order" \("name", "created"\) ' + PLACEHOLDER_VALUES)
    checks.failing("bad-sql", None, r"SELEC \?")
    checks.slow()
    checks.whole_export()
    check_summary(c, args.summary, args)
    for path in (args.spans, args.summary):
        data = open(path, "rb").read()
        c.check(args.secret.encode() not in data, f"the order names never appear in {path}")
    c.finish()


if __name__ == "__main__":
    main()
