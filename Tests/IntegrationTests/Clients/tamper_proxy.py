"""A man in the middle for the signed-reply test: forwards every request to an fsdfs node
unchanged and, in "tamper" mode, rewrites the replies a client would act on.

usage: tamper_proxy.py LISTEN_PORT NODE_HOST:PORT (pass|tamper|strip)

In tamper mode a successful JSON reply that names 127.0.0.1 has its first 127.0.0.1 rewritten
to 127.0.0.9 (same length, so Content-Length still holds): the redirection of a client to a
node of the attacker's choosing. In strip mode every reply loses its signature header, as if
it came from an impostor without the key. Prints "ready" once listening.
"""
import http.client
import http.server
import sys

port, upstream, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]


class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def forward(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        connection = http.client.HTTPConnection(upstream, timeout=30)
        headers = {name: value for name, value in self.headers.items() if name.lower() not in ("connection",)}
        connection.request(self.command, self.path, body=body, headers=headers)
        reply = connection.getresponse()
        data = reply.read()
        if mode == "tamper" and reply.status == 200 and b"127.0.0.1" in data:
            data = data.replace(b"127.0.0.1", b"127.0.0.9", 1)
        self.send_response_only(reply.status, reply.reason)
        for name, value in reply.getheaders():
            if mode == "strip" and name.lower() == "x-fsdfs-reply-signature":
                continue
            if name.lower() not in ("connection", "transfer-encoding", "content-length"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        connection.close()

    do_GET = do_POST = do_PUT = do_DELETE = forward

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Proxy)
print("ready", flush=True)
server.serve_forever()
