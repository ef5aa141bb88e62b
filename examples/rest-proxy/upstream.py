#!/usr/bin/env python3
"""A tiny in-memory users API for trying examples/rest-proxy (stdlib only).

usage: python3 upstream.py [PORT]   (default 8088, on 127.0.0.1)
DELETE needs "Authorization: Bearer $API_TOKEN" (API_TOKEN defaults to "dev-token").
"""
import http.server
import json
import os
import sys
import urllib.parse

users = {"1": {"id": "1", "name": "Ada", "age": 36, "admin": True, "tags": ["math"]}}
TOKEN = os.environ.get("API_TOKEN", "dev-token")


class H(http.server.BaseHTTPRequestHandler):
    def reply(self, code, obj):
        b = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)

    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(u.query)
        if u.path == "/users":
            name = q.get("q", [""])[0].lower()
            self.reply(200, {"users": [x for x in users.values() if name in x["name"].lower()]})
        elif u.path.startswith("/users/"):
            x = users.get(urllib.parse.unquote(u.path[7:]))
            if not x:
                return self.reply(404, {"error": "no such user"})
            fields = q.get("fields", [""])[0]
            self.reply(200, {k: v for k, v in x.items() if not fields or k in fields.split(",")})
        else:
            self.reply(404, {"error": "no such route"})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        x = dict(body["user"], id=str(len(users) + 1))
        users[x["id"]] = x
        self.reply(201, x)

    def do_DELETE(self):
        if self.headers.get("Authorization") != "Bearer " + TOKEN:
            return self.reply(401, {"error": "bad token"})
        x = users.pop(urllib.parse.unquote(self.path[7:]), None)
        self.reply(200 if x else 404, {"deleted": x is not None})


port = int(sys.argv[1]) if len(sys.argv) > 1 else 8088
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
